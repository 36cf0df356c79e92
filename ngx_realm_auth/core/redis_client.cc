#include "redis_client.h"

#include <sys/time.h>

#include <cstdarg>
#include <utility>

namespace realm_auth {

namespace {

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;
using ContextPtr = std::unique_ptr<redisContext, RedisContextDeleter>;

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

// Runs one command on a connected context. Any failure (I/O, timeout, error
// reply) drops the connection and returns nullptr; the next call reconnects,
// so a Redis restart heals by itself and a half-read reply is never reused.
ReplyPtr command(ContextPtr& ctx, const char* format, ...) {
  va_list ap;
  va_start(ap, format);
  ReplyPtr reply(static_cast<redisReply*>(redisvCommand(ctx.get(), format, ap)));
  va_end(ap);
  if (!reply || reply->type == REDIS_REPLY_ERROR) {
    ctx.reset();
    return nullptr;
  }
  return reply;
}

}  // namespace

RedisClient::RedisClient(RedisEndpoint endpoint) : endpoint_(std::move(endpoint)) {}

bool RedisClient::connect() {
  if (ctx_) return true;
  timeval tv = to_timeval(endpoint_.timeout_ms);
  ctx_.reset(redisConnectWithTimeout(endpoint_.host.c_str(), endpoint_.port, tv));
  if (!ctx_ || ctx_->err != 0 || redisSetTimeout(ctx_.get(), tv) != REDIS_OK) {
    ctx_.reset();
    return false;
  }
  return true;
}

bool RedisClient::get(const std::string& key, std::string& value, bool& found) {
  const std::string k = endpoint_.prefix + key;
  if (!connect()) return false;
  ReplyPtr reply = command(ctx_, "GET %b", k.data(), k.size());
  if (!reply) return false;
  found = reply->type == REDIS_REPLY_STRING;
  if (found) value.assign(reply->str, reply->len);
  return found || reply->type == REDIS_REPLY_NIL;
}

bool RedisClient::set(const std::string& key, const std::string& value, long ttl_ms) {
  const std::string k = endpoint_.prefix + key;
  if (!connect()) return false;
  ReplyPtr reply =
      command(ctx_, "SET %b %b PX %ld", k.data(), k.size(), value.data(), value.size(), ttl_ms);
  return reply && reply->type == REDIS_REPLY_STATUS;
}

bool RedisClient::set_nx(const std::string& key, const std::string& value, long ttl_ms,
                         bool& acquired) {
  const std::string k = endpoint_.prefix + key;
  if (!connect()) return false;
  ReplyPtr reply =
      command(ctx_, "SET %b %b NX PX %ld", k.data(), k.size(), value.data(), value.size(), ttl_ms);
  if (!reply) return false;
  acquired = reply->type == REDIS_REPLY_STATUS;  // "OK"; nil when the key exists
  return acquired || reply->type == REDIS_REPLY_NIL;
}

bool RedisClient::del_if_equals(const std::string& key, const std::string& value) {
  const std::string k = endpoint_.prefix + key;
  if (!connect()) return false;
  ReplyPtr reply = command(ctx_, "EVAL %s 1 %b %b", kDelIfEquals, k.data(), k.size(), value.data(),
                           value.size());
  return reply && reply->type == REDIS_REPLY_INTEGER;
}

}  // namespace realm_auth
