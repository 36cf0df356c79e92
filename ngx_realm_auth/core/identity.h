// The verified identity handed to upstreams: Token → actor of
// docs/IDENTITY_CONTRACT.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "flat_json.h"
#include "issuer.h"
#include "sender_binding.h"
#include "status.h"

namespace realm_auth {

struct Identity {
  std::string actor_id;            // sub
  std::string tenant_id;           // slug of the issuer's realm (never a header)
  std::string realm;               // realm name
  std::string issuer;              // verified iss
  std::vector<std::string> roles;  // realm_access.roles (+ configured clients)
  std::string username;            // preferred_username
  std::string email;               // email
  std::string department_id;       // department_id claim, optional
  int64_t exp = 0;                 // token expiry (seconds since the epoch)
  int64_t iat = 0;                 // issued at (seconds), 0 when absent: binds the token to
                                   // its tenant's incarnation (tenant_incarnation.h)
  std::string key_id;              // kid of the key that verified it: a cached identity
                                   // dies with its key when the issuer unpublishes it
  std::string session_id;          // sid, empty when absent (service accounts): names the
                                   // token in session revocation records
  Confirmation cnf;                // cnf.jkt / cnf.x5t#S256: the sender the token is bound
                                   // to, checked on every request (cache hits included)
};

// Builds the identity from verified claims. Roles come from
// realm_access.roles, then resource_access.<client>.roles for each client in
// `role_clients`, de-duplicated in order. Every value must be free of control
// bytes (they end up in HTTP headers) and roles may not contain ',' (the
// list separator): otherwise kClaimInvalid. Optional claims of the wrong type
// are kClaimInvalid too, never silently dropped.
Status extract_identity(FlatJson::Value payload, const IssuerMatch& issuer, std::string_view iss,
                        const std::vector<std::string>& role_clients, Identity& out);

// Comma-separated roles, as $realm_roles and X-Actor-Roles carry them.
std::string join_roles(const std::vector<std::string>& roles);

}  // namespace realm_auth
