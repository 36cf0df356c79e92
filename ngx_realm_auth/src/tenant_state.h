// Fleet-wide tenant lifecycle: the sidecar writes sealed tenant records
// (`<prefix>tenant:<slug>`, core/tenant_registry.h) to Redis; every worker
// re-reads the states of the tenants it has seen every
// auth_realm_tenant_state_interval (one thread pool task per worker per
// interval) and refuses tokens of a disabled or deleted tenant, cached
// tokens included. So a disabled tenant is refused within one interval
// (plus Redis latency) of the sidecar's write.
//
// Only authentic records change what a worker believes, and only forward in
// time: a record sealed before the one the worker applied last (a replay)
// is ignored. A forged, oversized or missing record, or Redis being
// unreachable, changes nothing: the worker keeps its last authentic state
// (a tenant never read is served). So whoever writes Redis without the
// fleet key can neither disable a tenant nor re-enable a disabled one; it
// can only withhold news (docs/REDIS_TRUST.md).
#pragma once

#include <string>
#include <unordered_map>

#include "jwks_source.h"
#include "ngx.h"
#include "redis_rejections.h"

namespace realm_auth {

class TenantStates {
 public:
  TenantStates(const RedisEndpoint& redis, ngx_msec_t interval, ngx_thread_pool_t* pool,
               RedisRejections* rejections, ngx_log_t* log);
  ~TenantStates();

  // False when the tenant is known to be disabled or deleted. Remembers the
  // slug so the next refresh reads its state.
  bool allowed(const std::string& tenant_id);

 private:
  struct RefreshJob;
  struct Known {
    bool blocked = false;   // disabled or deleted
    int64_t issued_ms = 0;  // seal time of the record applied last (0: none)
  };
  static void on_timer(ngx_event_t* ev);
  static void run_refresh(void* data, ngx_log_t* log);  // thread pool
  static void refresh_done(ngx_event_t* ev);            // event loop

  RedisEndpoint redis_;
  ngx_msec_t interval_;
  ngx_thread_pool_t* pool_;
  RedisRejections* rejections_;
  ngx_log_t* log_;
  ngx_event_t timer_;
  bool refreshing_ = false;
  std::unordered_map<std::string, Known> known_;  // slug → last authentic state
};

}  // namespace realm_auth
