// A small blocking Redis client (hiredis) for the shared JWKS tier and the
// fleet-wide fetch lock. Every call has a connect/command timeout; any error
// closes the connection and returns false so callers fall back to their own
// tiers. Not thread-safe: one client per thread or per task.
#pragma once

#include <hiredis/hiredis.h>

#include <memory>
#include <string>

namespace realm_auth {

struct RedisEndpoint {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string prefix = "realm_auth:";  // prepended to every key
  int timeout_ms = 200;
};

struct RedisContextDeleter {
  void operator()(redisContext* c) const { redisFree(c); }
};

class RedisClient {
 public:
  explicit RedisClient(RedisEndpoint endpoint);

  // GET prefix+key. True when Redis answered; `found` tells if the key existed.
  bool get(const std::string& key, std::string& value, bool& found);
  // SET prefix+key value PX ttl_ms.
  bool set(const std::string& key, const std::string& value, long ttl_ms);
  // SET prefix+key value NX PX ttl_ms; `acquired` when the key was created.
  bool set_nx(const std::string& key, const std::string& value, long ttl_ms, bool& acquired);
  // Deletes prefix+key only if it still holds `value` (lock release).
  bool del_if_equals(const std::string& key, const std::string& value);

 private:
  bool connect();
  RedisEndpoint endpoint_;
  std::unique_ptr<redisContext, RedisContextDeleter> ctx_;
};

}  // namespace realm_auth
