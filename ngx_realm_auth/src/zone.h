// The shared-memory zone (auth_realm_zone): what every worker of one nginx
// sees. These live in its slab pool, under its one mutex:
//   - per-issuer JWKS entries (raw document, fetch time, in-flight claim),
//   - the verified-token cache (SHA-256 key → serialized identity, LRU),
//   - the newest authentic tenant record any worker read (tenant_state.h),
//   - counters for auth_realm_status (atomics, no lock).
// Critical sections only copy bytes; parsing and crypto happen outside.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "identity.h"
#include "ngx.h"
#include "revocation_table.h"
#include "status.h"
#include "tenant_record.h"
#include "token_hash.h"

namespace realm_auth {

// Milliseconds from `then` to `now`, both ngx_current_msec readings. Zone
// timestamps come from other workers, whose cached clocks may run a little
// ahead of this one's: a "future" time counts as just now, never as the
// huge value an unsigned subtraction would give (that made a fresh entry
// look stale and an in-flight fetch look abandoned).
inline ngx_msec_t elapsed(ngx_msec_t then, ngx_msec_t now) { return now > then ? now - then : 0; }

enum class Counter : unsigned {
  kVerified,
  kTokenCacheHits,
  kTokenCacheMisses,
  kWorkerHits,
  kZoneHits,
  kRedisHits,
  kHttpFetches,
  kFetchFailures,
  kRedisErrors,
  kRedisRejected,  // Redis values ignored: forged, expired or oversized
  kRefetches,
  kIssuersRefused,  // a new issuer found no room: document-less issuers at their cap
  kCount
};

// What a worker learns about an issuer from the zone in one locked look.
struct IssuerSnapshot {
  bool known = false;         // an entry exists
  uint64_t generation = 0;    // changes on every stored document (unique in the zone)
  ngx_msec_t fetched_at = 0;  // when the stored document arrived
  bool has_document = false;
  std::string document;          // copied only when generation differs from `have`
  bool fetch_in_flight = false;  // some worker of this nginx is fetching
  bool claimed = false;          // this call claimed the fetch: caller must fetch
  bool no_fetch_slot = false;    // no keys, and too many such fetches in flight to start one
  bool failed_recently = false;  // last fetch failed within the back-off
};

// When a caller wants to claim the issuer's fetch.
enum class Claim { kNone, kIfStale, kRefetch };

struct ClaimPolicy {
  Claim claim = Claim::kNone;
  ngx_msec_t ttl = 0;               // stale after this
  ngx_msec_t fetch_timeout = 0;     // an older in-flight claim is abandoned
  ngx_msec_t refetch_interval = 0;  // for kRefetch
  bool create = true;               // make an entry for an unknown issuer (to claim it)
};

class Zone {
 public:
  // Called from the shm zone init callback (master, then on reload).
  static ngx_int_t init(ngx_shm_zone_t* shm_zone, void* old_data);

  explicit Zone(ngx_shm_zone_t* shm_zone) : shm_zone_(shm_zone) {}

  // Records of the revocation table made with the zone (0 = none: no
  // Redis, or auth_realm_revocation_records off). Set at configuration.
  void set_revocation_capacity(size_t records) { revocation_capacity_ = records; }
  // The revocation table, null when the zone has none. Made once per
  // process (init_process), then only read.
  RevocationTable* revocations();

  // Looks the issuer up; copies the document when its generation is not
  // `have`; optionally claims the fetch (see ClaimPolicy). False only when
  // a needed entry could not be made: the zone is full, or document-less
  // issuers (anyone can invent those) hold their whole share, an eighth of
  // the zone, each with a fetch in flight. Idle ones are reclaimed as new
  // ones come (failed ones after their back-off, or at once when the share
  // is full), so a refused made-up issuer costs one slot for about a second
  // at most.
  bool look_up_issuer(const std::string& issuer, uint64_t have, const ClaimPolicy& policy,
                      IssuerSnapshot& out);
  // Stores a fetched document, `age_ms` old already (a Redis copy), and
  // releases the claim. Returns the new generation (0 when the zone is full).
  uint64_t store_document(const std::string& issuer, const std::string& document,
                          ngx_msec_t age_ms);
  // Releases the claim after a failed fetch and starts the back-off;
  // requests for the issuer are refused (jwks_unavailable) until it ends.
  void fetch_failed(const std::string& issuer);
  // Releases the claim with no back-off: its fetch will never land (the
  // worker holding it exits with the fetch's thread still running).
  void abandon_fetch(const std::string& issuer);

