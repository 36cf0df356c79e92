// The tenant registry realm-sidecar keeps in Redis: `<prefix>tenant:<slug>`
// = active | disabled | deleted, written on every lifecycle change. The
// module reads it to refuse tokens of disabled tenants (src/tenant_state)
// and, with auth_realm_tenant_registry on, to refuse a realm the platform
// never created before asking Keycloak for its keys. Blocking: thread pool.
#pragma once

#include <string>

#include "redis_client.h"

namespace realm_auth {

enum class TenantRecord { kActive, kDisabled, kDeleted, kAbsent };

// The key of one tenant, without the configured prefix.
std::string tenant_key(const std::string& slug);

// The registry's record of `slug`; false when Redis did not answer. A value
// other than "disabled" or "deleted" reads as active, as the sidecar only
// writes those three.
bool read_tenant_record(RedisClient& client, const std::string& slug, TenantRecord& out);

}  // namespace realm_auth
