// The sidecar's HTTP API: everything a handler needs, and the route table.
// Handlers follow one shape: authenticate → parse and validate the body →
// governed_call(work) → map the Outcome to JSON or problem+json.
#pragma once

#include <string>
#include <vector>

#include "auth/request_identity.h"
#include "governance/governed_call.h"
#include "http/router.h"
#include "keycloak/admin_client.h"
#include "provisioning/outcome.h"
#include "provisioning/tenant_saga.h"
#include "revocation/backchannel_logout.h"
#include "revocation/revocation_publisher.h"
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
};

// The whole API surface, in one table (api/routes.cc).
std::vector<Route> api_routes(App& app);

// --- handlers (api/tenants.cc, api/users.cc, api/audit.cc) -------------------
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

// --- shared helpers (api/routes.cc) -------------------------------------------
HttpResponse json_response(int status, const json_t* body);
// problem+json from a failed Outcome; logs its internal cause.
HttpResponse outcome_problem(const HttpRequest& req, const Outcome& o);
// The public JSON of a tenant row (no secrets: there are none in the row).
JsonPtr tenant_json(const TenantRow& t);
// One ledger row as GET /audit and `realm-sidecar audit tail` print it.
JsonPtr audit_row_json(const AuditRow& r);

}  // namespace realm_sidecar