  // Removes the issuer (its document, or its keyless slot) and every
  // verified token of the issuer: its tenant's incarnation ended. Bumps the
  // epoch, so workers drop their parsed copies too. Walks the token list under the mutex:
  // rare (a tenant deleted), and bounded by the zone's size.
  void forget_issuer(const std::string& issuer);

  // Verified-token cache. `now` in seconds since the epoch.
  bool find_token(const TokenHash& key, time_t now, Identity& out);
  void store_token(const TokenHash& key, const Identity& identity, time_t valid_until);

  // Tenant records (tenant_state.h): the newest authentic record a worker
  // of this nginx read from Redis, per slug, so that every worker honours
  // it, also one that could not read Redis itself (an outage, a failover)
  // or never read this tenant before. Only records that passed their seal
  // check are given here; a record sealed before the stored one is ignored
  // (forward only, as in each worker). Entries are made only for tenants
  // whose tokens verified, at most an eighth of the zone; beyond that a
  // record is not shared (the worker still applies it itself).
  void share_tenant_record(const std::string& slug, const TenantRecordValue& record);
  // The stored record of `slug`; false when none.
  bool shared_tenant_record(const std::string& slug, TenantRecordValue& out);

  // Bumps whenever any issuer's document changes; read without the lock so
  // workers notice a rotation on their next request, not at their TTL.
  uint64_t jwks_epoch() const;

  void count(Counter c, ngx_atomic_int_t n = 1);
  void count_refused(Status s);
  // One JWKS fetch job (Redis, then HTTP) took `micros`: the fetch latency
  // histogram, by result. Fixed buckets (kFetchBuckets), atomics, no lock.
  void observe_fetch(bool ok, uint64_t micros);

  // Upper bounds (seconds) of the fetch latency histogram's buckets.
  static constexpr size_t kFetchBucketCount = 11;
  static const double kFetchBuckets[kFetchBucketCount];

  // Every number auth_realm_status shows, read at once (status_prometheus.cc
  // renders it in the Prometheus text format).
  struct Stats {
    uint64_t counters[static_cast<unsigned>(Counter::kCount)] = {};
    uint64_t refused[static_cast<unsigned>(Status::kCount)] = {};
    uint64_t fetch_buckets[2][kFetchBucketCount + 1] = {};  // [0] failed, [1] ok
    uint64_t fetch_sum_us[2] = {};
    uint64_t issuers = 0, issuers_without_keys = 0, tokens = 0;
    uint64_t size = 0, pages = 0, free_pages = 0;
    std::string name;
    bool has_revocation = false;
    RevocationStats revocation;
  };
  Stats stats();

  // JSON for auth_realm_status, allocated in `pool`.
  ngx_str_t status_json(ngx_pool_t* pool);

 private:
  struct Shared;
  Shared* shared() const;
  // Drops up to `n` least recently used verified tokens (only expired ones
  // when `only_expired`). Caller holds the mutex. Tokens are the zone's only
  // disposable data: a full zone gives their room to issuers and keys.
  void drop_tokens_locked(int n, bool only_expired, time_t now);
  // Document-less issuers (slots anyone can fill by naming a realm): a new
  // one first reclaims idle old ones, and is refused (nullptr) at the cap.
  void* new_issuer_locked(const std::string& issuer, uint32_t hash, ngx_msec_t now);
  int reclaim_keyless_locked(int budget, ngx_msec_t now, bool pressed);
  void touch_keyless_locked(void* node);
  // Ends an issuer's fetch claim (and its count among keyless fetches).
  void release_claim_locked(void* node);
  // ngx_slab_alloc_locked, retrying once after reclaiming idle issuers and
  // dropping tokens.
  void* alloc_locked(size_t size, bool zeroed);
  ngx_slab_pool_t* slab() const;
  std::string revocation_json();  // the "revocation" member of status_json
  // Allocates the revocation table in a zone that has none.
  static ngx_int_t add_revocations(ngx_shm_zone_t* shm_zone, size_t capacity);
  ngx_shm_zone_t* shm_zone_;
  size_t revocation_capacity_ = 0;
  std::unique_ptr<RevocationTable> revocations_;
};

}  // namespace realm_auth
