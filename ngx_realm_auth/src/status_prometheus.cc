#include "status_prometheus.h"

#include "prometheus_text.h"

namespace realm_auth {

namespace {

uint64_t counter(const Zone::Stats& st, Counter c) { return st.counters[static_cast<unsigned>(c)]; }

}  // namespace

std::string prometheus_status(const Zone::Stats& st) {
  PromText p;

  p.family("realm_auth_requests_total", "counter",
           "Requests the module authenticated: verified, or refused with the reason "
           "($realm_auth_error).");
  p.sample("realm_auth_requests_total", {{"result", "verified"}}, counter(st, Counter::kVerified));
  for (unsigned i = 1; i < static_cast<unsigned>(Status::kCount); i++) {
    p.sample("realm_auth_requests_total",
             {{"result", "refused"}, {"reason", status_name(static_cast<Status>(i))}},
             st.refused[i]);
  }

  p.family("realm_auth_token_cache_lookups_total", "counter",
           "Verified-token cache lookups in the shared zone, by result.");
  p.sample("realm_auth_token_cache_lookups_total", {{"result", "hit"}},
           counter(st, Counter::kTokenCacheHits));
  p.sample("realm_auth_token_cache_lookups_total", {{"result", "miss"}},
           counter(st, Counter::kTokenCacheMisses));
  p.family("realm_auth_token_cache_entries", "gauge", "Verified tokens held in the shared zone.");
  p.sample("realm_auth_token_cache_entries", {}, st.tokens);

  p.family("realm_auth_jwks_lookups_total", "counter",
           "Signing-key look-ups by the tier that answered (worker, zone, redis, http) and "
           "result: hit (a cached copy), ok (a fetched document), failed (no usable keys).");
  p.sample("realm_auth_jwks_lookups_total", {{"tier", "worker"}, {"result", "hit"}},
           counter(st, Counter::kWorkerHits));
  p.sample("realm_auth_jwks_lookups_total", {{"tier", "zone"}, {"result", "hit"}},
           counter(st, Counter::kZoneHits));
  p.sample("realm_auth_jwks_lookups_total", {{"tier", "redis"}, {"result", "hit"}},
           counter(st, Counter::kRedisHits));
  p.sample("realm_auth_jwks_lookups_total", {{"tier", "http"}, {"result", "ok"}},
           counter(st, Counter::kHttpFetches));
  p.sample("realm_auth_jwks_lookups_total", {{"tier", "http"}, {"result", "failed"}},
           counter(st, Counter::kFetchFailures));

  p.family("realm_auth_jwks_fetch_duration_seconds", "histogram",
           "Time a JWKS fetch job took in the thread pool (Redis copy, then the issuer), by "
           "result.");
  for (unsigned ok = 0; ok < 2; ok++) {
    p.histogram("realm_auth_jwks_fetch_duration_seconds", {{"result", ok ? "ok" : "failed"}},
                Zone::kFetchBuckets, st.fetch_buckets[ok], Zone::kFetchBucketCount,
                static_cast<double>(st.fetch_sum_us[ok]) / 1e6);
  }

  p.family("realm_auth_jwks_refetches_total", "counter",
           "Early JWKS re-fetches for an unknown kid (key rotation).");
  p.sample("realm_auth_jwks_refetches_total", {}, counter(st, Counter::kRefetches));
  p.family("realm_auth_jwks_redis_errors_total", "counter",
           "Redis errors while reading or writing JWKS copies.");
  p.sample("realm_auth_jwks_redis_errors_total", {}, counter(st, Counter::kRedisErrors));
  p.family("realm_auth_jwks_redis_rejected_total", "counter",
           "Redis JWKS values ignored: forged, expired or oversized.");
  p.sample("realm_auth_jwks_redis_rejected_total", {}, counter(st, Counter::kRedisRejected));
  p.family("realm_auth_jwks_issuers_refused_total", "counter",
           "New issuers refused a zone slot: issuers without keys at their cap.");
  p.sample("realm_auth_jwks_issuers_refused_total", {}, counter(st, Counter::kIssuersRefused));
  p.family("realm_auth_jwks_issuers", "gauge",
           "Issuers held in the shared zone, with and without keys.");
  p.sample("realm_auth_jwks_issuers", {{"keys", "yes"}}, st.issuers - st.issuers_without_keys);
  p.sample("realm_auth_jwks_issuers", {{"keys", "no"}}, st.issuers_without_keys);

  p.family("realm_auth_zone_size_bytes", "gauge", "Size of the auth_realm_zone.");
  p.sample("realm_auth_zone_size_bytes", {{"zone", st.name}}, st.size);
  p.family("realm_auth_zone_pages", "gauge", "Slab pages of the auth_realm_zone.");
  p.sample("realm_auth_zone_pages", {{"zone", st.name}}, st.pages);
  p.family("realm_auth_zone_free_pages", "gauge", "Free slab pages of the auth_realm_zone.");
  p.sample("realm_auth_zone_free_pages", {{"zone", st.name}}, st.free_pages);

  if (st.has_revocation) {
    const RevocationStats& r = st.revocation;
    p.family("realm_auth_revocation_records", "gauge", "Revocation records held.");
    p.sample("realm_auth_revocation_records", {}, r.records);
    p.family("realm_auth_revocation_capacity", "gauge",
             "Revocation records the table can hold (auth_realm_revocation_records).");
    p.sample("realm_auth_revocation_capacity", {}, r.capacity);
    p.family("realm_auth_revocation_polls_total", "counter", "Revocation feed polls, by result.");
    p.sample("realm_auth_revocation_polls_total", {{"result", "ok"}}, r.polls);
    p.sample("realm_auth_revocation_polls_total", {{"result", "error"}}, r.poll_errors);
    p.family("realm_auth_revocation_rejected_total", "counter",
             "Revocation records refused: bad seal or malformed.");
    p.sample("realm_auth_revocation_rejected_total", {}, r.rejected);
    p.family("realm_auth_revocation_overflowed_total", "counter",
             "Revocation records that found the table full (folded into the floor).");
    p.sample("realm_auth_revocation_overflowed_total", {}, r.overflowed);
    p.family("realm_auth_revocation_dropped_total", "counter",
             "Revocation records dropped after their tokens expired.");
    p.sample("realm_auth_revocation_dropped_total", {}, r.dropped);
    if (r.polled) {
      p.family("realm_auth_revocation_last_poll_age_seconds", "gauge",
               "Time since the last successful revocation poll.");
      p.sample("realm_auth_revocation_last_poll_age_seconds", {},
               static_cast<double>(r.last_poll_age) / 1e3);
    }
  }
  return p.text();
}

}  // namespace realm_auth
