// Fleet-wide tenant lifecycle: the sidecar writes sealed tenant records
// (`<prefix>tenant:<slug>`, core/tenant_registry.h: state and incarnation,
// core/tenant_incarnation.h) to Redis; every worker re-reads the records of
// the tenants it has seen every auth_realm_tenant_state_interval (one thread
// pool task per worker per interval) and refuses tokens of a disabled or
// deleted tenant, and tokens issued before the tenant's current incarnation
// began (a deleted realm whose slug came back), cached tokens included.
//
// The first token of a tenant a worker has not seen yet waits for one Redis
// read of its record (a thread pool task) before it is served: a worker
// that just started (or was reloaded) must not serve a deleted realm's
// token from the zone's caches on the strength of "not read yet".
//
// Only authentic records change what a worker believes, and only forward in
// time: a record sealed before the one the worker applied last (a replay)
// is ignored. Every authentic record a worker reads is also put in the zone
// (Zone::share_tenant_record) and every read, failed or not, also takes the
// zone's record when it is newer: what one worker of an nginx read, all its
// workers honour, also while Redis is unreachable (an outage, a Sentinel
// failover) and also for a tenant a worker sees for the first time then. A
// forged, oversized or missing record, or Redis being unreachable, changes
// nothing else: the worker keeps its last authentic record (a tenant that
// no worker of this nginx ever read is served: Redis is an optional tier
// and its outage must not take the gateway down). So whoever writes Redis without the
// fleet key can neither disable a tenant nor re-enable a disabled one nor
// end an incarnation; it can only withhold news (docs/REDIS_TRUST.md).
//
// When a record says the incarnation this worker knew has ended (deleted,
// or a new incarnation id), the worker drops the issuer's keys and verified
// tokens from its own caches and from the zone.
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "identity.h"
#include "jwks_source.h"
#include "ngx.h"
#include "redis_rejections.h"
#include "tenant_incarnation.h"

namespace realm_auth {

class Zone;
struct RequestCtx;

class TenantStates {
 public:
  TenantStates(const RedisEndpoint& redis, ngx_msec_t interval, ngx_thread_pool_t* pool, Zone* zone,
               RedisRejections* rejections, ngx_log_t* log);
  ~TenantStates();

  // Whether the verified `identity` of a tenant may be served: kOk,
  // kTenantDisabled or kTenantDeleted (core admit_tenant_token). When this
  // worker has not read the tenant's record yet, starts the read, queues
  // `ctx` to be woken when it lands and sets `wait`.
  Status admit(const Identity& identity, RequestCtx* ctx, bool& wait);

  // The tenant's record as this worker read it, else as another worker of
  // this nginx read it (the zone); false when none has. No I/O: for
  // choosing the reason of a refusal (unverified_refusal). The zone matters
  // here because a token verified once is held by its worker alone
  // (worker_token_cache.h, admission): another worker meets it fresh and may
  // never have read the tenant.
  bool known(const std::string& tenant_id, TenantRecordValue& out) const;

 private:
  struct Entry {
    TenantRecordValue info;  // the last authentic record (issued_ms orders them)
    bool known = false;      // a read finished (failed: the zone's record, else absent, counts)
    bool reading = false;    // a first read is in flight
    std::string issuer;      // the issuer its tokens carry (one pattern ⇒ one issuer per slug)
    ngx_queue_t waiters;     // RequestCtx::waiting links
  };
  struct RefreshJob;
  static void on_timer(ngx_event_t* ev);
  bool post(std::vector<std::string> slugs, bool periodic);
  static void run_refresh(void* data, ngx_log_t* log);  // thread pool
  static void refresh_done(ngx_event_t* ev);            // event loop
  // Drops the issuer's keys and verified tokens (worker and zone).
  void purge(const std::string& issuer);
  // Applies an authentic record unless it is older than the one applied.
  void apply(Entry& e, const TenantRecordValue& record);
  // Applies the zone's record of the slug (another worker's read), if newer.
  void adopt_shared(const std::string& slug, Entry& e);

  RedisEndpoint redis_;
  ngx_msec_t interval_;
  ngx_thread_pool_t* pool_;
  Zone* zone_;
  RedisRejections* rejections_;
  ngx_log_t* log_;
  ngx_event_t timer_;
  bool refreshing_ = false;
  std::unordered_map<std::string, Entry> tenants_;  // nodes are stable: waiters link into them
};

}  // namespace realm_auth
