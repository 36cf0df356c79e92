#include "governance/rate_limit.h"

#include <algorithm>
#include <cmath>

namespace realm_sidecar {

namespace {
// Actor keys come from verified tokens, but a long `sub` must not make a
// bucket expensive: longer keys are cut (still unique enough per realm).
constexpr size_t kMaxKey = 512;
}  // namespace

ActorRateLimiter::ActorRateLimiter(RateLimitConfig config) : config_(config) {
  config_.burst = std::max(config_.burst, 1.0);
  config_.per_second = std::max(config_.per_second, 1e-6);
  config_.max_actors = std::max<size_t>(config_.max_actors, 1);
  stats_.actors_max = config_.max_actors;
}

RateVerdict ActorRateLimiter::admit(const std::string& actor_in, Clock::time_point now) {
  const std::string actor = actor_in.substr(0, kMaxKey);
  std::lock_guard<std::mutex> g(mu_);
  auto it = buckets_.find(actor);
  if (it == buckets_.end()) {
    if (buckets_.size() >= config_.max_actors) {
      buckets_.erase(lru_.back());
      lru_.pop_back();
      stats_.evicted_total++;
    }
    lru_.push_front(actor);
    it = buckets_.emplace(actor, Bucket{config_.burst, now, now, 0, false, lru_.begin()}).first;
  } else {
    lru_.splice(lru_.begin(), lru_, it->second.lru);
  }
  Bucket& b = it->second;
  const double elapsed = std::chrono::duration<double>(now - b.last).count();
  if (elapsed > 0) b.tokens = std::min(config_.burst, b.tokens + elapsed * config_.per_second);
  b.last = std::max(b.last, now);

  RateVerdict v;
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    stats_.allowed_total++;
    return v;
  }
  v.allowed = false;
  v.retry_after_s =
      std::max(1L, static_cast<long>(std::ceil((1.0 - b.tokens) / config_.per_second)));
  stats_.refused_total++;
  b.refused_unreported++;
  // The actor's first refusal, then at most one report per interval.
  if (!b.reported || now - b.last_report >= config_.report_interval) {
    v.report_refused = b.refused_unreported;
    b.refused_unreported = 0;
    b.last_report = now;
    b.reported = true;
  }
  return v;
}

RateLimitStats ActorRateLimiter::stats() const {
  std::lock_guard<std::mutex> g(mu_);
  RateLimitStats s = stats_;
  s.actors_tracked = buckets_.size();
  return s;
}

}  // namespace realm_sidecar
