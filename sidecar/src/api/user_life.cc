// The user's life after POST /tenants/{id}/users:
//   GET    /tenants/{id}/users[?first=&max=&search=&username=]   user.read
//   GET    /tenants/{id}/users/{user_id}                         user.read
//   PATCH  /tenants/{id}/users/{user_id}                         user.update
//   DELETE /tenants/{id}/users/{user_id}                         user.delete
//   POST   /tenants/{id}/users/{user_id}/password:reset          user.password.reset
//   POST   /tenants/{id}/users/{user_id}/sessions:revoke         user.sessions.revoke
//   POST   /tenants/{id}/sessions:revoke                         tenant.sessions.revoke
// Each: shape checks (400, before governance) → governed_call → the work in
// the tenant realm as tenant-services → for a change that must stop tokens
// already issued, the revocation record (api/revocation_step.h) → the answer.
#include "provisioning/user_life.h"

#include <openssl/crypto.h>

#include "api/app.h"
#include "api/body.h"
#include "api/revocation_step.h"
#include "http/problem.h"

namespace realm_sidecar {

namespace {

using realm_auth::RevocationKind;

// Runs `f(UserLife&, const TenantRow&)` with the tenant's tenant-services
// credentials; the decrypted secret is wiped whatever happens.
template <typename F>
Outcome in_realm(App& app, const std::string& id, F&& f) {
  TenantRow tenant;
  ClientCredentials who;
  Outcome o = app.saga.services_credentials(id, tenant, who);
  if (o.ok()) {
    UserLife life(app.keycloak, who, tenant);
    o = f(life, tenant);
  }
  if (!who.secret.empty()) OPENSSL_cleanse(&who.secret[0], who.secret.size());
  return o;
}

WorkResult failed(const HttpRequest& req, const Outcome& o, JsonPtr details = nullptr) {
  WorkResult w;
  w.response = outcome_problem(req, o);
  w.failure_reason = o.detail + (o.log.empty() ? "" : " [" + o.log + "]");
  if (details) w.details_json = json_text(details.get());
  return w;
}

// The outcome details every user event starts with.
JsonPtr user_details(const TenantUser& u) {
  JsonPtr d(json_object());
  json_set(d.get(), "user_id", u.user_id);
  json_set(d.get(), "username", u.username);
  return d;
}

// The actor is this very user of this very tenant.
bool is_self(const Actor& actor, const std::string& tenant_id, const std::string& user_id) {
  return actor.tenant_id == tenant_id && actor.realm == "tenant-" + tenant_id &&
         actor.actor_id == user_id;
}

// A patch that disables the user or takes a role away stops its tokens. Said
// of the request, not of what changed, so that repeating a call whose
// revocation failed publishes it then.
bool patch_revokes(const UserPatch& p) {
  return (p.set_enabled && !p.enabled) || !p.roles_remove.empty();
}

// The POST actions take no parameters: no body, or an empty JSON object.
bool no_parameters(const HttpRequest& req, HttpResponse& error) {
  if (req.body.empty()) return true;
  BodyReader b(req);
  if (b.parse() && b.only({})) return true;
  error = b.error();
  return false;
}

}  // namespace

HttpResponse list_users(App& app, const HttpRequest& req, const Actor& actor,
                        const std::string& id) {
  UserQuery q;
  std::string field, detail;
  if (!parse_user_query(req.query, q, field, detail)) {
    return problem(400, detail, field, req.request_id);
  }
  GovernedOp op{"user.read", Resource{"user", id, ""}, ""};
  return governed_call(app.governance, req, actor, op, [&]() {
    std::vector<TenantUser> users;
    bool more = false;
    Outcome o = in_realm(
        app, id, [&](UserLife& life, const TenantRow&) { return life.list(q, users, more); });
    if (!o.ok()) return failed(req, o);
    JsonPtr list(json_array());
    for (const TenantUser& u : users) {
      json_array_append_new(list.get(), tenant_user_json(u, id).release());
    }
    JsonPtr body(json_object());
    json_set(body.get(), "users", std::move(list));
    json_set(body.get(), "first", static_cast<long long>(q.first));
    json_set(body.get(), "max", static_cast<long long>(q.max));
    if (more) json_set(body.get(), "next_first", static_cast<long long>(q.first + q.max));
    WorkResult w;
    w.response = json_response(200, body.get());
    return w;
  });
}

HttpResponse get_user(App& app, const HttpRequest& req, const Actor& actor, const std::string& id,
                      const std::string& user_id) {
  GovernedOp op{"user.read", Resource{"user", id, user_id}, ""};
  return governed_call(app.governance, req, actor, op, [&]() {
    TenantUser u;
    Outcome o =
        in_realm(app, id, [&](UserLife& life, const TenantRow&) { return life.get(user_id, u); });
    if (!o.ok()) return failed(req, o);
    WorkResult w;
    w.response = json_response(200, tenant_user_json(u, id).get());
    return w;
  });
}

HttpResponse patch_user(App& app, const HttpRequest& req, const Actor& actor, const std::string& id,
                        const std::string& user_id) {
  BodyReader b(req);
  UserPatch p;
  bool dept_null = false, roles = false;
  if (!b.parse() || !b.only({"enabled", "roles", "department_id"}) ||
      !b.boolean("enabled", false, p.enabled, p.set_enabled) ||
      !b.object("roles", {"add", "remove"}, roles) ||
      !b.nested_string_array("roles", "add", p.roles_add) ||
      !b.nested_string_array("roles", "remove", p.roles_remove) ||
      !b.nullable_string("department_id", p.department_id, p.set_department, dept_null)) {
    return b.error();
  }
  std::string field, detail;
  if (!check_user_patch(p, field, detail)) return problem(400, detail, field, req.request_id);

  const bool disabling = p.set_enabled && !p.enabled;
  GovernedOp op{"user.update", Resource{"user", id, user_id},
                disabling ? "USER_DISABLED" : "USER_UPDATED"};
  return governed_call(app.governance, req, actor, op, [&]() {
    if (is_self(actor, id, user_id) &&
        (disabling ? true
                   : std::find(p.roles_remove.begin(), p.roles_remove.end(), "tenant_admin") !=
                         p.roles_remove.end())) {
      return failed(req, fail(409,
                              "an administrator cannot disable itself or take away its own "
                              "tenant_admin role; another administrator must",
                              "", disabling ? "enabled" : "roles.remove"));
    }
    TenantUser before, after;
    UserChanges changes;
    Outcome o = in_realm(app, id, [&](UserLife& life, const TenantRow&) {
      Outcome g = life.get(user_id, before);
      return g.ok() ? life.patch(before, p, changes, after) : g;
    });
    if (before.user_id.empty()) before.user_id = user_id;
    JsonPtr details = user_details(before);
    json_set(details.get(), "changes", user_changes_json(changes));
    auto answer = [&](const RevocationStep&) {
      JsonPtr body = tenant_user_json(after, id);
      json_set(body.get(), "changes", user_changes_json(changes));
      return json_response(200, body.get());
    };
    if (o.ok() && patch_revokes(p)) {
      return revoke_and_answer(req, app.revocations, RevocationKind::kUser, id, user_id,
                               details.get(), "the user was changed in Keycloak",
                               "repeat the same PATCH to publish it", answer);
    }
    if (o.ok()) {
      WorkResult w;
      w.details_json = json_text(details.get());
      w.response = answer(RevocationStep{});
      return w;
    }
    // Failed half-way: what was applied is said, and a disable or a role
    // taken away that did happen still stops the tokens.
    if (changes.any()) {
      o.detail += "; applied before the failure: " + json_text(user_changes_json(changes).get());
    }
    if (changes_need_revocation(changes)) {
      RevocationStep step = publish_revocation(app.revocations, RevocationKind::kUser, id, user_id);
      record_revocation(details.get(), step);
      if (!step.published) o.detail += "; tokens already issued were not revoked";
    }
    return failed(req, o, std::move(details));
  });
}

HttpResponse delete_user(App& app, const HttpRequest& req, const Actor& actor,
                         const std::string& id, const std::string& user_id) {
  GovernedOp op{"user.delete", Resource{"user", id, user_id}, "USER_DELETED"};
  return governed_call(app.governance, req, actor, op, [&]() {
    if (is_self(actor, id, user_id)) {
      return failed(req, fail(409, "an administrator cannot delete itself; another must"));
    }
    TenantUser u;
    Outcome o = in_realm(app, id, [&](UserLife& life, const TenantRow&) {
      Outcome g = life.get(user_id, u);
      if (g.ok()) g = refuse_service_account(u);
      return g.ok() ? life.remove(user_id) : g;
    });
    if (!o.ok()) return failed(req, o);
    JsonPtr details = user_details(u);
    json_set(details.get(), "roles", json_string_array(u.roles));
    return revoke_and_answer(
        req, app.revocations, RevocationKind::kUser, id, user_id, details.get(),
        "the user was deleted in Keycloak",
        "revoke the tenant's sessions (POST /tenants/" + id + "/sessions:revoke) to stop them now",
        [](const RevocationStep&) {
          HttpResponse r;
          r.status = 204;
          return r;
        });
  });
}

HttpResponse reset_user_password(App& app, const HttpRequest& req, const Actor& actor,
                                 const std::string& id, const std::string& user_id) {
  HttpResponse bad;
  if (!no_parameters(req, bad)) return bad;
  GovernedOp op{"user.password.reset", Resource{"user", id, user_id}, "PASSWORD_RESET"};
  return governed_call(app.governance, req, actor, op, [&]() {
    TenantUser u;
    std::string password;
    Outcome o = in_realm(app, id, [&](UserLife& life, const TenantRow&) {
      Outcome g = life.get(user_id, u);
      if (g.ok()) g = refuse_service_account(u);
      return g.ok() ? life.reset_password(user_id, password) : g;
    });
    if (!o.ok()) return failed(req, o);
    JsonPtr body(json_object());
    json_set(body.get(), "user_id", u.user_id);
    json_set(body.get(), "username", u.username);
    json_set(body.get(), "tenant_id", id);
    json_set(body.get(), "required_actions", json_string_array({"UPDATE_PASSWORD"}));
    // The only place the new password ever appears: this one response.
    json_set(body.get(), "temporary_password", password);
    OPENSSL_cleanse(&password[0], password.size());
    WorkResult w;
    w.response = json_response(200, body.get());
    // Audit: whose password was reset and what it now requires; never it.
    JsonPtr details = user_details(u);
    json_set(details.get(), "required_actions", json_string_array({"UPDATE_PASSWORD"}));
    w.details_json = json_text(details.get());
    return w;
  });
}

HttpResponse revoke_user_sessions(App& app, const HttpRequest& req, const Actor& actor,
                                  const std::string& id, const std::string& user_id) {
  HttpResponse bad;
  if (!no_parameters(req, bad)) return bad;
  GovernedOp op{"user.sessions.revoke", Resource{"user", id, user_id}, "SESSIONS_REVOKED"};
  return governed_call(app.governance, req, actor, op, [&]() {
    TenantUser u;
    Outcome o = in_realm(app, id, [&](UserLife& life, const TenantRow&) {
      Outcome g = life.get(user_id, u);
      return g.ok() ? life.logout_user(user_id) : g;
    });
    if (!o.ok()) return failed(req, o);
    JsonPtr details = user_details(u);
    json_set(details.get(), "scope", "user");
    return revoke_and_answer(req, app.revocations, RevocationKind::kUser, id, user_id,
                             details.get(), "the user's sessions were ended in Keycloak",
                             "repeat the call to publish it", [&](const RevocationStep& step) {
                               JsonPtr body(json_object());
                               json_set(body.get(), "tenant_id", id);
                               json_set(body.get(), "user_id", user_id);
                               json_set(body.get(), "scope", "user");
                               json_set(body.get(), "not_before",
                                        static_cast<long long>(step.record.not_before));
                               return json_response(200, body.get());
                             });
  });
}

HttpResponse revoke_tenant_sessions(App& app, const HttpRequest& req, const Actor& actor,
                                    const std::string& id) {
  HttpResponse bad;
  if (!no_parameters(req, bad)) return bad;
  GovernedOp op{"tenant.sessions.revoke", Resource{"tenant", id, ""}, "SESSIONS_REVOKED"};
  return governed_call(app.governance, req, actor, op, [&]() {
    Outcome o =
        in_realm(app, id, [&](UserLife& life, const TenantRow&) { return life.logout_all(); });
    if (!o.ok()) return failed(req, o);
    JsonPtr details(json_object());
    json_set(details.get(), "scope", "tenant");
    return revoke_and_answer(req, app.revocations, RevocationKind::kTenant, id, "", details.get(),
                             "every session of the tenant was ended in Keycloak",
                             "repeat the call to publish it", [&](const RevocationStep& step) {
                               JsonPtr body(json_object());
                               json_set(body.get(), "tenant_id", id);
                               json_set(body.get(), "scope", "tenant");
                               json_set(body.get(), "not_before",
                                        static_cast<long long>(step.record.not_before));
                               return json_response(200, body.get());
                             });
  });
}

}  // namespace realm_sidecar
