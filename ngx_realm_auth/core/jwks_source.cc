#include "jwks_source.h"

#include <openssl/rand.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <thread>

#include "http_fetch.h"
#include "jwks.h"

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
        doc_key_("jwks:" + issuer),
        lock_key_("lock:" + issuer),
        config_(config) {}

  // A stored document that still parses. `found` is false for a miss or an
  // unusable entry (which the fetch will overwrite).
  bool read(std::string& body, bool& found) {
    if (!client_.get(doc_key_, body, found)) return false;
    found = found && parses(body);
    return true;
  }

  // Without randomness there is no safe lock token: report failure so the
  // caller skips the lock dance and fetches directly.
  bool try_lock(bool& acquired) {
    acquired = false;
    if (token_.empty() && !random_token(token_)) return false;
    return client_.set_nx(lock_key_, token_, config_.lock_ttl_ms, acquired);
  }

  // Another instance holds the lock: re-read the document every
  // poll_interval_ms. Ends with `found`, with the lock taken over (the holder
  // gave up or its lock expired), or when lock_ttl_ms has passed.
  bool wait_for_holder(std::string& body, bool& found, bool& acquired) {
    const auto deadline = Clock::now() + std::chrono::milliseconds(config_.lock_ttl_ms);
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

  bool store(const std::string& body) { return client_.set(doc_key_, body, config_.ttl_ms); }

  void unlock() { client_.del_if_equals(lock_key_, token_); }

 private:
  RedisClient client_;
  const std::string doc_key_;
  const std::string lock_key_;
  const JwksSourceConfig& config_;
  std::string token_;
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

JwksFetchOutcome from_redis(std::string body) {
  JwksFetchOutcome out;
  out.status = Status::kOk;
  out.origin = JwksOrigin::kRedis;
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
    if (redis_ok && found) return from_redis(std::move(body));
  }
  if (redis_ok) redis_ok = redis.try_lock(locked);
  // A forced refetch does not wait for another holder: the stale document is
  // still in Redis and polling could not tell it from a fresh one.
  if (redis_ok && !locked && !force_http) {
    redis_ok = redis.wait_for_holder(body, found, locked);
    if (redis_ok && found) return from_redis(std::move(body));
  }

  fetch_http(issuer, config, out);
  if (redis_ok && out.status == Status::kOk) redis_ok = redis.store(out.body);
  if (locked) redis.unlock();
  if (!redis_ok) {
    out.redis_error = true;
    out.error += out.error.empty() ? "Redis unavailable" : "; Redis unavailable";
  }
  return out;
}

}  // namespace realm_auth
