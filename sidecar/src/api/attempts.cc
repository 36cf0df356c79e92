// The provisioning attempt of POST /tenants and POST /tenants/{id}/users
// (store/attempt_store.h, provisioning/crash_recovery.h): who asks, under
// this process's owner lease, and dropping its row once the ledger holds
// the outcome.
#include <cstdio>

#include "api/app.h"
#include "http/problem.h"
#include "store/attempt_store.h"

namespace realm_sidecar {

bool attempt_for(App& app, const HttpRequest& req, const Actor& actor, AttemptRef& out,
                 HttpResponse& refused) {
  out.request_id = req.request_id;
  out.actor_id = actor.actor_id;
  out.actor_realm = actor.realm;
  std::string why;
  out.purpose = purpose_of(req, why);  // checked already by governed_call
  if (app.lease == nullptr) return true;
  std::string error;
  if (!app.lease->hold(error)) {
    std::fprintf(stderr, "realm-sidecar: %s\n", error.c_str());
    refused = problem(503, "PostgreSQL is unreachable (owner lease); nothing was created", "",
                      req.request_id);
    return false;
  }
  out.owner = app.lease->id();
  return true;
}

std::function<void()> drop_attempt(App& app, const std::string& request_id) {
  PgPool* pg = &app.pg;
  return [pg, request_id]() {
    PgSession s = pg->acquire();
    // Not dropped (PostgreSQL just went away): recovery finds the outcome in
    // the ledger after this process ends and only drops the row then.
    if (!s.healthy() || AttemptStore::finish(s, request_id) != StoreStatus::kOk) {
      std::fprintf(stderr, "realm-sidecar: provisioning attempt %s left for recovery\n",
                   request_id.c_str());
    }
  };
}

}  // namespace realm_sidecar
