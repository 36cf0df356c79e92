// Tenant state published to Redis for the nginx module, which refuses
// tokens of disabled or deleted tenants fleet-wide within seconds. The
// record, its key and its seal are core's (tenant_registry.h, redis_keys.h,
// redis_seal.h): this class only says when to write what.
//
// PostgreSQL stays the source of truth; Redis is a broadcast. A failed
// publish is reported (logged) but never undoes a lifecycle change:
// `realm-sidecar reconcile` republishes every tenant's state.
#pragma once

#include <string>

#include "redis_client.h"

namespace realm_sidecar {

class TenantStatePublisher {
 public:
  // `enabled` false: every call succeeds without touching Redis.
  TenantStatePublisher(realm_auth::RedisEndpoint endpoint, bool enabled)
      : endpoint_(std::move(endpoint)), enabled_(enabled) {}
  bool enabled() const { return enabled_; }

  // Seals and writes the tenant record of `tenant_id` with `state`
  // (active | disabled | deleted). True when disabled or written; false
  // with `error` when Redis is configured but failed.
  bool publish(const std::string& tenant_id, const std::string& state, std::string& error) const;
  // Deletes the module's shared JWKS entry for a deleted realm, so nothing
  // keeps serving its keys from the shared tier.
  bool forget_jwks(const std::string& issuer, std::string& error) const;

 private:
  realm_auth::RedisEndpoint endpoint_;
  bool enabled_;
};

}  // namespace realm_sidecar
