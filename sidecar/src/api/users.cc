// POST /tenants/{tenant_id}/users
#include <openssl/crypto.h>

#include <set>

#include "api/app.h"
#include "api/body.h"
#include "http/problem.h"
#include "metrics/sidecar_metrics.h"
#include "provisioning/user_provisioning.h"
#include "provisioning/validation.h"

namespace realm_sidecar {

namespace {

// Field-by-field validation; "" when fine, else sets field/detail.
bool validate(const NewUser& u, std::string& field, std::string& detail) {
  struct Check {
    const char* field;
    std::string why;
  } checks[] = {
      {"username", check_username(u.username)},
      {"email", check_email(u.email)},
      {"first_name", check_person_name(u.first_name)},
      {"last_name", check_person_name(u.last_name)},
      {"department_id", u.department_id.empty() ? "" : check_department(u.department_id)},
  };
  for (const Check& c : checks) {
    if (!c.why.empty()) {
      field = c.field;
      detail = (field == "first_name" || field == "last_name") ? field + " " + c.why : c.why;
      return false;
    }
  }
  // A user without a role can do nothing, and "roles": [] is more often a
  // mistake than a wish: refused.
  if (u.roles.empty()) {
    field = "roles";
    detail = "a user needs at least one role: tenant_admin, officer, supervisor or auditor";
    return false;
  }
  std::set<std::string> seen;
  for (size_t i = 0; i < u.roles.size(); i++) {
    std::string why = check_role(u.roles[i]);
    if (why.empty() && !seen.insert(u.roles[i]).second)
      why = "role '" + u.roles[i] + "' is listed twice";
    if (!why.empty()) {
      field = "roles[" + std::to_string(i) + "]";
      detail = why;
      return false;
    }
  }
  return true;
}

}  // namespace

HttpResponse create_user(App& app, const HttpRequest& req, const Actor& actor,
                         const std::string& id) {
  BodyReader b(req);
  NewUser u;
  if (!b.parse() ||
      !b.only({"username", "email", "first_name", "last_name", "roles", "department_id"}) ||
      !b.string("username", true, u.username) || !b.string("email", true, u.email) ||
      !b.string("first_name", true, u.first_name) || !b.string("last_name", true, u.last_name) ||
      !b.string_array("roles", true, u.roles) ||
      !b.string("department_id", false, u.department_id)) {
    return b.error();
  }
  std::string field, detail;
  if (!validate(u, field, detail)) return problem(400, detail, field, req.request_id);

  GovernedOp op{"user.create", Resource{"user", id, u.username}, "USER_CREATED"};
  return governed_call(app.governance, req, actor, op, [&]() {
    WorkResult w;
    TenantRow tenant;
    ClientCredentials who;
    Outcome o = app.saga.services_credentials(id, tenant, who);
    if (o.ok() && !u.department_id.empty() && !tenant.departments.empty()) {
      bool known = false;
      for (const auto& d : tenant.departments) known |= d == u.department_id;
      if (!known) {
        o = fail(
            400,
            "department_id '" + u.department_id + "' is not a department of tenant '" + id + "'",
            "", "department_id");
      }
    }
    CreatedUser created;
    AttemptRef attempt;
    if (o.ok() && !attempt_for(app, req, actor, attempt, w.response)) {
      if (!who.secret.empty()) OPENSSL_cleanse(&who.secret[0], who.secret.size());
      return w;
    }
    if (o.ok()) {
      o = create_tenant_user(app.keycloak, who, tenant, u, created,
                             app.lease != nullptr ? &app.pg : nullptr, &attempt);
      metrics::saga_outcome("user", o.ok() ? 201 : o.status);
      if (app.lease != nullptr) w.on_recorded = drop_attempt(app, attempt.request_id);
    }
    if (!who.secret.empty()) OPENSSL_cleanse(&who.secret[0], who.secret.size());
    if (!o.ok()) {
      w.response = outcome_problem(req, o);
      w.failure_reason = o.detail;
      return w;
    }
    JsonPtr body(json_object());
    json_set(body.get(), "user_id", created.user_id);
    json_set(body.get(), "username", u.username);
    json_set(body.get(), "tenant_id", id);
    json_set(body.get(), "realm", tenant.realm_name);
    json_set(body.get(), "roles", json_string_array(u.roles));
    if (!u.department_id.empty()) json_set(body.get(), "department_id", u.department_id);
    json_set(body.get(), "required_actions", json_string_array({"UPDATE_PASSWORD"}));
    // The only place the password ever appears: this one response.
    json_set(body.get(), "temporary_password", created.temporary_password);
    OPENSSL_cleanse(&created.temporary_password[0], created.temporary_password.size());
    w.response = json_response(201, body.get());
    w.response.headers.emplace_back("Location", "/tenants/" + id + "/users/" + created.user_id);
    // Audit: who was created with which roles; never the password.
    JsonPtr details(json_object());
    json_set(details.get(), "user_id", created.user_id);
    json_set(details.get(), "username", u.username);
    json_set(details.get(), "roles", json_string_array(u.roles));
    if (!u.department_id.empty()) json_set(details.get(), "department_id", u.department_id);
    w.details_json = json_text(details.get());
    return w;
  });
}

}  // namespace realm_sidecar
