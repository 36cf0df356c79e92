// Values from Redis that fail their check (forged, expired, oversized; see
// docs/REDIS_TRUST.md) are ignored where they are read, then reported here
// on the event loop: counted in the zone (jwks.redis_rejected of
// auth_realm_status) and logged at most once a minute per worker, so a
// planted entry that is re-read every refresh cannot flood the log.
// Per worker, event-loop thread only.
#pragma once

#include <string>

#include "ngx.h"
#include "zone.h"

namespace realm_auth {

class RedisRejections {
 public:
  RedisRejections(Zone* zone, ngx_log_t* log) : zone_(zone), log_(log) {}

  // `what`: the key and the reason, never the value.
  void note(const std::string& what);

 private:
  static constexpr ngx_msec_t kLogEveryMs = 60000;
  Zone* zone_;
  ngx_log_t* log_;
  bool logged_ = false;
  ngx_msec_t logged_at_ = 0;
  ngx_uint_t unlogged_ = 0;  // rejections since the last line
};

}  // namespace realm_auth
