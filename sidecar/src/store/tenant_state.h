// Tenant state published to Redis for the nginx module, which refuses
// tokens of disabled or deleted tenants fleet-wide within seconds:
//
//   <prefix>tenant:<slug> = <state> <incarnation start> <incarnation id>
//   (core/tenant_incarnation.h encode_tenant_record; no expiry)
//
// PostgreSQL stays the source of truth; Redis is a broadcast. A failed
// publish is reported (logged) but never undoes a lifecycle change:
// `realm-sidecar reconcile` republishes every tenant's state.
#pragma once

#include <string>

#include "tenant_incarnation.h"

namespace realm_sidecar {

struct RedisConfig {
  std::string host;  // empty = publishing disabled
  int port = 6379;
  std::string prefix = "realm_auth:";
  int timeout_ms = 200;
};

class TenantStatePublisher {
 public:
  explicit TenantStatePublisher(RedisConfig config) : config_(std::move(config)) {}
  bool enabled() const { return !config_.host.empty(); }

  // SET <prefix>tenant:<slug> <record>. True when disabled or written;
  // false with `error` when Redis is configured but failed.
  bool publish(const std::string& tenant_id, const realm_auth::TenantInfo& record,
               std::string& error) const;
  // DEL <prefix>jwks:<issuer>: the module's shared JWKS entry for a deleted
  // realm, so nothing keeps serving its keys from the shared tier.
  bool forget_jwks(const std::string& issuer, std::string& error) const;

 private:
  bool command(const char* fmt, const std::string& a, const std::string* b,
               std::string& error) const;
  RedisConfig config_;
};

}  // namespace realm_sidecar
