#include "redis_client.h"

#include <sys/time.h>

#include <cstdarg>
#include <utility>

namespace realm_auth {

namespace {

// Compare-and-delete in one round trip, atomic on the server: never removes
// a lock that expired and was taken over by another instance.
constexpr const char kDelIfEquals[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) "
    "else return 0 end";

timeval to_timeval(int ms) {
  timeval tv;
  tv.tv_sec = ms / 1000;
  tv.tv_usec = (ms % 1000) * 1000;
  return tv;
}

}  // namespace

RedisClient::RedisClient(RedisEndpoint endpoint) : endpoint_(std::move(endpoint)) {}

// Runs one command on a connected context. Any failure (I/O, timeout, error
// reply) drops the connection and returns nullptr; the next call reconnects,
// so a Redis restart heals by itself and a half-read reply is never reused.
RedisClient::ReplyPtr RedisClient::command(const char* what, const char* format, ...) {
  va_list ap;
  va_start(ap, format);
  ReplyPtr reply(static_cast<redisReply*>(redisvCommand(ctx_.get(), format, ap)));
  va_end(ap);
  if (!reply || reply->type == REDIS_REPLY_ERROR) {
    // Redis error replies name the problem ("NOPERM ...", "WRONGPASS ..."),
    // never a password or a stored value.
    error_ = std::string(what) + ": " +
             (reply ? std::string(reply->str, reply->len) : std::string(ctx_->errstr));
    ctx_.reset();
    return nullptr;
  }
  return reply;
}

bool RedisClient::connect() {
  if (ctx_) return true;
  timeval tv = to_timeval(endpoint_.timeout_ms);
  ctx_.reset(redisConnectWithTimeout(endpoint_.host.c_str(), endpoint_.port, tv));
  if (!ctx_ || ctx_->err != 0 || redisSetTimeout(ctx_.get(), tv) != REDIS_OK) {
    error_ = "connect to " + endpoint_.host + ":" + std::to_string(endpoint_.port) + ": " +
             (ctx_ ? ctx_->errstr : "out of memory");
    ctx_.reset();
    return false;
  }
  if (endpoint_.password.empty()) return true;
  const std::string& pw = endpoint_.password;
  ReplyPtr reply = endpoint_.user.empty() ? command("AUTH", "AUTH %b", pw.data(), pw.size())
                                          : command("AUTH", "AUTH %b %b", endpoint_.user.data(),
                                                    endpoint_.user.size(), pw.data(), pw.size());
  return reply != nullptr;
}

RedisRead RedisClient::get(const std::string& key, size_t max_len, std::string& value) {
  const std::string k = endpoint_.prefix + key;
  if (!connect()) return RedisRead::kError;
  // One byte more than allowed tells "too large" from "exactly max_len".
  const std::string last = std::to_string(max_len);
  ReplyPtr reply = command("GETRANGE", "GETRANGE %b 0 %s", k.data(), k.size(), last.c_str());
  // Another type under our key (a planted hash or list) is a bad value, not
  // an outage: callers must not take it for "Redis is down".
  if (!reply && error_.rfind("GETRANGE: WRONGTYPE", 0) == 0) return RedisRead::kRejected;
  if (!reply) return RedisRead::kError;
  if (reply->type != REDIS_REPLY_STRING) {
    error_ = "GETRANGE: unexpected reply";
    ctx_.reset();
    return RedisRead::kError;
  }
  if (reply->len == 0) return RedisRead::kAbsent;  // GETRANGE of a missing key is ""
  if (reply->len > max_len) {
    error_ = "value larger than " + std::to_string(max_len) + " bytes";
    return RedisRead::kRejected;
  }
  value.assign(reply->str, reply->len);
  return RedisRead::kFound;
}

RedisRead RedisClient::get_sealed(const std::string& key, size_t max_payload, OpenedValue& out,
                                  std::string& why) {
  std::string stored;
  RedisRead r = get(key, max_payload + kSealOverhead, stored);
  if (r != RedisRead::kFound) {
    if (r != RedisRead::kAbsent) why = error_;
    return r;
  }
  if (!open_value(endpoint_.seal_keys, endpoint_.prefix + key, stored, unix_ms(), out, why)) {
    return RedisRead::kRejected;
  }
  if (out.payload.size() > max_payload) {
    why = "value larger than " + std::to_string(max_payload) + " bytes";
    return RedisRead::kRejected;
  }
  return RedisRead::kFound;
}

bool RedisClient::set(const std::string& key, const std::string& value, long ttl_ms) {
  const std::string k = endpoint_.prefix + key;
  if (!connect()) return false;
  ReplyPtr reply =
      ttl_ms > 0 ? command("SET", "SET %b %b PX %ld", k.data(), k.size(), value.data(),
                           value.size(), ttl_ms)
                 : command("SET", "SET %b %b", k.data(), k.size(), value.data(), value.size());
  return reply && reply->type == REDIS_REPLY_STATUS;
}

bool RedisClient::set_sealed(const std::string& key, const std::string& payload, long ttl_ms) {
  const int64_t now = unix_ms();
  std::string sealed = seal_value(endpoint_.seal_keys, endpoint_.prefix + key, payload, now,
                                  ttl_ms > 0 ? now + ttl_ms : 0);
  if (sealed.empty()) {
    error_ = "no key to seal the value with";
    return false;
  }
  return set(key, sealed, ttl_ms);
}

bool RedisClient::set_nx(const std::string& key, const std::string& value, long ttl_ms,
                         bool& acquired) {
  const std::string k = endpoint_.prefix + key;
  if (!connect()) return false;
  ReplyPtr reply =
      command("SET", "SET %b %b NX PX %ld", k.data(), k.size(), value.data(), value.size(), ttl_ms);
  if (!reply) return false;
  acquired = reply->type == REDIS_REPLY_STATUS;  // "OK"; nil when the key exists
  return acquired || reply->type == REDIS_REPLY_NIL;
}

bool RedisClient::del_if_equals(const std::string& key, const std::string& value) {
  const std::string k = endpoint_.prefix + key;
  if (!connect()) return false;
  ReplyPtr reply = command("EVAL", "EVAL %s 1 %b %b", kDelIfEquals, k.data(), k.size(),
                           value.data(), value.size());
  return reply && reply->type == REDIS_REPLY_INTEGER;
}

bool RedisClient::del(const std::string& key) {
  const std::string k = endpoint_.prefix + key;
  if (!connect()) return false;
  ReplyPtr reply = command("DEL", "DEL %b", k.data(), k.size());
  return reply && reply->type == REDIS_REPLY_INTEGER;
}

bool RedisClient::ping() {
  if (!connect()) return false;
  ReplyPtr reply = command("PING", "PING");
  if (!reply) return false;
  if (reply->type != REDIS_REPLY_STATUS || std::string(reply->str, reply->len) != "PONG") {
    error_ = "PING: unexpected reply";
    ctx_.reset();
    return false;
  }
  return true;
}

bool RedisClient::xadd(const std::string& key, const std::string& field, const std::string& value,
                       std::string& id) {
  const std::string k = endpoint_.prefix + key;
  if (!connect()) return false;
  ReplyPtr reply = command("XADD", "XADD %b * %b %b", k.data(), k.size(), field.data(),
                           field.size(), value.data(), value.size());
  if (!reply) return false;
  if (reply->type != REDIS_REPLY_STRING) {
    error_ = "XADD: unexpected reply";
    ctx_.reset();
    return false;
  }
  id.assign(reply->str, reply->len);
  return true;
}

namespace {

// A stream entry reply: [id, [field, value, ...]]. False for any other shape.
bool read_entry(const redisReply* e, size_t max_value, RedisStreamEntry& out) {
  if (e->type != REDIS_REPLY_ARRAY || e->elements != 2) return false;
  const redisReply* id = e->element[0];
  const redisReply* kv = e->element[1];
  if (id->type != REDIS_REPLY_STRING) return false;
  out.id.assign(id->str, id->len);
  out.fields.clear();
  if (kv->type != REDIS_REPLY_ARRAY || kv->elements % 2 != 0) return false;
  for (size_t i = 0; i + 1 < kv->elements; i += 2) {
    const redisReply* f = kv->element[i];
    const redisReply* v = kv->element[i + 1];
    if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) return false;
    if (v->len > max_value) {
      out.fields.clear();  // too large: the caller sees an entry it cannot use
      return true;
    }
    out.fields.emplace_back(std::string(f->str, f->len), std::string(v->str, v->len));
  }
  return true;
}

}  // namespace

