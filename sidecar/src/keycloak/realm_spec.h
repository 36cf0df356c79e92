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
  bool console_password_grant = false;             // direct access grants (local/tests)
};

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
