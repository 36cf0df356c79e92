#include "store/tenant_state.h"

#include <hiredis/hiredis.h>

#include <memory>

#include "tenant_registry.h"

namespace realm_sidecar {

namespace {

struct RedisCtxDeleter {
  void operator()(redisContext* c) const { redisFree(c); }
};
struct RedisReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};

}  // namespace

bool TenantStatePublisher::command(const char* fmt, const std::string& a, const std::string* b,
                                   std::string& error) const {
  if (!enabled()) return true;
  timeval tv{config_.timeout_ms / 1000, (config_.timeout_ms % 1000) * 1000};
  // A connection per call: lifecycle changes are rare, and a fresh
  // connection never carries a half-read reply from an earlier timeout.
  std::unique_ptr<redisContext, RedisCtxDeleter> c(
      redisConnectWithTimeout(config_.host.c_str(), config_.port, tv));
  if (!c || c->err) {
    error = "Redis " + config_.host + ":" + std::to_string(config_.port) +
            " unreachable: " + (c ? c->errstr : "out of memory");
    return false;
  }
  redisSetTimeout(c.get(), tv);
  std::string key = config_.prefix + a;
  std::unique_ptr<redisReply, RedisReplyDeleter> r(static_cast<redisReply*>(
      b != nullptr ? redisCommand(c.get(), fmt, key.data(), key.size(), b->data(), b->size())
                   : redisCommand(c.get(), fmt, key.data(), key.size())));
  if (!r || r->type == REDIS_REPLY_ERROR) {
    error = std::string("Redis command failed: ") + (r ? r->str : c->errstr);
    return false;
  }
  return true;
}

bool TenantStatePublisher::publish(const std::string& tenant_id,
                                   const realm_auth::TenantInfo& record, std::string& error) const {
  const std::string value = realm_auth::encode_tenant_record(record);
  return command("SET %b %b", realm_auth::tenant_key(tenant_id), &value, error);
}

bool TenantStatePublisher::forget_jwks(const std::string& issuer, std::string& error) const {
  return command("DEL %b", "jwks:" + issuer, nullptr, error);
}

}  // namespace realm_sidecar