RedisRead RedisClient::xrange_after(const std::string& key, const std::string& after_id,
                                    size_t count, size_t max_value,
                                    std::vector<RedisStreamEntry>& out) {
  const std::string k = endpoint_.prefix + key;
  if (!connect()) return RedisRead::kError;
  const std::string from = "(" + after_id;
  const std::string n = std::to_string(count);
  ReplyPtr reply = command("XRANGE", "XRANGE %b %b + COUNT %s", k.data(), k.size(), from.data(),
                           from.size(), n.c_str());
  if (!reply && error_.rfind("XRANGE: WRONGTYPE", 0) == 0) return RedisRead::kRejected;
  if (!reply) return RedisRead::kError;
  if (reply->type != REDIS_REPLY_ARRAY) {
    error_ = "XRANGE: unexpected reply";
    ctx_.reset();
    return RedisRead::kError;
  }
  out.clear();
  out.reserve(reply->elements);
  for (size_t i = 0; i < reply->elements; i++) {
    RedisStreamEntry e;
    if (!read_entry(reply->element[i], max_value, e)) {
      error_ = "XRANGE: unexpected entry";
      ctx_.reset();
      return RedisRead::kError;
    }
    out.push_back(std::move(e));
  }
  return out.empty() ? RedisRead::kAbsent : RedisRead::kFound;
}

RedisRead RedisClient::xlast_id(const std::string& key, std::string& id) {
  const std::string k = endpoint_.prefix + key;
  if (!connect()) return RedisRead::kError;
  ReplyPtr reply = command("XREVRANGE", "XREVRANGE %b + - COUNT 1", k.data(), k.size());
  if (!reply && error_.rfind("XREVRANGE: WRONGTYPE", 0) == 0) return RedisRead::kRejected;
  if (!reply) return RedisRead::kError;
  RedisStreamEntry e;
  if (reply->type != REDIS_REPLY_ARRAY ||
      (reply->elements == 1 && !read_entry(reply->element[0], 0, e))) {
    error_ = "XREVRANGE: unexpected reply";
    ctx_.reset();
    return RedisRead::kError;
  }
  if (reply->elements == 0) {
    id = "0-0";
    return RedisRead::kAbsent;
  }
  id = e.id;
  return RedisRead::kFound;
}

bool RedisClient::xtrim_minid(const std::string& key, const std::string& min_id) {
  const std::string k = endpoint_.prefix + key;
  if (!connect()) return false;
  ReplyPtr reply =
      command("XTRIM", "XTRIM %b MINID %b", k.data(), k.size(), min_id.data(), min_id.size());
  return reply && reply->type == REDIS_REPLY_INTEGER;
}

}  // namespace realm_auth
