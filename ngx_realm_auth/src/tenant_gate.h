// The tenant registry as a gate in front of all issuer state
// (auth_realm_tenant_registry on). A tenant realm this nginx holds nothing
// for is first looked up in the registry realm-sidecar keeps in Redis; only
// a registered tenant gets an issuer entry in the zone and a JWKS fetch. So
// a client naming made-up tenants (any slug fits `.../realms/tenant-*`)
// costs a Redis read and a slot in this bounded table, never zone room,
// worker memory or a request to the identity provider.
//
// Per worker, event loop only. Bounded: at most kMaxPending slugs waiting
// for Redis (more are refused at once) and kMaxVerdicts remembered
// verdicts (least recently used dropped). Lookups are batched: a thread
// pool task reads up to kBatch slugs over one connection.
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "jwks_source.h"
#include "ngx.h"
#include "redis_rejections.h"

namespace realm_auth {

class TenantGate {
 public:
  enum class Verdict {
    kRegistered,  // go on: make issuer state, fetch keys (also when Redis did not answer)
    kUnknown,     // not in the registry: refuse as tenant_unknown
    kDeleted,     // its record says deleted: refuse as tenant_deleted
    kPending,     // asked; wait on `queue` (woken when Redis answered)
    kBusy,        // too many lookups in flight: refuse now, the client may retry
  };

  static constexpr size_t kMaxPending = 512;
  static constexpr size_t kMaxVerdicts = 4096;
  static constexpr size_t kBatch = 64;
  static constexpr int kMaxTasks = 2;
  // A verdict is reused this long: a newly created tenant is served within
  // it, and a made-up slug repeated costs one Redis read per period.
  static constexpr ngx_msec_t kVerdictTtlMs = 1000;

  TenantGate(const RedisEndpoint& redis, ngx_thread_pool_t* pool, RedisRejections* rejections,
             ngx_log_t* log)
      : redis_(redis), pool_(pool), rejections_(rejections), log_(log) {
    ngx_queue_init(&lru_);
  }
  TenantGate(const TenantGate&) = delete;
  TenantGate& operator=(const TenantGate&) = delete;

  // `queue` is set for kPending: the caller links its request there.
  Verdict check(const std::string& slug, ngx_queue_t** queue);

 private:
  enum class State { kQueued, kAsking, kRegistered, kUnknown, kDeleted };
  struct Entry {
    State state = State::kQueued;
    ngx_msec_t decided_at = 0;
    ngx_queue_t waiters;  // RequestCtx::waiting links
    ngx_queue_t lru;      // link in lru_ once decided (most recent first)
    const std::string* slug = nullptr;
  };
  struct Task;

  void submit();                                // posts tasks for queued slugs
  static void run(void* data, ngx_log_t* log);  // thread pool
  static void done(ngx_event_t* ev);            // event loop
  void decide(Entry& e, State state);
  void forget_oldest();

  RedisEndpoint redis_;
  ngx_thread_pool_t* pool_;
  RedisRejections* rejections_;
  ngx_log_t* log_;
  std::unordered_map<std::string, Entry> entries_;  // nodes are stable: waiters link into them
  std::vector<std::string> queued_;                 // slugs not yet handed to a task
  size_t pending_ = 0;                              // entries kQueued or kAsking
  int tasks_ = 0;                                   // tasks in flight
  ngx_queue_t lru_;
};

}  // namespace realm_auth
