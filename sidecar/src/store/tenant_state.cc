#include "store/tenant_state.h"

#include "redis_keys.h"
#include "tenant_registry.h"

namespace realm_sidecar {

// A client per call: lifecycle changes are rare, and a fresh connection
// never carries a half-read reply from an earlier timeout.
bool TenantStatePublisher::publish(const std::string& tenant_id,
                                   const realm_auth::TenantRecordValue& record,
                                   std::string& error) const {
  if (!enabled_) return true;
  if (record.state == realm_auth::TenantRecord::kAbsent) {
    error = "no tenant state to publish";
    return false;
  }
  realm_auth::RedisClient client(endpoint_);
  if (realm_auth::write_tenant_record(client, tenant_id, record)) return true;
  error = "Redis: " + client.error();
  return false;
}

bool TenantStatePublisher::forget_jwks(const std::string& issuer, std::string& error) const {
  if (!enabled_) return true;
  realm_auth::RedisClient client(endpoint_);
  if (client.del(realm_auth::jwks_key(issuer))) return true;
  error = "Redis: " + client.error();
  return false;
}

}  // namespace realm_sidecar
