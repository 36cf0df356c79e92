#include "provisioning/user_life.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <cstdlib>
#include <set>

#include "http_fetch.h"  // realm_auth::url_escape
#include "provisioning/user_provisioning.h"
#include "provisioning/validation.h"
#include "util/random.h"

namespace realm_sidecar {

namespace {

Outcome from_kc(const KcResponse& r, const std::string& what) {
  int status = http_status_for(r.error);
  return fail(status,
              status == 503 ? "Keycloak is unreachable (" + what + ")"
                            : "Keycloak refused " + what + " (" + kc_error_name(r.error) + ")",
              what + ": " + r.message);
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// "" when `text` is a decimal integer in lo..hi (stored in `out`).
bool parse_bounded(const std::string& text, long lo, long hi, long& out) {
  if (text.empty() || text.size() > 6) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  out = std::strtol(text.c_str(), nullptr, 10);
  return out >= lo && out <= hi;
}

bool has_control(const std::string& s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    unsigned char u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

std::vector<std::string> strings_of(const json_t* array) {
  std::vector<std::string> out;
  size_t i;
  json_t* v;
  json_array_foreach(array, i, v) {
    if (json_is_string(v)) out.emplace_back(json_string_value(v));
  }
  return out;
}

// The role list in tenant_roles() order, keeping only tenant roles.
std::vector<std::string> in_role_order(const std::vector<std::string>& names) {
  std::vector<std::string> out;
  for (const auto& r : tenant_roles()) {
    if (contains(names, r)) out.push_back(r);
  }
  return out;
}

Outcome no_user(const std::string& user_id, const TenantRow& t) {
  return fail(404, "no user '" + user_id + "' in tenant '" + t.tenant_id + "'");
}

}  // namespace

// ---- pure rules ------------------------------------------------------------

bool parse_user_query(const std::map<std::string, std::string>& query, UserQuery& out,
                      std::string& field, std::string& detail) {
  for (const auto& [name, value] : query) {
    field = name.substr(0, 64);
    if (name == "first") {
      if (!parse_bounded(value, 0, kUserFirstMax, out.first)) {
        detail = "first must be an integer from 0 to " + std::to_string(kUserFirstMax) +
                 " (default 0); narrow deeper lists with search";
        return false;
      }
    } else if (name == "max") {
      if (!parse_bounded(value, 1, kUserPageMax, out.max)) {
        detail = "max must be an integer from 1 to " + std::to_string(kUserPageMax) + " (default " +
                 std::to_string(kUserPageDefault) + ")";
        return false;
      }
    } else if (name == "search") {
      if (value.empty() || value.size() > kUserSearchMax || has_control(value)) {
        detail = "search must be 1 to " + std::to_string(kUserSearchMax) +
                 " bytes without control characters";
        return false;
      }
      out.search = value;
    } else if (name == "username") {
      std::string why = check_username(value);
      if (!why.empty()) {
        detail = why;
        return false;
      }
      out.username = value;
    } else {
      detail = "unknown query parameter '" + field + "'; allowed: first, max, search, username";
      return false;
    }
  }
  field.clear();
  return true;
}

bool plausible_user_id(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
  });
}

TenantUser tenant_user_from(const json_t* rep) {
  TenantUser u;
  u.user_id = json_member_string(rep, "id");
  u.username = json_member_string(rep, "username");
  u.email = json_member_string(rep, "email");
  u.first_name = json_member_string(rep, "firstName");
  u.last_name = json_member_string(rep, "lastName");
  u.enabled = json_is_true(json_object_get(rep, "enabled"));
  const json_t* attrs = json_object_get(rep, "attributes");
  std::vector<std::string> dept = strings_of(json_object_get(attrs, "department_id"));
  if (!dept.empty()) u.department_id = dept[0];
  u.required_actions = strings_of(json_object_get(rep, "requiredActions"));
  u.created_at_ms =
      static_cast<long long>(json_integer_value(json_object_get(rep, "createdTimestamp")));
  // Keycloak marks a client's service-account user; the username prefix is
  // the fallback for representations that leave the member out.
  u.service_account = !json_member_string(rep, "serviceAccountClientId").empty() ||
                      u.username.rfind("service-account-", 0) == 0;
  return u;
}

JsonPtr tenant_user_json(const TenantUser& u, const std::string& tenant_id) {
  JsonPtr j(json_object());
  json_set(j.get(), "user_id", u.user_id);
  json_set(j.get(), "tenant_id", tenant_id);
  json_set(j.get(), "username", u.username);
  json_set(j.get(), "email", u.email);
  json_set(j.get(), "first_name", u.first_name);
  json_set(j.get(), "last_name", u.last_name);
  json_set(j.get(), "enabled", u.enabled);
  json_set(j.get(), "roles", json_string_array(u.roles));
  if (!u.department_id.empty()) json_set(j.get(), "department_id", u.department_id);
  json_set(j.get(), "required_actions", json_string_array(u.required_actions));
  json_set(j.get(), "created_at_ms", u.created_at_ms);
  if (u.service_account) json_set(j.get(), "service_account", true);
  return j;
}

bool check_user_patch(const UserPatch& p, std::string& field, std::string& detail) {
  if (!p.set_enabled && p.roles_add.empty() && p.roles_remove.empty() && !p.set_department) {
    field = "";
    detail = "nothing to change: give enabled, roles.add, roles.remove or department_id";
    return false;
  }
  struct List {
    const char* name;
    const std::vector<std::string>& roles;
  } lists[] = {{"roles.add", p.roles_add}, {"roles.remove", p.roles_remove}};
  for (const List& l : lists) {
    std::set<std::string> seen;
    for (size_t i = 0; i < l.roles.size(); i++) {
      std::string why = check_role(l.roles[i]);
      if (why.empty() && !seen.insert(l.roles[i]).second)
        why = "role '" + l.roles[i] + "' is listed twice";
      if (why.empty() && l.name == std::string("roles.remove") && contains(p.roles_add, l.roles[i]))
        why = "role '" + l.roles[i] + "' is both added and removed";
      if (!why.empty()) {
        field = std::string(l.name) + "[" + std::to_string(i) + "]";
        detail = why;
        return false;
      }
    }
  }
  if (p.set_department && !p.department_id.empty()) {
    std::string why = check_department(p.department_id);
    if (!why.empty()) {
      field = "department_id";
      detail = why;
      return false;
    }
  }
  return true;
}

std::vector<std::string> roles_after(const std::vector<std::string>& current, const UserPatch& p) {
  std::vector<std::string> all;
  for (const auto& r : current) {
    if (!contains(p.roles_remove, r)) all.push_back(r);
  }
  for (const auto& r : p.roles_add) all.push_back(r);
  return in_role_order(all);
}

JsonPtr user_changes_json(const UserChanges& c) {
  JsonPtr j(json_object());
  if (c.enabled_changed) json_set(j.get(), "enabled", c.enabled);
  if (!c.roles_added.empty()) json_set(j.get(), "roles_added", json_string_array(c.roles_added));
  if (!c.roles_removed.empty())
    json_set(j.get(), "roles_removed", json_string_array(c.roles_removed));
  if (c.department_changed) {
    JsonPtr d(json_object());
    json_set(d.get(), "from", c.department_from);
    json_set(d.get(), "to", c.department_to);
    json_set(j.get(), "department_id", std::move(d));
  }
  return j;
}

bool changes_need_revocation(const UserChanges& c) {
  return (c.enabled_changed && !c.enabled) || !c.roles_removed.empty();
}

// ---- Keycloak ----------------------------------------------------------------

std::string UserLife::user_path(const std::string& user_id) const {
  return AdminClient::segment(tenant_.realm_name) + "/users" + AdminClient::segment(user_id);
}

Outcome UserLife::read_roles(const std::string& user_id, std::vector<std::string>& roles) {
  KcResponse r = kc_.call(&who_, "GET", user_path(user_id) + "/role-mappings/realm");
  if (!r.ok()) return from_kc(r, "reading the user's realm roles");
  JsonPtr list = json_parse(r.body);
  std::vector<std::string> names;
  size_t i;
  json_t* role;
  json_array_foreach(list.get(), i, role) names.push_back(json_member_string(role, "name"));
  roles = in_role_order(names);
  return Outcome{};
}

Outcome UserLife::get(const std::string& user_id, TenantUser& out) {
  KcResponse r = kc_.call(&who_, "GET", user_path(user_id));
  if (r.error == KcError::kNotFound) return no_user(user_id, tenant_);
  if (!r.ok()) return from_kc(r, "reading the user");
  JsonPtr rep = json_parse(r.body);
  out = tenant_user_from(rep.get());
  if (out.user_id != user_id) return no_user(user_id, tenant_);
  return read_roles(user_id, out.roles);
}

Outcome UserLife::list(const UserQuery& q, std::vector<TenantUser>& out, bool& more) {
  // One more than asked: tells whether a next page exists.
  std::string path = AdminClient::segment(tenant_.realm_name) +
                     "/users?briefRepresentation=false&first=" + std::to_string(q.first) +
                     "&max=" + std::to_string(q.max + 1);
  if (!q.search.empty()) path += "&search=" + realm_auth::url_escape(q.search);
  if (!q.username.empty()) path += "&exact=true&username=" + realm_auth::url_escape(q.username);
  KcResponse r = kc_.call(&who_, "GET", path);
  if (!r.ok()) return from_kc(r, "listing users");
  JsonPtr list = json_parse(r.body);
  if (!json_is_array(list.get())) return fail(502, "Keycloak answered the user list with no list");
  more = json_array_size(list.get()) > static_cast<size_t>(q.max);
  out.clear();
  for (size_t i = 0; i < json_array_size(list.get()) && i < static_cast<size_t>(q.max); i++) {
    TenantUser u = tenant_user_from(json_array_get(list.get(), i));
    if (u.service_account || u.user_id.empty()) continue;
    Outcome o = read_roles(u.user_id, u.roles);
    if (!o.ok()) return o;
    out.push_back(std::move(u));
  }
  return Outcome{};
}

Outcome UserLife::change_roles(const std::string& user_id, const std::vector<std::string>& names,
                               bool add) {
  // Role ids: from the roles available to the user (adding) or mapped to it
  // (removing); both need only the user rights tenant-services has.
  const std::string base = user_path(user_id) + "/role-mappings/realm";
  KcResponse r = kc_.call(&who_, "GET", add ? base + "/available" : base);
  if (!r.ok()) return from_kc(r, "reading realm roles");
  JsonPtr all = json_parse(r.body);
  JsonPtr wanted(json_array());
  for (const auto& name : names) {
    size_t i;
    json_t* role;
    json_t* found = nullptr;
    json_array_foreach(all.get(), i, role) {
      if (json_member_string(role, "name") == name) found = role;
    }
    if (found == nullptr) {
      return fail(502, "realm role " + name + " is missing in " + tenant_.realm_name);
    }
    JsonPtr ref(json_object());
    json_set(ref.get(), "id", json_member_string(found, "id"));
    json_set(ref.get(), "name", name);
    json_array_append_new(wanted.get(), ref.release());
  }
  r = kc_.call(&who_, add ? "POST" : "DELETE", base, wanted.get());
  if (!r.ok()) return from_kc(r, add ? "assigning realm roles" : "removing realm roles");
  return Outcome{};
}

Outcome UserLife::move_department(const std::string& user_id, const std::string& from,
                                  const std::string& to) {
  // Group membership follows the attribute for the tenant's declared
  // departments (as at creation); undeclared ones are attribute only.
  const auto& declared = tenant_.departments;
  for (const auto* d : {&from, &to}) {
    if (d->empty() || !contains(declared, *d)) continue;
    KcResponse r = kc_.call(&who_, "GET",
                            AdminClient::segment(tenant_.realm_name) +
                                "/group-by-path/departments" + AdminClient::segment(*d));
    if (!r.ok()) return from_kc(r, "looking up group /departments/" + *d);
    JsonPtr g = json_parse(r.body);
    const std::string gid = json_member_string(g.get(), "id");
    if (gid.empty()) return fail(502, "group /departments/" + *d + " has no id");
    const bool leave = d == &from;
    r = kc_.call(&who_, leave ? "DELETE" : "PUT",
                 user_path(user_id) + "/groups" + AdminClient::segment(gid));
    if (!r.ok() && !(leave && r.error == KcError::kNotFound)) {
      return from_kc(r,
                     (leave ? "leaving group /departments/" : "joining group /departments/") + *d);
    }
  }
  return Outcome{};
}

Outcome UserLife::patch(const TenantUser& before, const UserPatch& p, UserChanges& changes,
                        TenantUser& after) {
  const std::string& id = before.user_id;
  Outcome refused = refuse_service_account(before);
  if (!refused.ok()) return refused;
  if (p.set_department && !p.department_id.empty() && !tenant_.departments.empty() &&
      !contains(tenant_.departments, p.department_id)) {
    return fail(400,
                "department_id '" + p.department_id + "' is not a department of tenant '" +
                    tenant_.tenant_id + "'",
                "", "department_id");
  }
  if (roles_after(before.roles, p).empty()) {
    return fail(400, "a user keeps at least one role; this patch would leave none", "",
                p.roles_remove.empty() ? "roles.add" : "roles.remove");
  }
  std::vector<std::string> to_add, to_remove;
  for (const auto& r : p.roles_add) {
    if (!contains(before.roles, r)) to_add.push_back(r);
  }
  for (const auto& r : p.roles_remove) {
    if (contains(before.roles, r)) to_remove.push_back(r);
  }
  const bool enable_change = p.set_enabled && p.enabled != before.enabled;
  const bool dept_change = p.set_department && p.department_id != before.department_id;

  // The full representation goes back on PUT: a partial one would clear
  // the profile attributes it leaves out.
  auto put_user = [&](bool set_enabled, bool set_dept) -> Outcome {
    KcResponse r = kc_.call(&who_, "GET", user_path(id));
    if (r.error == KcError::kNotFound) return no_user(id, tenant_);
    if (!r.ok()) return from_kc(r, "reading the user");
    JsonPtr rep = json_parse(r.body);
    if (!json_is_object(rep.get())) return fail(502, "Keycloak answered the user with no object");
    if (set_enabled) json_set(rep.get(), "enabled", p.enabled);
    if (set_dept) {
      json_t* attrs = json_object_get(rep.get(), "attributes");
      if (!json_is_object(attrs)) {
        json_object_set_new(rep.get(), "attributes", json_object());
        attrs = json_object_get(rep.get(), "attributes");
      }
      if (p.department_id.empty()) {
        json_object_del(attrs, "department_id");
      } else {
        json_set(attrs, "department_id", json_string_array({p.department_id}));
      }
    }
    r = kc_.call(&who_, "PUT", user_path(id), rep.get());
    if (!r.ok()) return from_kc(r, "updating the user");
    return Outcome{};
  };

  // Disabling first (it matters most), enabling last (after everything the
  // caller asked for is in place); roles added before removed, so a
  // failure half-way never leaves the user without a role.
  Outcome o;
  if (enable_change && !p.enabled) {
    o = put_user(true, false);
    if (!o.ok()) return o;
    changes.enabled_changed = true;
    changes.enabled = false;
  }
  if (!to_add.empty()) {
    o = change_roles(id, to_add, true);
    if (!o.ok()) return o;
    changes.roles_added = to_add;
  }
  if (!to_remove.empty()) {
    o = change_roles(id, to_remove, false);
    if (!o.ok()) return o;
    changes.roles_removed = to_remove;
  }
  if (dept_change) {
    o = put_user(false, true);
    if (o.ok()) o = move_department(id, before.department_id, p.department_id);
    if (!o.ok()) return o;
    changes.department_changed = true;
    changes.department_from = before.department_id;
    changes.department_to = p.department_id;
  }
  if (enable_change && p.enabled) {
    o = put_user(true, false);
    if (!o.ok()) return o;
    changes.enabled_changed = true;
    changes.enabled = true;
  }
  return get(id, after);
}

Outcome refuse_service_account(const TenantUser& u) {
  if (!u.service_account) return Outcome{};
  return fail(409,
              "user '" + u.user_id + "' is the service account " + u.username +
                  " (realm-sidecar's own identity in the realm): it is not disabled, changed, "
                  "deleted or given a password here; only its sessions can be revoked",
              "", "user_id");
}

Outcome UserLife::remove(const std::string& user_id) {
  KcResponse r = kc_.call(&who_, "DELETE", user_path(user_id));
  if (r.error == KcError::kNotFound) return no_user(user_id, tenant_);
  if (!r.ok()) return from_kc(r, "deleting the user");
  return Outcome{204, "", "", ""};
}

Outcome UserLife::reset_password(const std::string& user_id, std::string& password) {
  std::string pw = random_password(kTemporaryPasswordLength);
  if (pw.empty()) return fail(500, "the CSPRNG failed; the password was not reset");
  JsonPtr cred(json_object());
  json_set(cred.get(), "type", "password");
  json_set(cred.get(), "value", pw);
  // temporary=true: Keycloak adds UPDATE_PASSWORD, the password works once.
  json_set(cred.get(), "temporary", true);
  KcResponse r = kc_.call(&who_, "PUT", user_path(user_id) + "/reset-password", cred.get());
  // The request body held the password: wipe the JSON's copy too.
  json_t* v = json_object_get(cred.get(), "value");
  if (v != nullptr && json_string_length(v) > 0) {
    OPENSSL_cleanse(const_cast<char*>(json_string_value(v)), json_string_length(v));
  }
  if (!r.ok()) {
    OPENSSL_cleanse(&pw[0], pw.size());
    if (r.error == KcError::kNotFound) return no_user(user_id, tenant_);
    return from_kc(r, "setting the temporary password");
  }
  password = std::move(pw);
  return Outcome{};
}

Outcome UserLife::logout_user(const std::string& user_id) {
  KcResponse r = kc_.call(&who_, "POST", user_path(user_id) + "/logout");
  if (r.error == KcError::kNotFound) return no_user(user_id, tenant_);
  if (!r.ok()) return from_kc(r, "ending the user's sessions");
  return Outcome{};
}

Outcome UserLife::logout_all() {
  KcResponse r = kc_.call(&who_, "POST", AdminClient::segment(tenant_.realm_name) + "/logout-all");
  if (!r.ok()) return from_kc(r, "ending every session of " + tenant_.realm_name);
  return Outcome{};
}

}  // namespace realm_sidecar
