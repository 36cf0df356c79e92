#include "metrics/sidecar_metrics.h"

#include <cstring>
#include <iterator>

namespace realm_sidecar::metrics {

namespace {

// Upper bounds (seconds) of the latency histograms: a Keycloak call or a
// policy decision takes milliseconds when healthy, up to its timeout when not.
// A constant array, not a std::vector: nothing allocates before main()
// (sidecar_main_guard injects a bad_alloc at the first allocation).
constexpr double kLatencyBuckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                      0.25,  0.5,    1,     2.5,  5,     10};
std::vector<double> latency_buckets() {
  return std::vector<double>(std::begin(kLatencyBuckets), std::end(kLatencyBuckets));
}

struct Instruments {
  Registry reg;
  Family& requests = reg.counter(
      "realm_sidecar_http_requests_total",
      "HTTP requests answered, by method, route template (never the raw path) and status.",
      {"method", "route", "status"});
  Family& request_seconds = reg.histogram("realm_sidecar_http_request_duration_seconds",
                                          "Time to answer an HTTP request, by route template.",
                                          {"route"}, latency_buckets());
  Family& keycloak = reg.histogram("realm_sidecar_keycloak_request_duration_seconds",
                                   "Keycloak Admin API (and token) calls, by outcome.", {"outcome"},
                                   latency_buckets());
  Family& policy = reg.histogram("realm_sidecar_policy_decision_duration_seconds",
                                 "Policy decisions before governed operations, by outcome.",
                                 {"outcome"}, latency_buckets());
  Family& steps =
      reg.counter("realm_sidecar_saga_steps_total",
                  "Provisioning saga steps completed, by saga and step.", {"saga", "step"});
  Family& outcomes = reg.counter("realm_sidecar_saga_outcomes_total",
                                 "Create sagas (tenant, user) by outcome: created, refused (4xx), "
                                 "failed (5xx).",
                                 {"saga", "outcome"});
  Family& rollbacks = reg.counter(
      "realm_sidecar_saga_rollbacks_total",
      "Failed creates undone: complete, or pending (finished by reconcile).", {"saga", "result"});
  Family& recoveries =
      reg.counter("realm_sidecar_crash_recoveries_total",
                  "Attempts of a crashed process settled at start-up.", {"saga", "outcome"});
  Family& ledger = reg.counter("realm_sidecar_ledger_appends_total",
                               "Audit ledger appends, by result.", {"result"});
  Family& revocations =
      reg.counter("realm_sidecar_revocation_publications_total",
                  "Revocation records published to nginx, by result.", {"result"});
  Family& dependencies = reg.gauge(
      "realm_sidecar_dependency_up",
      "Readiness of each dependency (1 up, 0 down), as GET /readyz reports it.", {"dependency"});
};

Instruments& instruments() {
  static Instruments* i = new Instruments();  // never destroyed: threads may count at exit
  return *i;
}

const char* ok_failed(bool ok) { return ok ? "ok" : "failed"; }

}  // namespace

Registry& registry() { return instruments().reg; }

void http_request(const std::string& method, const std::string& route, int status,
                  double seconds) noexcept {
  try {
    instruments().requests.add({method, route, std::to_string(status)});
    instruments().request_seconds.observe({route}, seconds);
  } catch (...) {
  }
}

void keycloak_call(bool ok, double seconds) noexcept {
  try {
    instruments().keycloak.observe({ok ? "ok" : "error"}, seconds);
  } catch (...) {
  }
}

void policy_decision(bool allow, double seconds) noexcept {
  try {
    instruments().policy.observe({allow ? "allow" : "deny"}, seconds);
  } catch (...) {
  }
}

void saga_step(const char* step) noexcept {
  try {
    const char* colon = std::strchr(step, ':');
    if (colon == nullptr) return;
    instruments().steps.add({std::string(step, colon), std::string(colon + 1)});
  } catch (...) {
  }
}

void saga_outcome(const char* saga, int http_status) noexcept {
  try {
    const char* outcome = http_status < 300 ? "created" : http_status < 500 ? "refused" : "failed";
    instruments().outcomes.add({saga, outcome});
  } catch (...) {
  }
}

void saga_rollback(const char* saga, bool complete) noexcept {
  try {
    instruments().rollbacks.add({saga, complete ? "complete" : "pending"});
  } catch (...) {
  }
}

void crash_recovery(const char* saga, const char* outcome) noexcept {
  try {
    instruments().recoveries.add({saga, outcome});
  } catch (...) {
  }
}

void ledger_append(bool ok) noexcept {
  try {
    instruments().ledger.add({ok_failed(ok)});
  } catch (...) {
  }
}

void revocation_published(bool ok) noexcept {
  try {
    instruments().revocations.add({ok_failed(ok)});
  } catch (...) {
  }
}

void dependency_up(const std::string& dependency, bool up) noexcept {
  try {
    instruments().dependencies.set({dependency}, up ? 1 : 0);
  } catch (...) {
  }
}

std::string render() { return instruments().reg.render(); }

}  // namespace realm_sidecar::metrics
