// The dependency probes behind GET /readyz (health/readiness.h). Each keeps
// its own connection (the request pool is never borrowed: a full pool must
// not make the sidecar look down, nor a probe wait for a request's turn),
// has a short timeout of its own, and is only ever run by one round at a
// time, so each owns at most one connection to its server.
#pragma once

#include <string>

#include "governance/authorize.h"
#include "health/readiness.h"
#include "redis_client.h"

namespace realm_sidecar {

// SELECT 1 (answered within 2 s) on a dedicated connection, reopened (connect_timeout 2 s) after
// any failure.
Dependency postgres_dependency(std::string conninfo);
// GET <keycloak>/realms/master: 200 within `timeout_ms` (a hung Keycloak is
// down after it, one answering 5xx is down with that status).
Dependency keycloak_dependency(std::string keycloak_url, long timeout_ms);
// PING with the sidecar's own ACL login (its command timeout applies).
Dependency redis_dependency(realm_auth::RedisEndpoint endpoint);
// The policy service answers a probe question in the contract's shape
// (PolicyDecisionPoint::answers). `pdp` must outlive the dependency.
Dependency policy_dependency(PolicyDecisionPoint& pdp);

}  // namespace realm_sidecar
