// The tenant registry realm-sidecar keeps in Redis: `<prefix>tenant:<slug>`
// = the tenant record of tenant_incarnation.h (state, incarnation start and
// id), written on every lifecycle change. The module reads it to refuse
// tokens of disabled or deleted tenants and of earlier incarnations
// (src/tenant_state) and, with auth_realm_tenant_registry on, to refuse a
// realm the platform never created before asking Keycloak for its keys.
// Blocking: thread pool.
#pragma once

#include <string>

#include "redis_client.h"
#include "tenant_incarnation.h"

namespace realm_auth {

// The key of one tenant, without the configured prefix.
std::string tenant_key(const std::string& slug);

// The registry's record of `slug` (kAbsent when there is none); false when
// Redis did not answer.
bool read_tenant_record(RedisClient& client, const std::string& slug, TenantInfo& out);

}  // namespace realm_auth
