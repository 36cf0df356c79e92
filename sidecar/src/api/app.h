// The sidecar's HTTP API: everything a handler needs, and the route table.
// Handlers follow one shape: authenticate → parse and validate the body →
// governed_call(work) → map the Outcome to JSON or problem+json.
#pragma once

#include <string>
#include <vector>

#include "auth/request_identity.h"
#include "governance/governed_call.h"
#include "health/readiness.h"
#include "http/router.h"
#include "keycloak/admin_client.h"
#include "provisioning/outcome.h"
#include "provisioning/signing_keys.h"
#include "provisioning/tenant_saga.h"
#include "revocation/backchannel_logout.h"
#include "revocation/revocation_publisher.h"
#include "store/owner_lease.h"
#include "store/tenant_store.h"

namespace realm_sidecar {

struct App {
  RequestAuthenticator& auth;
  Governance governance;
  TenantSaga& saga;
  AdminClient& keycloak;
  PgPool& pg;
  RevocationPublisher& revocations;
  const ActorRateLimiter* limiter = nullptr;  // for GET /status
  // POST /backchannel-logout/{tenant_id}; null: the route answers 404.
  BackchannelLogout* backchannel = nullptr;
  SigningKeys* keys = nullptr;     // /tenants/{id}/keys (set by serve)
  Readiness* readiness = nullptr;  // GET /readyz; null: 503 "no probes configured"
  // This process's owner lease (store/owner_lease.h): POST /tenants and
  // POST …/users record their attempt under it. Null: no attempt recorded.
  OwnerLease* lease = nullptr;
};

// The provisioning attempt of a governed create (store/attempt_store.h):
// false with a 503 in `refused` when the owner lease cannot be held (then
// a recovery elsewhere could not tell this attempt is alive).
bool attempt_for(App& app, const HttpRequest& req, const Actor& actor, AttemptRef& out,
                 HttpResponse& refused);
// WorkResult::on_recorded for an attempt: its row goes once the outcome is
// in the ledger.
std::function<void()> drop_attempt(App& app, const std::string& request_id);

// The whole API surface, in one table (api/routes.cc).
std::vector<Route> api_routes(App& app);

// --- handlers (api/tenants.cc, api/users.cc, api/user_life.cc, api/audit.cc) --
HttpResponse create_tenant(App& app, const HttpRequest& req, const Actor& actor);
HttpResponse list_tenants(App& app, const HttpRequest& req, const Actor& actor);
HttpResponse get_tenant(App& app, const HttpRequest& req, const Actor& actor,
                        const std::string& id);
HttpResponse patch_tenant(App& app, const HttpRequest& req, const Actor& actor,
                          const std::string& id);
HttpResponse delete_tenant(App& app, const HttpRequest& req, const Actor& actor,
                           const std::string& id);
HttpResponse rotate_tenant_secret(App& app, const HttpRequest& req, const Actor& actor,
                                  const std::string& id);
HttpResponse create_user(App& app, const HttpRequest& req, const Actor& actor,
                         const std::string& id);
HttpResponse read_audit(App& app, const HttpRequest& req, const Actor& actor);
// api/user_life.cc
HttpResponse list_users(App& app, const HttpRequest& req, const Actor& actor,
                        const std::string& id);
HttpResponse get_user(App& app, const HttpRequest& req, const Actor& actor, const std::string& id,
                      const std::string& user_id);
HttpResponse patch_user(App& app, const HttpRequest& req, const Actor& actor, const std::string& id,
                        const std::string& user_id);
HttpResponse delete_user(App& app, const HttpRequest& req, const Actor& actor,
                         const std::string& id, const std::string& user_id);
HttpResponse reset_user_password(App& app, const HttpRequest& req, const Actor& actor,
                                 const std::string& id, const std::string& user_id);
HttpResponse revoke_user_sessions(App& app, const HttpRequest& req, const Actor& actor,
                                  const std::string& id, const std::string& user_id);
HttpResponse revoke_tenant_sessions(App& app, const HttpRequest& req, const Actor& actor,
                                    const std::string& id);

// --- signing keys (api/keys.cc) ----------------------------------------------
HttpResponse list_keys(App& app, const HttpRequest& req, const Actor& actor, const std::string& id);
HttpResponse rotate_key(App& app, const HttpRequest& req, const Actor& actor,
                        const std::string& id);
HttpResponse retire_key(App& app, const HttpRequest& req, const Actor& actor, const std::string& id,
                        const std::string& kid);
// A kid the sidecar will look up: 1-128 of [A-Za-z0-9._-] (Keycloak's are
// base64url thumbprints); anything else names no key (404).
bool is_valid_kid(const std::string& kid);

// --- shared helpers (api/routes.cc) -------------------------------------------
// GET /metrics: the Prometheus text format (docs/SIDECAR_METRICS.md); with
// `readiness`, each scrape reads its (cached, bounded) report for
// realm_sidecar_dependency_up.
HttpResponse metrics_response(Readiness* readiness);
HttpResponse json_response(int status, const json_t* body);
// problem+json from a failed Outcome; logs its internal cause.
HttpResponse outcome_problem(const HttpRequest& req, const Outcome& o);
// The public JSON of a tenant row (no secrets: there are none in the row).
JsonPtr tenant_json(const TenantRow& t);
// One ledger row as GET /audit and `realm-sidecar audit tail` print it.
JsonPtr audit_row_json(const AuditRow& r);

}  // namespace realm_sidecar
