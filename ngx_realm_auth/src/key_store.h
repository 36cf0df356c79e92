// The worker's view of every issuer's keys, and the only place that starts
// JWKS fetches. Tiers, each hit stops the walk:
//   worker memory (parsed Jwks, no lock) → shared zone (raw document, parsed
//   once per worker per generation) → thread pool task: Redis → HTTP.
// Requests that must wait are queued per issuer and woken when this worker's
// fetch lands; requests of other workers poll the zone (see access_handler).
// Event-loop thread only, except run_fetch which touches only its job.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>

#include "jwks.h"
#include "jwks_source.h"
#include "module.h"
#include "ngx.h"
#include "redis_rejections.h"
#include "zone.h"

namespace realm_auth {

class KeyStore {
 public:
  enum class Result { kReady, kWait, kFail };
  struct Lookup {
    Result result = Result::kFail;
    std::shared_ptr<const Jwks> keys;  // kReady
    Status status = Status::kOk;       // kFail
  };

  // `tenant_registry`: before fetching the keys of a tenant realm, check
  // that the sidecar's registry in Redis knows the tenant
  // (auth_realm_tenant_registry); needs source.use_redis.
  // `rejections` hears of every Redis value that failed its check.
  KeyStore(Zone* zone, ngx_thread_pool_t* pool, const JwksSourceConfig& source,
           bool tenant_registry, RedisRejections* rejections, ngx_log_t* log)
      : zone_(zone),
        pool_(pool),
        source_(source),
        tenant_registry_(tenant_registry),
        rejections_(rejections),
        log_(log) {}

  // Keys of `issuer`, fresh per the location's TTL, or stale within
  // auth_realm_jwks_stale while a refresh runs. Starts a fetch when this
  // nginx has none in flight. `after_refetch`: the caller waited for an
  // unknown-kid refetch, so only keys from after it will do. `tenant_id`:
  // the issuer's tenant slug (empty for a non-tenant realm).
  Lookup acquire(const std::string& issuer, const std::string& tenant_id, const LocConf& lcf,
                 bool after_refetch);

  // The token's kid is not in the keys: refetch over HTTP unless one ran
  // within auth_realm_jwks_refetch_interval. kWait, or kFail(kKeyNotFound).
  Lookup refetch(const std::string& issuer, const std::string& tenant_id, const LocConf& lcf);

  // Whether the issuer still publishes `kid`, as far as this nginx knows
  // (no I/O): a cached identity whose key was unpublished is not reused.
  bool still_published(const std::string& issuer, const std::string& kid);

  // Queue `ctx` to be woken when this worker's fetch for `issuer` lands.
  void wait(RequestCtx* ctx, const std::string& issuer);
  static void stop_waiting(RequestCtx* ctx);

 private:
  struct Issuer {
    std::shared_ptr<const Jwks> keys;  // parsed document
    uint64_t generation = 0;           // zone generation of `keys`
    ngx_msec_t fetched_at = 0;         // when the zone got that document
    uint64_t epoch = 0;                // zone epoch when last compared with the zone
    ngx_queue_t waiters;               // RequestCtx::waiting links
  };
  struct FetchJob;

  Issuer& issuer_entry(const std::string& issuer);
  // Applies a zone snapshot to the worker's entry; parses a new document.
  void refresh_from_zone(Issuer& w, IssuerSnapshot& snap);
  bool start_fetch(const std::string& issuer, const std::string& tenant_id, bool force_http,
                   const LocConf& lcf);
  static void run_fetch(void* data, ngx_log_t* log);  // thread pool
  static void fetch_done(ngx_event_t* ev);            // event loop
  void finish_fetch(FetchJob& job);

  Zone* zone_;
  ngx_thread_pool_t* pool_;
  JwksSourceConfig source_;  // Redis endpoint; timeouts set per fetch
  bool tenant_registry_;     // auth_realm_tenant_registry
  RedisRejections* rejections_;
  ngx_log_t* log_;
  std::unordered_map<std::string, Issuer> issuers_;  // nodes are stable: waiters link into them
};

}  // namespace realm_auth
