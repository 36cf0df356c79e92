#include "provisioning/user_provisioning.h"

#include <openssl/crypto.h>

#include <algorithm>

#include "fault/crash_point.h"
#include "http_fetch.h"  // realm_auth::url_escape
#include "metrics/sidecar_metrics.h"
#include "util/random.h"

namespace realm_sidecar {

namespace {

Outcome from_kc(const KcResponse& r, const std::string& what) {
  int status = http_status_for(r.error);
  return fail(status,
              status == 503 ? "Keycloak is unreachable (" + what + "); no user was created"
                            : "Keycloak refused " + what + " (" + kc_error_name(r.error) + ")",
              what + ": " + r.message);
}

// ".../users/<id>" → "<id>"
std::string last_segment(const std::string& location) {
  size_t slash = location.rfind('/');
  return slash == std::string::npos ? "" : location.substr(slash + 1);
}

}  // namespace

std::string conflict_field(const std::string& message) {
  const bool username = message.find("same username") != std::string::npos;
  const bool email = message.find("same email") != std::string::npos ||
                     message.find("or email") != std::string::npos;
  if (username && !email) return "username";
  if (email && !username) return "email";
  return "";
}

JsonPtr user_representation(const NewUser& user, const TenantRow& tenant) {
  JsonPtr u(json_object());
  json_set(u.get(), "username", user.username);
  json_set(u.get(), "email", user.email);
  json_set(u.get(), "firstName", user.first_name);
  json_set(u.get(), "lastName", user.last_name);
  json_set(u.get(), "enabled", true);
  json_set(u.get(), "emailVerified", false);
  json_set(u.get(), "requiredActions", json_string_array({"UPDATE_PASSWORD"}));
  if (!user.department_id.empty()) {
    JsonPtr attrs(json_object());
    json_set(attrs.get(), "department_id", json_string_array({user.department_id}));
    json_set(u.get(), "attributes", std::move(attrs));
    const auto& d = tenant.departments;
    if (std::find(d.begin(), d.end(), user.department_id) != d.end()) {
      json_set(u.get(), "groups", json_string_array({"/departments/" + user.department_id}));
    }
  }
  return u;
}

Outcome create_tenant_user(AdminApi& kc, const ClientCredentials& who, const TenantRow& tenant,
                           const NewUser& user, CreatedUser& out, PgPool* pg,
                           const AttemptRef* attempt) {
  const std::string realm = AdminClient::segment(tenant.realm_name);
  // The attempt first: a user Keycloak makes is then always one recovery
  // can find. One connection for the whole call, as the tenant saga does.
  const bool recorded = pg != nullptr && attempt != nullptr;
  PgSession s = recorded ? pg->acquire() : PgSession(nullptr, nullptr);
  if (recorded) {
    if (!s.healthy() ||
        AttemptStore::begin_user(s, *attempt, tenant.tenant_id, user.username) != StoreStatus::kOk)
      return fail(503, "PostgreSQL is unreachable; no user was created", "begin_user");
  }
  JsonPtr rep = user_representation(user, tenant);
  KcResponse r = kc.call(&who, "POST", realm + "/users", rep.get());
  if (r.error == KcError::kConflict) {
    // Keycloak names one member even when both are taken (it checks email
    // first): the username, the user's identity, is named whenever it is
    // taken; otherwise Keycloak's message decides.
    std::string field = conflict_field(r.message);
    if (field != "username") {
      KcResponse u = kc.call(&who, "GET",
                             realm + "/users?briefRepresentation=true&exact=true&username=" +
                                 realm_auth::url_escape(user.username));
      JsonPtr list = u.ok() ? json_parse(u.body) : nullptr;
      if (json_array_size(list.get()) > 0) field = "username";
    }
    const std::string what = field == "email"      ? "email '" + user.email + "'"
                             : field == "username" ? "username '" + user.username + "'"
                                                   : "this username or email";
    return fail(409, "a user with " + what + " already exists in tenant '" + tenant.tenant_id + "'",
                r.message, field);
  }
  if (r.error == KcError::kBadRequest) {
    // Keycloak's user-profile validation (e.g. a name it does not accept).
    return fail(400, "Keycloak rejected the user: " + r.message.substr(r.message.find(' ') + 1),
                r.message);
  }
  if (!r.ok()) return from_kc(r, "creating the user");
  out.user_id = last_segment(r.location);
  if (out.user_id.empty()) return fail(502, "Keycloak did not say where the user was created");
  const std::string user_path = realm + "/users" + AdminClient::segment(out.user_id);

  auto undo = [&](Outcome o) {
    KcResponse d = kc.call(&who, "DELETE", user_path);
    metrics::saga_rollback("user", d.ok() || d.error == KcError::kNotFound);
    if (!d.ok() && d.error != KcError::kNotFound) {
      o.log += " | deleting the half-made user " + out.user_id + " failed: " + d.message;
    }
    out.user_id.clear();
    return o;
  };
  if (recorded &&
      AttemptStore::user_created(s, attempt->request_id, out.user_id) != StoreStatus::kOk)
    return undo(fail(503, "PostgreSQL is unreachable; no user was created", "user_created"));
  metrics::saga_step("user:user_created");
  crash_after("user:user_created");

  // Role mapping needs each role's id. The realm's role list needs
  // view-realm; the roles *available to this user* need only the user
  // rights tenant-services has, and are the ones that can be mapped anyway.
  if (!user.roles.empty()) {
    r = kc.call(&who, "GET", user_path + "/role-mappings/realm/available");
    if (!r.ok()) return undo(from_kc(r, "reading realm roles"));
    JsonPtr all = json_parse(r.body);
    JsonPtr wanted(json_array());
    for (const auto& name : user.roles) {
      size_t i;
      json_t* role;
      json_t* found = nullptr;
      json_array_foreach(all.get(), i, role) {
        if (json_member_string(role, "name") == name) found = role;
      }
      if (found == nullptr)
        return undo(fail(502, "realm role " + name + " is missing in " + tenant.realm_name));
      JsonPtr ref(json_object());
      json_set(ref.get(), "id", json_member_string(found, "id"));
      json_set(ref.get(), "name", name);
      json_array_append_new(wanted.get(), ref.release());
    }
    r = kc.call(&who, "POST", user_path + "/role-mappings/realm", wanted.get());
    if (!r.ok()) return undo(from_kc(r, "assigning realm roles"));
  }
  metrics::saga_step("user:roles_assigned");
  crash_after("user:roles_assigned");

  std::string password = random_password(kTemporaryPasswordLength);
  if (password.empty()) return undo(fail(500, "the CSPRNG failed; no user was created"));
  JsonPtr cred(json_object());
  json_set(cred.get(), "type", "password");
  json_set(cred.get(), "value", password);
  // temporary=true makes Keycloak demand UPDATE_PASSWORD at first login.
  json_set(cred.get(), "temporary", true);
  r = kc.call(&who, "PUT", user_path + "/reset-password", cred.get());
  if (!r.ok()) {
    OPENSSL_cleanse(&password[0], password.size());
    return undo(from_kc(r, "setting the temporary password"));
  }
  out.temporary_password = std::move(password);
  metrics::saga_step("user:password_set");
  crash_after("user:password_set");
  return Outcome{201, "", "", ""};
}

}  // namespace realm_sidecar
