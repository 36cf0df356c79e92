// GET /readyz: is every dependency this sidecar needs answering right now?
// Each dependency is a named probe (PostgreSQL, Keycloak, Redis when
// configured, the policy service when remote; health/probes.h) with its own
// short timeout. The report is cached for `ttl` and at most one round of
// probes runs at a time: a caller that arrives while a round is under way
// gets the previous report instead of waiting or starting another round (only
// the very first callers wait for the first round). So a load balancer or an
// orchestrator polling many times a second costs one round per ttl, and a
// hung dependency can never pile up probe threads or connections.
// `/healthz` stays the liveness probe: it never looks at dependencies.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "http/message.h"

namespace realm_sidecar {

struct ProbeResult {
  bool up = false;
  std::string detail;  // why not up (for operators; no secrets), or empty
};

struct Dependency {
  std::string name;                    // "postgresql", "keycloak", "redis", "policy"
  std::function<ProbeResult()> probe;  // bounded by its own timeout; never throws
};

struct ReadinessReport {
  bool ready = false;  // every dependency up
  std::vector<std::pair<std::string, ProbeResult>> dependencies;
  std::chrono::steady_clock::time_point checked_at;
  long long round = 0;  // which round of probes produced it (1, 2, …)
  // The last finished round is older than the bound while a round is
  // still running (a probe that outlives its timeout): not ready, whatever
  // that old round said.
  bool stale = false;
};

class Readiness {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  // `max_age`: how old a report may be served while the next round runs.
  explicit Readiness(
      std::vector<Dependency> deps, std::chrono::milliseconds ttl = std::chrono::milliseconds(1000),
      Clock clock = [] { return std::chrono::steady_clock::now(); },
      std::chrono::milliseconds max_age = std::chrono::milliseconds(5000));

  // The cached report while it is fresh, else a new round (see above).
  ReadinessReport check();
  long long rounds() const;

 private:
  ReadinessReport probe_all() const;

  const std::vector<Dependency> deps_;
  const std::chrono::milliseconds ttl_;
  const std::chrono::milliseconds max_age_;
  const Clock clock_;
  mutable std::mutex mu_;
  std::condition_variable done_;
  bool have_ = false;
  bool in_flight_ = false;
  ReadinessReport last_;
};

// 200 {"status":"ready", "dependencies":{name:{"state":"up"},…},
// "checked_ms_ago":N} or 503 {"status":"not ready", … {"state":"down",
// "detail":"…"}} (plus "stale":true for a stale report); never cached by
// clients (Cache-Control: no-store).
HttpResponse readiness_response(const ReadinessReport& r,
                                std::chrono::steady_clock::time_point now);

}  // namespace realm_sidecar
