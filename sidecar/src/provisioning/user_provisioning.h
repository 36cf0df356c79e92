// A user in a tenant realm, created by the realm's own tenant-services
// service account (manage-users; never the master provisioner):
//
//   POST users (profile, department_id attribute, department group,
//               requiredActions [UPDATE_PASSWORD])
//   → GET role-mappings/realm/available → POST role-mappings/realm
//     (by name → id)
//   → PUT reset-password {temporary: true} with a fresh CSPRNG password.
//
// Any failure after the POST deletes the user again, so a caller never
// gets a half-made user. With `pg`, the attempt is recorded before the POST
// and the user's id right after it (store/attempt_store.h), so that after a
// crash recovery deletes a user the caller never got
// (provisioning/crash_recovery.h). The temporary password is returned once in
// CreatedUser and is never logged, stored or audited.
#pragma once

#include <string>
#include <vector>

#include "keycloak/admin_client.h"
#include "provisioning/outcome.h"
#include "store/attempt_store.h"
#include "store/tenant_store.h"

namespace realm_sidecar {

struct NewUser {
  std::string username;
  std::string email;
  std::string first_name;
  std::string last_name;
  std::vector<std::string> roles;  // validated tenant roles
  std::string department_id;       // optional
};

struct CreatedUser {
  std::string user_id;
  std::string temporary_password;  // wipe after sending
};

constexpr size_t kTemporaryPasswordLength = 20;

// The UserRepresentation for the POST (exposed for tests).
JsonPtr user_representation(const NewUser& user, const TenantRow& tenant);

// The member a Keycloak 409 on POST users is about, from its errorMessage
// ("User exists with same username" / "… same email"): "username",
// "email", or "" when Keycloak does not say which (exposed for tests).
// create_tenant_user() also asks Keycloak whether the username is taken,
// since Keycloak names the email when both are.
std::string conflict_field(const std::string& keycloak_message);

Outcome create_tenant_user(AdminApi& kc, const ClientCredentials& who, const TenantRow& tenant,
                           const NewUser& user, CreatedUser& out, PgPool* pg = nullptr,
                           const AttemptRef* attempt = nullptr);

}  // namespace realm_sidecar
