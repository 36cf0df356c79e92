// Per-actor token buckets in front of the governed-call flow: every
// governed call appends ledger rows under one global lock, so an actor
// looping calls (even denied ones) must not turn into unbounded ledger
// growth. Memory is bounded: at most `max_actors` buckets, the least
// recently seen evicted first (an evicted actor starts again with a full
// bucket, which only the churn of `max_actors` other verified actors can
// cause). Refusals are counted, not silent: totals for GET /status, and
// one log line per actor per report interval with the number refused.
//
//   ActorRateLimiter limiter({60, 5.0, 10000});
//   RateVerdict v = limiter.admit(tenant_id + "/" + actor_id, now);
//   if (!v.allowed) → 429, Retry-After: v.retry_after_s
#pragma once

#include <chrono>
#include <cstdint>
#include <list>
#include <mutex>
#include <string>
#include <unordered_map>

namespace realm_sidecar {

struct RateLimitConfig {
  double burst = 60;          // calls allowed at once (bucket size)
  double per_second = 5;      // refill rate
  size_t max_actors = 10000;  // buckets kept
  std::chrono::seconds report_interval{60};
};

struct RateVerdict {
  bool allowed = true;
  long retry_after_s = 0;  // when refused: seconds until one call is possible
  // When refused and a report is due: calls of this actor refused since its
  // last report (this one included); 0 = nothing to log now.
  uint64_t report_refused = 0;
};

struct RateLimitStats {
  uint64_t allowed_total = 0;
  uint64_t refused_total = 0;
  uint64_t evicted_total = 0;
  size_t actors_tracked = 0;
  size_t actors_max = 0;
};

class ActorRateLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  explicit ActorRateLimiter(RateLimitConfig config);

  // One call by `actor` at `now`. Thread-safe.
  RateVerdict admit(const std::string& actor, Clock::time_point now = Clock::now());
  RateLimitStats stats() const;
  const RateLimitConfig& config() const { return config_; }

 private:
  struct Bucket {
    double tokens;
    Clock::time_point last;
    Clock::time_point last_report;
    uint64_t refused_unreported = 0;
    bool reported = false;
    std::list<std::string>::iterator lru;
  };

  RateLimitConfig config_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;
  std::list<std::string> lru_;  // front: most recently seen
  RateLimitStats stats_;
};

}  // namespace realm_sidecar
