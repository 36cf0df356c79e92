// Fleet-wide tenant lifecycle: the sidecar writes `<prefix>tenant:<slug>` =
// active | disabled | deleted to Redis; every worker re-reads the states of
// the tenants it has seen every auth_realm_tenant_state_interval (one thread
// pool task per worker per interval) and refuses tokens of a disabled or
// deleted tenant, cached tokens included. A tenant not yet read, or Redis
// being unreachable, does not block requests: Redis is an optional tier and
// its outage must not take the gateway down. So a disabled tenant is refused
// within one interval (plus Redis latency) of the sidecar's write.
#pragma once

#include <string>
#include <unordered_map>

#include "jwks_source.h"
#include "ngx.h"

namespace realm_auth {

class TenantStates {
 public:
  TenantStates(const RedisEndpoint& redis, ngx_msec_t interval, ngx_thread_pool_t* pool,
               ngx_log_t* log);
  ~TenantStates();

  // False when the tenant is known to be disabled or deleted. Remembers the
  // slug so the next refresh reads its state.
  bool allowed(const std::string& tenant_id);

 private:
  struct RefreshJob;
  static void on_timer(ngx_event_t* ev);
  static void run_refresh(void* data, ngx_log_t* log);  // thread pool
  static void refresh_done(ngx_event_t* ev);            // event loop

  RedisEndpoint redis_;
  ngx_msec_t interval_;
  ngx_thread_pool_t* pool_;
  ngx_log_t* log_;
  ngx_event_t timer_;
  bool refreshing_ = false;
  std::unordered_map<std::string, bool> blocked_;  // slug → disabled/deleted
};

}  // namespace realm_auth
