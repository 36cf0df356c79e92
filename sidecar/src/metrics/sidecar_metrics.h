// What realm-sidecar counts for GET /metrics (docs/SIDECAR_METRICS.md): one
// function per event, called where it happens. The registry is
// process-wide (one daemon, one set of metrics; a static in
// sidecar_metrics.cc) so that a Keycloak call or a ledger append deep in a
// saga can count without every constructor taking it; it is thread-safe.
// Every label value comes from a fixed set: route templates (never the
// raw path), status codes, outcome names, saga step names.
#pragma once

#include <string>

#include "metrics/registry.h"

namespace realm_sidecar::metrics {

// One answered request: `route` is the matched route template
// ("/tenants/{tenant_id}"), or "unmatched".
void http_request(const std::string& method, const std::string& route, int status,
                  double seconds) noexcept;
// One Keycloak Admin API call (or token request) and whether it worked.
void keycloak_call(bool ok, double seconds) noexcept;
// One policy decision (built-in or OPA).
void policy_decision(bool allow, double seconds) noexcept;
// `step` is "<saga>:<step>" as crash_after() names it ("tenant:realm_created").
void saga_step(const char* step) noexcept;
// A create saga's end: saga "tenant" or "user"; outcome "created",
// "refused" (4xx: nothing was started or it was undone) or "failed" (5xx).
void saga_outcome(const char* saga, int http_status) noexcept;
// A failed create undone: result "complete" or "pending" (left to reconcile).
void saga_rollback(const char* saga, bool complete) noexcept;
// A crashed attempt settled at start-up: saga "tenant"/"user", outcome
// "created" or "failed" (its ledger event).
void crash_recovery(const char* saga, const char* outcome) noexcept;
void ledger_append(bool ok) noexcept;
void revocation_published(bool ok) noexcept;

// realm_sidecar_dependency_up{dependency}: the /metrics route sets it from
// a readiness report (health/readiness.h) before rendering.
void dependency_up(const std::string& dependency, bool up) noexcept;

// The whole exposition.
std::string render();

// For tests: the process registry.
Registry& registry();

}  // namespace realm_sidecar::metrics
