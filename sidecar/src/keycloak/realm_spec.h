// The whole tenant realm as one RealmRepresentation, for a single
// `POST /admin/realms` (201, or 409 when it exists): roles, clients,
// mappers, groups and the user profile arrive atomically, so there is no
// half-configured realm to clean up. A PURE function of its input: no I/O,
// no clock, no randomness; unit-tested without Keycloak.
//
//   RealmSpecInput in{"demo", "Demo agency", {"finance", "ops"}};
//   JsonPtr realm = realm_representation(in);
#pragma once

#include <string>
#include <vector>

#include "util/json_helpers.h"

namespace realm_sidecar {

struct RealmSpecInput {
  std::string slug;  // validated tenant slug
  std::string display_name;
  std::vector<std::string> departments;            // → groups /departments/<dept>
  std::vector<std::string> console_redirect_uris;  // admin-console redirect URIs
  // Where Keycloak POSTs OpenID Connect back-channel logout tokens for this
  // tenant (backchannel_logout_url()); empty = admin-console gets none.
  std::string backchannel_logout_url;
  // The tenant asked for DPoP-bound tokens (POST /tenants
  // "dpop_bound_tokens"): the console client gets Keycloak's
  // dpop.bound.access.tokens, so every token it issues carries cnf.jkt and
  // token requests without a DPoP proof are refused.
  bool dpop_bound_tokens = false;
};

// Keycloak's client attribute (26.4+) requiring DPoP for the client's tokens.
constexpr const char* kDpopBoundAttribute = "dpop.bound.access.tokens";

// The access-token lifetime of tenant realms (accessTokenLifespan), and so
// the longest any of their access tokens lives: no client overrides it and
// the implicit flow (its own, longer lifespan) is off on every client.
// Revocation records are kept this long (+ skew) after the revocation.
constexpr long kAccessTokenLifespanS = 300;

// "<base>/<slug>": the sidecar's back-channel logout endpoint for a tenant,
// reached through nginx (BACKCHANNEL_LOGOUT_BASE_URL).
std::string backchannel_logout_url(const std::string& base, const std::string& slug);

// The admin-console client attributes that make Keycloak send a logout
// token with the session id to `url` whenever a session ends: what the
// realm spec sets and what reconcile brings existing clients up to.
std::vector<std::pair<std::string, std::string>> console_logout_attributes(const std::string& url);

// Client ids inside every tenant realm.
constexpr const char* kConsoleClientId = "admin-console";
constexpr const char* kServicesClientId = "tenant-services";

// The sidecar's own audience: nginx (/tenants, /audit) and the sidecar
// accept only tokens that carry it. Tenant APIs (/api/) require
// tenant-services instead, and their backends never see the caller's
// token (docs/IDENTITY_CONTRACT.md "Audiences").
constexpr const char* kSidecarAudience = "realm-sidecar";
constexpr const char* kSidecarAudienceMapperName = "audience realm-sidecar";

// "tenant-<slug>"
std::string realm_name_for(const std::string& slug);
// "<keycloak_url>/realms/tenant-<slug>": the iss of the realm's tokens.
std::string issuer_for(const std::string& keycloak_url, const std::string& slug);

JsonPtr realm_representation(const RealmSpecInput& in);

// The realm-level security settings every tenant realm has: the password
// policy and brute-force detection (docs/TENANT_REALM_STRATEGY.md,
// "Passwords and brute force"). Part of realm_representation(), and what
// reconcile puts back (a partial PUT of the realm) when a realm differs.
JsonPtr realm_security_settings();

// The admin-console protocol mapper that puts realm-sidecar into `aud`;
// also what reconcile adds to realms created before it existed.
JsonPtr sidecar_audience_mapper();

// The declarative user profile (kc.user.profile.config) of tenant realms:
// Keycloak 26's default attributes plus department_id (admins edit it,
// users only see it), so the attribute is managed and reaches tokens.
JsonPtr user_profile_config();

}  // namespace realm_sidecar
