// Tenant state published to Redis for the nginx module, which refuses
// tokens of disabled or deleted tenants, and of earlier incarnations,
// fleet-wide within seconds. The record (state and incarnation), its key
// and its seal are core's (tenant_record.h, tenant_registry.h,
// redis_keys.h, redis_seal.h): this class only says when to write what.
//
// PostgreSQL stays the source of truth; Redis is a broadcast. A failed
// publish is reported (logged) but never undoes a lifecycle change:
// `realm-sidecar reconcile` republishes every tenant's state.
#pragma once

#include <string>

#include "redis_client.h"
#include "tenant_record.h"

namespace realm_sidecar {

class TenantStatePublisher {
 public:
  // `enabled` false: every call succeeds without touching Redis.
  TenantStatePublisher(realm_auth::RedisEndpoint endpoint, bool enabled)
      : endpoint_(std::move(endpoint)), enabled_(enabled) {}
  bool enabled() const { return enabled_; }

  // Seals and writes the tenant record of `tenant_id` (state and
  // incarnation). True when disabled or written; false with `error` when
  // Redis is configured but failed.
  bool publish(const std::string& tenant_id, const realm_auth::TenantRecordValue& record,
               std::string& error) const;
  // Deletes the module's shared JWKS entry for a deleted realm, so nothing
  // keeps serving its keys from the shared tier.
  bool forget_jwks(const std::string& issuer, std::string& error) const;

 private:
  realm_auth::RedisEndpoint endpoint_;
  bool enabled_;
};

}  // namespace realm_sidecar
