#include <chrono>
#include <cstdio>

#include "api/app.h"
#include "http/problem.h"
#include "metrics/sidecar_metrics.h"
#include "prometheus_text.h"
#include "provisioning/user_life.h"

namespace realm_sidecar {

namespace {

using ActorHandler = HttpResponse (*)(App&, const HttpRequest&, const Actor&);
using ActorIdHandler = HttpResponse (*)(App&, const HttpRequest&, const Actor&, const std::string&);
using ActorUserHandler = HttpResponse (*)(App&, const HttpRequest&, const Actor&,
                                          const std::string&, const std::string&);

// 401 before anything else: no governed work for an unverified caller.
template <typename F>
HttpResponse with_actor(App& app, const HttpRequest& req, F&& then) {
  AuthOutcome a = app.auth.authenticate(req.header("authorization"));
  if (!a.ok && a.unavailable) {
    std::fprintf(stderr, "realm-sidecar: tenant store unavailable; refusing request_id=%s\n",
                 req.request_id.c_str());
    return problem(503, a.detail, "", req.request_id);
  }
  if (!a.ok) {
    std::fprintf(stderr, "realm-sidecar: token refused: %s request_id=%s\n",
                 realm_auth::status_name(a.status), req.request_id.c_str());
    return unauthorized(a.status, req.request_id);
  }
  return then(a.actor);
}

Handler bind(App& app, ActorHandler h) {
  return [&app, h](const HttpRequest& req, const PathParams&) {
    return with_actor(app, req, [&](const Actor& actor) { return h(app, req, actor); });
  };
}

// The {tenant_id} segment, checked for shape before anyone uses it: a
// malformed id can never name a tenant, so it is a plain 404.
Handler bind_id(App& app, ActorIdHandler h) {
  return [&app, h](const HttpRequest& req, const PathParams& params) {
    const std::string& id = params.at("tenant_id");
    if (!realm_auth::is_valid_slug(id)) {
      return problem(404, "no tenant '" + id.substr(0, 64) + "'", "", req.request_id);
    }
    return with_actor(app, req, [&](const Actor& actor) { return h(app, req, actor, id); });
  };
}

// {tenant_id} and {user_id}: a user id that cannot be a Keycloak id can
// never name a user, so it is a plain 404 too (and never reaches a path).
Handler bind_user(App& app, ActorUserHandler h) {
  return [&app, h](const HttpRequest& req, const PathParams& params) {
    const std::string& id = params.at("tenant_id");
    const std::string& user_id = params.at("user_id");
    if (!realm_auth::is_valid_slug(id)) {
      return problem(404, "no tenant '" + id.substr(0, 64) + "'", "", req.request_id);
    }
    if (!plausible_user_id(user_id)) {
      return problem(404, "no user '" + user_id.substr(0, 64) + "' in tenant '" + id + "'", "",
                     req.request_id);
    }
    return with_actor(app, req,
                      [&](const Actor& actor) { return h(app, req, actor, id, user_id); });
  };
}

// /tenants/{tenant_id}/keys/{kid}:…: both segments checked for shape first.
using ActorKeyHandler = HttpResponse (*)(App&, const HttpRequest&, const Actor&, const std::string&,
                                         const std::string&);
Handler bind_key(App& app, ActorKeyHandler h) {
  return [&app, h](const HttpRequest& req, const PathParams& params) {
    const std::string& id = params.at("tenant_id");
    const std::string& kid = params.at("kid");
    if (!realm_auth::is_valid_slug(id)) {
      return problem(404, "no tenant '" + id.substr(0, 64) + "'", "", req.request_id);
    }
    if (!is_valid_kid(kid)) {
      // Not echoed: it is not a kid (1-128 of A-Za-z0-9._-).
      return problem(404, "no such key: a kid is 1-128 of A-Za-z0-9._-", "", req.request_id);
    }
    return with_actor(app, req, [&](const Actor& actor) { return h(app, req, actor, id, kid); });
  };
}

}  // namespace

std::vector<Route> api_routes(App& app) {
  return {
      {"POST", "/tenants", bind(app, create_tenant)},
      {"GET", "/tenants", bind(app, list_tenants)},
      {"GET", "/tenants/{tenant_id}", bind_id(app, get_tenant)},
      {"PATCH", "/tenants/{tenant_id}", bind_id(app, patch_tenant)},
      {"DELETE", "/tenants/{tenant_id}", bind_id(app, delete_tenant)},
      {"POST", "/tenants/{tenant_id}/users", bind_id(app, create_user)},
      {"GET", "/tenants/{tenant_id}/users", bind_id(app, list_users)},
      {"GET", "/tenants/{tenant_id}/users/{user_id}", bind_user(app, get_user)},
      {"PATCH", "/tenants/{tenant_id}/users/{user_id}", bind_user(app, patch_user)},
      {"DELETE", "/tenants/{tenant_id}/users/{user_id}", bind_user(app, delete_user)},
      {"POST", "/tenants/{tenant_id}/users/{user_id}/password:reset",
       bind_user(app, reset_user_password)},
      {"POST", "/tenants/{tenant_id}/users/{user_id}/sessions:revoke",
       bind_user(app, revoke_user_sessions)},
      {"POST", "/tenants/{tenant_id}/sessions:revoke", bind_id(app, revoke_tenant_sessions)},
      {"POST", "/tenants/{tenant_id}/secrets/tenant-services:rotate",
       bind_id(app, rotate_tenant_secret)},
      {"GET", "/tenants/{tenant_id}/keys", bind_id(app, list_keys)},
      {"POST", "/tenants/{tenant_id}/keys:rotate", bind_id(app, rotate_key)},
      {"POST", "/tenants/{tenant_id}/keys/{kid}:retire", bind_key(app, retire_key)},
      {"GET", "/audit", bind(app, read_audit)},
      // OpenID Connect back-channel logout from tenant realms, through
      // nginx without a bearer token: the signed logout token is the
      // credential (revocation/backchannel_logout.h).
      {"POST", "/backchannel-logout/{tenant_id}",
       [&app](const HttpRequest& req, const PathParams& params) {
         const std::string& id = params.at("tenant_id");
         if (app.backchannel == nullptr || !realm_auth::is_valid_slug(id)) {
           return problem(404, "no back-channel logout endpoint for '" + id.substr(0, 64) + "'", "",
                          req.request_id);
         }
         return app.backchannel->handle(req, id);
       }},
      // Counters for operators (loopback port only; nginx does not route
      // it): what the per-actor rate limit refused. No identities.
      {"GET", "/status",
       [&app](const HttpRequest&, const PathParams&) {
         JsonPtr rl(json_object());
         if (app.limiter != nullptr) {
           RateLimitStats st = app.limiter->stats();
           json_set(rl.get(), "allowed_total", static_cast<long long>(st.allowed_total));
           json_set(rl.get(), "refused_total", static_cast<long long>(st.refused_total));
           json_set(rl.get(), "evicted_total", static_cast<long long>(st.evicted_total));
           json_set(rl.get(), "actors_tracked", static_cast<long long>(st.actors_tracked));
           json_set(rl.get(), "actors_max", static_cast<long long>(st.actors_max));
           json_set(rl.get(), "burst", static_cast<long long>(app.limiter->config().burst));
           json_set(rl.get(), "per_minute",
                    static_cast<long long>(app.limiter->config().per_second * 60));
         }
         JsonPtr j(json_object());
         json_set(j.get(), "status", "ok");
         json_set(j.get(), "rate_limit", std::move(rl));
         return json_response(200, j.get());
       }},
      // Readiness for load balancers and orchestrators (loopback port only,
      // like /status): each dependency by name and its state, 200 when all
      // are up, else 503; cached and bounded (health/readiness.h).
      {"GET", "/readyz",
       [&app](const HttpRequest& req, const PathParams&) {
         if (app.readiness == nullptr) {
           return problem(503, "no readiness probes configured", "", req.request_id);
         }
         return readiness_response(app.readiness->check(), std::chrono::steady_clock::now());
       }},
      // Prometheus text format (loopback port only, like /status; nginx
      // does not route it): docs/SIDECAR_METRICS.md. Each scrape also
      // reads the readiness report (cached and bounded, health/readiness.h)
      // for realm_sidecar_dependency_up.
      {"GET", "/metrics",
       [&app](const HttpRequest&, const PathParams&) { return metrics_response(app.readiness); }},
      // Liveness for scripts/stack/sidecar.sh; ungoverned, no data: it never
      // looks at a dependency (a dead database must not get the process
      // restarted).
      {"GET", "/healthz",
       [](const HttpRequest&, const PathParams&) {
         HttpResponse r;
         r.body = "{\"status\":\"ok\"}";
         return r;
       }},
  };
}

HttpResponse metrics_response(Readiness* readiness) {
  if (readiness != nullptr) {
    ReadinessReport r = readiness->check();
    for (const auto& [name, p] : r.dependencies) metrics::dependency_up(name, p.up && !r.stale);
  }
  HttpResponse resp;
  resp.content_type = realm_auth::kPrometheusContentType;
  resp.body = metrics::render();
  resp.headers.emplace_back("Cache-Control", "no-store");
  return resp;
}

HttpResponse json_response(int status, const json_t* body) {
  HttpResponse r;
  r.status = status;
  r.body = json_text(body);
  return r;
}

HttpResponse outcome_problem(const HttpRequest& req, const Outcome& o) {
  if (!o.log.empty()) {
    std::fprintf(stderr, "realm-sidecar: %d %s request_id=%s\n", o.status, o.log.c_str(),
                 req.request_id.c_str());
  }
  HttpResponse r = problem(o.status, o.detail, o.field, req.request_id);
  if (o.retry_after_s > 0) r.headers.emplace_back("Retry-After", std::to_string(o.retry_after_s));
  return r;
}

JsonPtr tenant_json(const TenantRow& t) {
  JsonPtr j(json_object());
  json_set(j.get(), "tenant_id", t.tenant_id);
  json_set(j.get(), "realm", t.realm_name);
  json_set(j.get(), "issuer", t.issuer_url);
  json_set(j.get(), "display_name", t.display_name);
  json_set(j.get(), "status", to_string(t.status));
  json_set(j.get(), "departments", json_string_array(t.departments));
  json_set(j.get(), "dpop_bound_tokens", t.dpop_bound_tokens);
  JsonPtr clients(json_object());
  json_set(clients.get(), "console", "admin-console");
  json_set(clients.get(), "services", "tenant-services");
  json_set(j.get(), "clients", std::move(clients));
  json_set(j.get(), "incarnation_id", t.incarnation_id);
  json_set(j.get(), "incarnation_started_at", static_cast<long long>(t.incarnation_started_at));
  json_set(j.get(), "created_at", t.created_at);
  json_set(j.get(), "updated_at", t.updated_at);
  return j;
}

}  // namespace realm_sidecar
