#include "health/readiness.h"

#include <future>
#include <utility>

#include "util/json_helpers.h"

namespace realm_sidecar {

Readiness::Readiness(std::vector<Dependency> deps, std::chrono::milliseconds ttl, Clock clock,
                     std::chrono::milliseconds max_age)
    : deps_(std::move(deps)), ttl_(ttl), max_age_(max_age), clock_(std::move(clock)) {}

long long Readiness::rounds() const {
  std::lock_guard<std::mutex> g(mu_);
  return last_.round;
}

ReadinessReport Readiness::check() {
  std::unique_lock<std::mutex> lock(mu_);
  if (have_ && clock_() - last_.checked_at < ttl_) return last_;
  if (in_flight_) {
    if (have_) {  // no second round: the previous report, unless too old
      ReadinessReport r = last_;
      if (clock_() - r.checked_at > max_age_) r.stale = true;
      return r;
    }
    done_.wait(lock, [&] { return !in_flight_; });
    return last_;
  }
  in_flight_ = true;
  long long round = last_.round + 1;
  lock.unlock();
  ReadinessReport r = probe_all();
  r.round = round;
  lock.lock();
  last_ = std::move(r);
  have_ = true;
  in_flight_ = false;
  done_.notify_all();
  return last_;
}

// All probes at once, so a round takes as long as the slowest probe's
// timeout, not their sum. Every thread is joined before the round ends.
ReadinessReport Readiness::probe_all() const {
  ReadinessReport r;
  std::vector<std::future<ProbeResult>> running;
  running.reserve(deps_.size());
  for (const Dependency& d : deps_) {
    try {
      running.push_back(std::async(std::launch::async, d.probe));
    } catch (const std::exception&) {
      // No thread for it: probe inline rather than report a guess.
      std::promise<ProbeResult> p;
      p.set_value(d.probe());
      running.push_back(p.get_future());
    }
  }
  r.ready = true;
  for (size_t i = 0; i < deps_.size(); i++) {
    ProbeResult p;
    try {
      p = running[i].get();
    } catch (const std::exception& e) {
      p = ProbeResult{false, std::string("probe failed: ") + e.what()};
    }
    r.ready = r.ready && p.up;
    r.dependencies.emplace_back(deps_[i].name, std::move(p));
  }
  r.checked_at = clock_();
  return r;
}

HttpResponse readiness_response(const ReadinessReport& r,
                                std::chrono::steady_clock::time_point now) {
  JsonPtr deps(json_object());
  for (const auto& [name, p] : r.dependencies) {
    JsonPtr d(json_object());
    json_set(d.get(), "state", p.up ? "up" : "down");
    if (!p.detail.empty()) json_set(d.get(), "detail", p.detail);
    json_set(deps.get(), name.c_str(), std::move(d));
  }
  JsonPtr j(json_object());
  const bool ready = r.ready && !r.stale;
  json_set(j.get(), "status", ready ? "ready" : "not ready");
  if (r.stale) json_set(j.get(), "stale", true);
  json_set(j.get(), "dependencies", std::move(deps));
  auto age = std::chrono::duration_cast<std::chrono::milliseconds>(now - r.checked_at).count();
  json_set(j.get(), "checked_ms_ago", static_cast<long long>(age < 0 ? 0 : age));
  HttpResponse resp;
  resp.status = ready ? 200 : 503;
  resp.body = json_text(j.get());
  resp.headers.emplace_back("Cache-Control", "no-store");
  return resp;
}

}  // namespace realm_sidecar
