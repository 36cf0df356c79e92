// Counting and rate-limited logging of rejected Redis values (redis_rejections.h).
#include "redis_rejections.h"

namespace realm_auth {

void RedisRejections::note(const std::string& what) {
  zone_->count(Counter::kRedisRejected);
  unlogged_++;
  if (logged_ && ngx_current_msec - logged_at_ < kLogEveryMs) return;
  ngx_log_error(NGX_LOG_WARN, log_, 0,
                "realm_auth: ignored Redis entries that failed their check: %ui since the last "
                "report, last %s (counted in jwks.redis_rejected; next report in a minute at "
                "the earliest)",
                unlogged_, what.c_str());
  logged_ = true;
  logged_at_ = ngx_current_msec;
  unlogged_ = 0;
}

}  // namespace realm_auth
