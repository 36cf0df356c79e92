// /tenants: create, list, read, enable/disable, delete, rotate secret.
#include <set>

#include "api/app.h"
#include "api/body.h"
#include "http/problem.h"
#include "metrics/sidecar_metrics.h"
#include "provisioning/validation.h"

namespace realm_sidecar {

namespace {

Resource tenant_resource(const std::string& id) { return Resource{"tenant", id, ""}; }

std::string tenant_details(const TenantRow& t) {
  JsonPtr d(json_object());
  json_set(d.get(), "realm", t.realm_name);
  json_set(d.get(), "issuer", t.issuer_url);
  json_set(d.get(), "status", to_string(t.status));
  return json_text(d.get());
}

}  // namespace

HttpResponse create_tenant(App& app, const HttpRequest& req, const Actor& actor) {
  BodyReader b(req);
  std::string slug, display_name, why;
  std::vector<std::string> departments;
  bool dpop = false, dpop_present = false;
  if (!b.parse() || !b.only({"slug", "display_name", "departments", "dpop_bound_tokens"}) ||
      !b.string("slug", true, slug) || !b.string("display_name", true, display_name) ||
      !b.string_array("departments", false, departments) ||
      !b.boolean("dpop_bound_tokens", false, dpop, dpop_present)) {
    return b.error();
  }
  if (!(why = check_slug(slug)).empty()) return problem(400, why, "slug", req.request_id);
  if (!(why = check_display_name(display_name)).empty()) {
    return problem(400, why, "display_name", req.request_id);
  }
  std::set<std::string> seen;
  for (size_t i = 0; i < departments.size(); i++) {
    std::string field = "departments[" + std::to_string(i) + "]";
    if (!(why = check_department(departments[i])).empty()) {
      return problem(400, why, field, req.request_id);
    }
    if (!seen.insert(departments[i]).second) {
      return problem(400, "department '" + departments[i] + "' is listed twice", field,
                     req.request_id);
    }
  }
  // The tenant does not exist yet; resource.tenant_id names the slug so the
  // ledger and the policy see which tenant is being created.
  GovernedOp op{"tenant.create", tenant_resource(slug), "TENANT_CREATED"};
  return governed_call(app.governance, req, actor, op, [&]() {
    WorkResult w;
    AttemptRef attempt;
    if (!attempt_for(app, req, actor, attempt, w.response)) return w;
    TenantRow row;
    Outcome o = app.saga.create(slug, display_name, departments, row,
                                app.lease != nullptr ? &attempt : nullptr, dpop);
    metrics::saga_outcome("tenant", o.ok() ? 201 : o.status);
    if (app.lease != nullptr) w.on_recorded = drop_attempt(app, attempt.request_id);
    if (!o.ok()) {
      w.response = outcome_problem(req, o);
      w.failure_reason = o.detail;
      return w;
    }
    w.response = json_response(201, tenant_json(row).get());
    w.response.headers.emplace_back("Location", "/tenants/" + slug);
    w.details_json = tenant_details(row);
    return w;
  });
}

HttpResponse list_tenants(App& app, const HttpRequest& req, const Actor& actor) {
  GovernedOp op{"tenant.list", tenant_resource(""), ""};
  return governed_call(app.governance, req, actor, op, [&]() {
    WorkResult w;
    PgSession s = app.pg.acquire();
    std::vector<TenantRow> rows;
    if (!s.healthy() || TenantStore::list(s, {}, rows) != StoreStatus::kOk) {
      w.response = problem(503, "PostgreSQL is unreachable", "", req.request_id);
      return w;
    }
    JsonPtr list(json_array());
    for (const TenantRow& t : rows) {
      // A tenant actor is allowed to list by policy only to see its own.
      if (!actor.tenant_id.empty() && t.tenant_id != actor.tenant_id) continue;
      json_array_append_new(list.get(), tenant_json(t).release());
    }
    JsonPtr body(json_object());
    json_set(body.get(), "tenants", std::move(list));
    w.response = json_response(200, body.get());
    return w;
  });
}

HttpResponse get_tenant(App& app, const HttpRequest& req, const Actor& actor,
                        const std::string& id) {
  GovernedOp op{"tenant.read", tenant_resource(id), ""};
  return governed_call(app.governance, req, actor, op, [&]() {
    WorkResult w;
    PgSession s = app.pg.acquire();
    TenantRow row;
    StoreStatus st = s.healthy() ? TenantStore::get(s, id, row) : StoreStatus::kUnavailable;
    if (st == StoreStatus::kNotFound) {
      w.response = problem(404, "no tenant '" + id + "'", "", req.request_id);
    } else if (st != StoreStatus::kOk) {
      w.response = problem(503, "PostgreSQL is unreachable", "", req.request_id);
    } else {
      w.response = json_response(200, tenant_json(row).get());
    }
    return w;
  });
}

HttpResponse patch_tenant(App& app, const HttpRequest& req, const Actor& actor,
                          const std::string& id) {
  BodyReader b(req);
  bool enabled = true, present = false;
  if (!b.parse() || !b.only({"enabled"}) || !b.boolean("enabled", true, enabled, present)) {
    return b.error();
  }
  GovernedOp op{"tenant.update", tenant_resource(id), "TENANT_UPDATED"};
  return governed_call(app.governance, req, actor, op, [&]() {
    WorkResult w;
    TenantRow row;
    Outcome o = app.saga.set_enabled(id, enabled, row);
    if (!o.ok()) {
      w.response = outcome_problem(req, o);
      w.failure_reason = o.detail;
      return w;
    }
    w.response = json_response(200, tenant_json(row).get());
    w.details_json = tenant_details(row);
    return w;
  });
}

HttpResponse delete_tenant(App& app, const HttpRequest& req, const Actor& actor,
                           const std::string& id) {
  GovernedOp op{"tenant.delete", tenant_resource(id), "TENANT_DELETED"};
  return governed_call(app.governance, req, actor, op, [&]() {
    WorkResult w;
    Outcome o = app.saga.remove(id);
    if (!o.ok()) {
      w.response = outcome_problem(req, o);
      w.failure_reason = o.detail;
      return w;
    }
    w.response.status = 204;
    w.response.content_type.clear();
    return w;
  });
}

HttpResponse rotate_tenant_secret(App& app, const HttpRequest& req, const Actor& actor,
                                  const std::string& id) {
  GovernedOp op{"secret.rotate", Resource{"secret", id, "tenant-services"}, "SECRET_ROTATED"};
  return governed_call(app.governance, req, actor, op, [&]() {
    WorkResult w;
    TenantRow row;
    Outcome o = app.saga.rotate_services_secret(id, row);
    if (!o.ok()) {
      w.response = outcome_problem(req, o);
      w.failure_reason = o.detail;
      return w;
    }
    // The new secret stays sealed in PostgreSQL: the answer never carries it.
    JsonPtr body(json_object());
    json_set(body.get(), "tenant_id", id);
    json_set(body.get(), "client_id", "tenant-services");
    json_set(body.get(), "rotated", true);
    w.response = json_response(200, body.get());
    w.details_json = "{\"client_id\":\"tenant-services\"}";
    return w;
  });
}

}  // namespace realm_sidecar
