// The worker's view of every issuer's keys, and the only place that starts
// JWKS fetches. Tiers, each hit stops the walk:
//   worker memory (parsed Jwks, no lock) → shared zone (raw document, parsed
//   once per worker per generation) → thread pool task: Redis → HTTP.
// Requests that must wait are queued per issuer and woken when this worker's
// fetch lands; requests of other workers poll the zone (see access_handler).
// Event-loop thread only, except run_fetch which touches only its job.
//
// Bounded against made-up issuers (anyone can name a new realm under an
// allowed pattern): the worker map holds only issuers with keys or with
// requests waiting for them; the zone keeps document-less issuers in a
// capped, reclaimed share (zone.h); with the registry on, nothing is made
// for a tenant before the registry knows it (tenant_gate.h).
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "identity.h"
#include "jwks.h"
#include "jwks_source.h"
#include "key_check_memo.h"
#include "module.h"
#include "ngx.h"
#include "redis_rejections.h"
#include "tenant_gate.h"
#include "zone.h"

namespace realm_auth {

class KeyStore {
 public:
  enum class Result { kReady, kWait, kFail };
  struct Lookup {
    Result result = Result::kFail;
    std::shared_ptr<const Jwks> keys;  // kReady
    Status status = Status::kOk;       // kFail
    ngx_queue_t* queue = nullptr;      // kWait: where the request waits to be woken
  };

  // `tenant_registry`: before making any state for a tenant realm, check
  // that the sidecar's registry in Redis knows the tenant
  // (auth_realm_tenant_registry); needs source.use_redis.
  // `rejections` hears of every Redis value that failed its check.
  KeyStore(Zone* zone, ngx_thread_pool_t* pool, const JwksSourceConfig& source,
           bool tenant_registry, RedisRejections* rejections, ngx_log_t* log);
  KeyStore(const KeyStore&) = delete;
  KeyStore& operator=(const KeyStore&) = delete;

  // At worker exit (exit_process), after nginx's thread pool has run its
  // queued tasks: settles the fetches whose completion nginx will never
  // run (see key_store.cc).
  void settle_at_exit();

  // Keys of `issuer`, fresh per the location's TTL, or stale within
  // auth_realm_jwks_stale while a refresh runs. Starts a fetch when this
  // nginx has none in flight. `after_refetch`: the caller waited for an
  // unknown-kid refetch, so only keys from after it will do. `tenant_id`:
  // the issuer's tenant slug (empty for a non-tenant realm).
  Lookup acquire(const std::string& issuer, const std::string& tenant_id, const LocConf& lcf,
                 bool after_refetch);

  // The token's kid is not in the keys: refetch over HTTP unless one ran
  // within auth_realm_jwks_refetch_interval. kWait, or kFail(kKeyNotFound).
  Lookup refetch(const std::string& issuer, const LocConf& lcf);

  // Whether the issuer still publishes the identity's key, as far as this
  // nginx knows (no I/O): a cached identity whose key was unpublished is
  // not reused. Keys past the location's TTL are refreshed as acquire()
  // would, and vouch only while they may serve stale. `memo`: what the
  // previous check of this token found (key_check_memo.h), updated here;
  // while the issuer's entry and its key set are the same, the kid is not
  // looked for again.
  bool still_published(const Identity& identity, const LocConf& lcf, KeyCheckMemo& memo);

  // Erases this worker's entry of `issuer` (its tenant's incarnation
  // ended), waking its waiters first.
  void forget(const std::string& issuer);

  // Queue `ctx` on a kWait lookup's queue, to be woken when what it waits
  // for (a fetch of this worker, a registry answer) lands.
  static void wait(RequestCtx* ctx, ngx_queue_t* queue);
  static void stop_waiting(RequestCtx* ctx);
  // Wakes every request in `waiters`: they re-run the access phase.
  static void wake_all(ngx_queue_t* waiters);

 private:
  struct Issuer {
    std::shared_ptr<const Jwks> keys;  // parsed document
    uint64_t keys_serial = 0;          // which key set `keys` is (set_keys); 0: never had one
    uint64_t generation = 0;           // zone generation of `keys`
    ngx_msec_t fetched_at = 0;         // when the zone got that document
    uint64_t epoch = 0;                // zone epoch when last compared with the zone
    ngx_queue_t waiters;               // RequestCtx::waiting links
  };
  struct FetchJob;

  Issuer* find_entry(const std::string& issuer);
  // The only ways keys are set and entries erased: both keep every
  // KeyCheckMemo honest (a new serial per key set; an erased entry that
  // ever had keys invalidates every memo, whose pointer may name it).
  void set_keys(Issuer& w, std::shared_ptr<const Jwks> keys);
  void erase_entry(std::unordered_map<std::string, KeyStore::Issuer>::iterator it);
  Issuer& issuer_entry(const std::string& issuer);
  // A kWait lookup: the request waits on the issuer's entry.
  Lookup wait_for(const std::string& issuer);
  // Drops `issuer`'s entry when it holds nothing (no keys, no waiters).
  void forget_if_idle(const std::string& issuer);
  // Applies a zone snapshot; parses a new document, making the worker's
  // entry when there was none. Returns the entry, or `w` unchanged.
  Issuer* refresh_from_zone(const std::string& issuer, Issuer* w, IssuerSnapshot& snap);
  // With the registry on: whether a tenant issuer the zone does not know may
  // get state; kFail or kWait when not (yet).
  bool admitted(const std::string& tenant_id, Lookup& out);
  // Log level for an operator-facing fetch failure: warn at most once a
  // second per worker, info after that (the failures may be client-made).
  ngx_uint_t warn_level();
  bool start_fetch(const std::string& issuer, bool force_http, const LocConf& lcf);
  static void run_fetch(void* data, ngx_log_t* log);  // thread pool
  static void fetch_done(ngx_event_t* ev);            // event loop
  void finish_fetch(FetchJob& job);
  // The zone's part of a fetch's outcome: counters, the document or the
  // failure's back-off. Needs no event loop (also used at worker exit).
  void record_outcome(const FetchJob& job, uint64_t& generation, ngx_msec_t& age);

  Zone* zone_;
  ngx_thread_pool_t* pool_;
  JwksSourceConfig source_;           // Redis endpoint; timeouts set per fetch
  RedisRejections* rejections_;       // forged or oversized values read from Redis
  std::unique_ptr<TenantGate> gate_;  // auth_realm_tenant_registry
  ngx_log_t* log_;
  std::unordered_map<std::string, Issuer> issuers_;  // nodes are stable: waiters link into them
  std::unordered_set<FetchJob*> in_flight_;          // posted, completion not run yet
  size_t sweep_at_ = kFirstSweep;                    // sweep idle entries past this size
  uint64_t keys_serials_ = 0;                        // the last serial set_keys gave
  uint64_t keyed_erasures_ = 0;                      // entries erased that once had keys
  ngx_msec_t last_warn_ = 0;
  static constexpr size_t kFirstSweep = 1024;
};

}  // namespace realm_auth
