// Every Redis key realm-auth uses, in one place. The module and realm-sidecar
// both name keys through these functions; RedisClient prepends the
// configured prefix (default "realm_auth:"). The ACLs of the local stack
// (scripts/stack/redis.sh) grant users by these patterns.
//
//   jwks:<issuer>   sealed JWKS document, PX = JWKS TTL     module, sidecar
//   lock:<issuer>   fleet fetch lock (random token), PX     module, sidecar
//   tenant:<slug>   sealed tenant record, no expiry         sidecar writes,
//                   (state for tenant_state, and the         module reads
//                   registry of auth_realm_tenant_registry)
//   revocations     stream of sealed revocation records     sidecar appends,
//                   (revocation_feed.h), trimmed by age     module reads
//   revocations:epoch  sealed feed epoch (a UUID kept in      sidecar only
//                   PostgreSQL): gone or different = Redis lost the stream,
//                   which the sidecar then rebuilds from its rows
//   dpop:<hex>      a DPoP proof's jti seen by some nginx    module only
//                   (SET NX PX until the proof is stale;
//                   <hex> = SHA-256 of thumbprint and jti)
#pragma once

#include <string>

namespace realm_auth {

inline std::string jwks_key(const std::string& issuer) { return "jwks:" + issuer; }
inline std::string lock_key(const std::string& issuer) { return "lock:" + issuer; }
inline std::string tenant_key(const std::string& slug) { return "tenant:" + slug; }
inline std::string revocations_key() { return "revocations"; }
inline std::string revocation_epoch_key() { return "revocations:epoch"; }
inline std::string dpop_jti_key(const std::string& hex) { return "dpop:" + hex; }

}  // namespace realm_auth
