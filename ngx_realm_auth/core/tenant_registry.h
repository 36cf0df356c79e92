// The tenant records realm-sidecar keeps in Redis (`<prefix>tenant:<slug>`,
// redis_keys.h; text form: tenant_record.h), sealed with the fleet key
// (redis_seal.h) and written on every lifecycle change and every reconcile.
// The module reads them to refuse tokens of disabled or deleted tenants and
// of earlier incarnations (src/tenant_state, tenant_incarnation.h) and, with
// auth_realm_tenant_registry on, to refuse a realm the platform never
// created before asking Keycloak for its keys (src/tenant_gate). Blocking:
// thread pool or a sidecar thread. What a forged or missing record does:
// docs/REDIS_TRUST.md.
#pragma once

#include <string>

#include "redis_client.h"
#include "tenant_record.h"

namespace realm_auth {

// The record of `slug`: kFound with `out` (authentic, decoded), kAbsent,
// kRejected (forged, oversized, unreadable; `why` says which) or kError
// (Redis did not answer).
RedisRead read_tenant_record(RedisClient& client, const std::string& slug, TenantRecordValue& out,
                             std::string& why);
// Seals and writes the record (no expiry). False with client.error().
bool write_tenant_record(RedisClient& client, const std::string& slug, const TenantRecordValue& v);

}  // namespace realm_auth
