#include "jwks_source.h"

#include <openssl/rand.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <thread>

#include "http_fetch.h"
#include "jwks.h"
#include "redis_keys.h"

namespace realm_auth {

namespace {

using Clock = std::chrono::steady_clock;

bool parses(const std::string& body) {
  std::shared_ptr<const Jwks> keys;
  return Jwks::parse(body, keys) == Status::kOk;
}

// Identifies this holder of the fleet lock, so only it can release it.
bool random_token(std::string& out) {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) return false;
  static const char kHex[] = "0123456789abcdef";
  out.clear();
  for (unsigned char b : bytes) {
    out += kHex[b >> 4];
    out += kHex[b & 0xf];
  }
  return true;
}

// The Redis side of one lookup. Every method returns false once Redis has
// failed; the caller then goes straight to HTTP.
class RedisTier {
 public:
  RedisTier(const std::string& issuer, const JwksSourceConfig& config)
      : client_(config.redis),
        doc_key_(jwks_key(issuer)),
        lock_key_(lock_key(issuer)),
        config_(config) {}

  // An authentic stored document that parses. `found` is false for a miss
  // or a rejected entry (which the fetch will overwrite).
  bool read(std::string& body, bool& found) {
    OpenedValue v;
    std::string why;
    found = false;
    RedisRead r = client_.get_sealed(doc_key_, config_.max_body, v, why);
    if (r == RedisRead::kError) return false;
    if (r == RedisRead::kFound && !parses(v.payload)) {
      r = RedisRead::kRejected;
      why = "sealed document has no usable signing key";
    }
    if (r == RedisRead::kRejected) {
      rejected_ = true;
      rejection_ = "\"" + config_.redis.prefix + doc_key_ + "\": " + why;
    }
    found = r == RedisRead::kFound;
    if (found) {
      // A copy at the end of its life (written by an instance with a longer
      // TTL than ours) is a miss: taking it would have us refresh again at
      // once, and keep a removed key alive past our TTL.
      age_ms_ = std::max(0L, static_cast<long>(unix_ms() - v.issued_ms));
      if (age_ms_ >= config_.ttl_ms) {
        found = false;
        return true;
      }
      body = std::move(v.payload);
    }
    return true;
  }
  long age_ms() const { return age_ms_; }

  // Without randomness there is no safe lock token: report failure so the
  // caller skips the lock dance and fetches directly.
  bool try_lock(bool& acquired) {
    acquired = false;
    if (token_.empty() && !random_token(token_)) return false;
    return client_.set_nx(lock_key_, token_, config_.lock_ttl_ms, acquired);
  }

  // Another instance holds the lock: re-read the document every
  // poll_interval_ms. Ends with `found`, with the lock taken over (the holder
  // gave up or its lock expired), or when lock_wait_ms has passed: a lock
  // that is never released (or planted) delays a lookup by no more.
  bool wait_for_holder(std::string& body, bool& found, bool& acquired) {
    const auto deadline = Clock::now() + std::chrono::milliseconds(config_.lock_wait_ms);
    found = acquired = false;
    while (Clock::now() < deadline) {
      std::this_thread::sleep_for(
          std::chrono::milliseconds(std::max(1L, config_.poll_interval_ms)));
      if (!read(body, found)) return false;
      if (found) return true;
      if (!try_lock(acquired)) return false;
      if (acquired) return true;
    }
    return true;
  }

  bool store(const std::string& body) { return client_.set_sealed(doc_key_, body, config_.ttl_ms); }

  void unlock() { client_.del_if_equals(lock_key_, token_); }

  void report(JwksFetchOutcome& out) const {
    out.redis_rejected = rejected_;
    out.rejection = rejection_;
  }

 private:
  RedisClient client_;
  const std::string doc_key_;
  const std::string lock_key_;
  const JwksSourceConfig& config_;
  std::string token_;
  bool rejected_ = false;
  long age_ms_ = 0;  // of the last document read
  std::string rejection_;
};

void fetch_http(const std::string& issuer, const JwksSourceConfig& config, JwksFetchOutcome& out) {
  FetchResult r = http_get(jwks_url(issuer), config.fetch_timeout_ms, config.max_body);
  out.http_status = r.http_status;  // an answer (404 for a made-up realm) is no outage
  if (!r.ok) {
    out.status = Status::kJwksUnavailable;
    out.error = "JWKS fetch failed: " + r.error;
    return;
  }
  if (!parses(r.body)) {
    out.status = Status::kJwksMalformed;
    out.error = "JWKS document has no usable signing key";
    return;
  }
  out.status = Status::kOk;
  out.origin = JwksOrigin::kHttp;
  out.body = std::move(r.body);
}

JwksFetchOutcome from_redis(std::string body, const RedisTier& redis) {
  JwksFetchOutcome out;
  redis.report(out);
  out.status = Status::kOk;
  out.origin = JwksOrigin::kRedis;
  out.age_ms = redis.age_ms();
  out.body = std::move(body);
  return out;
}

}  // namespace

JwksFetchOutcome obtain_jwks(const std::string& issuer, bool force_http,
                             const JwksSourceConfig& config) {
  JwksFetchOutcome out;
  if (!config.use_redis) {
    fetch_http(issuer, config, out);
    return out;
  }

  RedisTier redis(issuer, config);
  bool redis_ok = true;
  bool locked = false;
  std::string body;
  bool found = false;
  if (!force_http) {
    redis_ok = redis.read(body, found);
    if (redis_ok && found) return from_redis(std::move(body), redis);
  }
  if (redis_ok) redis_ok = redis.try_lock(locked);
  // A forced refetch does not wait for another holder: the stale document is
  // still in Redis and polling could not tell it from a fresh one.
  if (redis_ok && !locked && !force_http) {
    redis_ok = redis.wait_for_holder(body, found, locked);
    if (redis_ok && found) return from_redis(std::move(body), redis);
  }
  // The lock is ours, but the holder before us may have stored the keys and
  // released the lock between our read and our lock (a thread preempted
  // there for a few ms is enough): read once more, or two instances
  // refreshing the same issuer at once both fetch it.
  if (redis_ok && locked && !force_http) {
    redis_ok = redis.read(body, found);
    if (redis_ok && found) {
      redis.unlock();
      return from_redis(std::move(body), redis);
    }
  }

  fetch_http(issuer, config, out);
  if (redis_ok && out.status == Status::kOk) redis_ok = redis.store(out.body);
  if (locked) redis.unlock();
  redis.report(out);
  if (!redis_ok) {
    out.redis_error = true;
    out.error += out.error.empty() ? "Redis unavailable" : "; Redis unavailable";
  }
  return out;
}

}  // namespace realm_auth
