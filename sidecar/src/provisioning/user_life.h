// A tenant user's life after creation, in the tenant realm, as the realm's
// own tenant-services service account (manage-users, view-users,
// query-groups; never the master provisioner): read, list, change
// (enabled, realm roles, department), delete, reset the password, end the
// sessions. The realm's service account (tenant-services, the sidecar's own
// identity in the realm) is left out of lists and can be read and have its
// sessions (tokens) revoked, never be changed, deleted or given a password:
// refuse_service_account() says so (409).
//
// Pure pieces (query and patch rules, the JSON of a user) are exposed for
// the unit tests; the Keycloak calls follow the user_provisioning.h style.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "keycloak/admin_client.h"
#include "provisioning/outcome.h"
#include "store/tenant_store.h"

namespace realm_sidecar {

// ---- listing ------------------------------------------------------------

constexpr long kUserPageDefault = 20;
constexpr long kUserPageMax = 100;
constexpr long kUserFirstMax = 100000;  // deeper pages: narrow with ?search=
constexpr size_t kUserSearchMax = 100;

struct UserQuery {
  long first = 0;
  long max = kUserPageDefault;
  std::string search;    // Keycloak's substring search (username, email, names)
  std::string username;  // exact username
};

// GET …/users?first=&max=&search=&username=: true when fine, else `field`
// names the parameter and `detail` says what was expected.
bool parse_user_query(const std::map<std::string, std::string>& query, UserQuery& out,
                      std::string& field, std::string& detail);

// ---- a user as the API shows it ----------------------------------------

struct TenantUser {
  std::string user_id;
  std::string username;
  std::string email;
  std::string first_name;
  std::string last_name;
  bool enabled = false;
  std::string department_id;
  std::vector<std::string> roles;  // tenant roles only (tenant_roles())
  std::vector<std::string> required_actions;
  long long created_at_ms = 0;
  bool service_account = false;  // never shown; refused as "no user"
};

// From a Keycloak UserRepresentation (roles are read separately).
TenantUser tenant_user_from(const json_t* representation);
JsonPtr tenant_user_json(const TenantUser& u, const std::string& tenant_id);

// Path-segment rule for {user_id}: Keycloak ids are UUIDs; anything that is
// not 1..64 of [A-Za-z0-9-] can never name a user (plain 404).
bool plausible_user_id(const std::string& id);

// ---- changing a user --------------------------------------------------------

struct UserPatch {
  bool set_enabled = false;
  bool enabled = false;
  std::vector<std::string> roles_add;
  std::vector<std::string> roles_remove;
  bool set_department = false;
  std::string department_id;  // "" with set_department: leave the department
};

// Shape rules that need no Keycloak: something to change, known roles,
// none twice, none both added and removed, a valid department id.
bool check_user_patch(const UserPatch& p, std::string& field, std::string& detail);

// The roles the user holds after the patch, in tenant_roles() order.
std::vector<std::string> roles_after(const std::vector<std::string>& current, const UserPatch& p);

// What a patch actually changed (for the outcome event and the revocation).
struct UserChanges {
  bool enabled_changed = false;
  bool enabled = false;
  std::vector<std::string> roles_added;
  std::vector<std::string> roles_removed;
  bool department_changed = false;
  std::string department_from;
  std::string department_to;
  bool any() const {
    return enabled_changed || !roles_added.empty() || !roles_removed.empty() || department_changed;
  }
};
JsonPtr user_changes_json(const UserChanges& c);

// Tokens already issued to the user must stop when it is disabled or loses
// a role (CONTRACT9: a refresh then gets a token without it).
bool changes_need_revocation(const UserChanges& c);

// 409 for the realm's service account, else ok.
Outcome refuse_service_account(const TenantUser& u);

// ---- Keycloak ---------------------------------------------------------------

class UserLife {
 public:
  UserLife(AdminClient& kc, const ClientCredentials& who, const TenantRow& tenant)
      : kc_(kc), who_(who), tenant_(tenant) {}

  // 404 when absent; roles filled; service_account says what it is.
  Outcome get(const std::string& user_id, TenantUser& out);
  // One page; `more` when a next page exists.
  Outcome list(const UserQuery& q, std::vector<TenantUser>& out, bool& more);
  // Applies the patch to `before` (as read by get()); `after` is the result.
  Outcome patch(const TenantUser& before, const UserPatch& p, UserChanges& changes,
                TenantUser& after);
  Outcome remove(const std::string& user_id);
  // A fresh temporary password (UPDATE_PASSWORD required at next login);
  // the caller wipes it after answering.
  Outcome reset_password(const std::string& user_id, std::string& password);
  // Keycloak: POST users/{id}/logout (every session of the user).
  Outcome logout_user(const std::string& user_id);
  // Keycloak: POST logout-all (every session of the realm).
  Outcome logout_all();

 private:
  std::string user_path(const std::string& user_id) const;
  Outcome read_roles(const std::string& user_id, std::vector<std::string>& roles);
  Outcome change_roles(const std::string& user_id, const std::vector<std::string>& names, bool add);
  Outcome move_department(const std::string& user_id, const std::string& from,
                          const std::string& to);

  AdminClient& kc_;
  const ClientCredentials& who_;
  const TenantRow& tenant_;
};

}  // namespace realm_sidecar
