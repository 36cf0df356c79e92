// Where the keys come from once the local tiers (worker memory, shared zone)
// missed: Redis (shared by every nginx instance), then the issuer over HTTP.
// Blocking: runs in the nginx thread pool or a sidecar thread only.
//
// Fleet-wide single flight: the instance that misses Redis takes a lock
// (SET NX PX) and reads Redis once more before fetching (the previous holder
// may have stored the keys and let the lock go since its first read); the
// others poll Redis for the document until the lock expires, then fetch
// themselves. Redis errors never fail the lookup: the
// fetch goes straight to HTTP ("Redis down → keep serving").
//
// Redis is not believed (docs/REDIS_TRUST.md): a document is used only when
// its seal checks out (fleet HMAC key, unexpired) and it parses; anything
// else is reported as `redis_rejected` and treated as a miss, so the keys
// come from the issuer and the forged entry is overwritten. A lock held by
// someone who never publishes costs at most lock_wait_ms per lookup.
#pragma once

#include <string>

#include "redis_client.h"
#include "status.h"

namespace realm_auth {

struct JwksSourceConfig {
  bool use_redis = false;
  RedisEndpoint redis;
  long fetch_timeout_ms = 3000;  // whole HTTP exchange
  size_t max_body = 65536;       // bytes of a JWKS document
  long ttl_ms = 300000;          // Redis entry lifetime (auth_realm_jwks_ttl)
  long lock_ttl_ms = 5000;       // lifetime of our fleet lock (covers our fetch)
  long lock_wait_ms = 500;       // the most we wait for another holder
  long poll_interval_ms = 50;    // how often a waiting instance re-reads Redis
};

enum class JwksOrigin { kNone, kRedis, kHttp };

struct JwksFetchOutcome {
  Status status = Status::kJwksUnavailable;  // kOk, kJwksUnavailable or kJwksMalformed
  JwksOrigin origin = JwksOrigin::kNone;
  std::string body;             // a JWKS document that Jwks::parse accepts
  std::string error;            // for the error log
  bool redis_error = false;     // Redis was configured but failed
  bool redis_rejected = false;  // Redis held a forged, expired or oversized document
  std::string rejection;        // why, for a rate-limited log line (no value quoted)
  long http_status = 0;         // status of the HTTP fetch, 0 when none arrived
  // How old the document already was when it arrived: for a Redis copy, the
  // time since another instance fetched it (the seal's issue time), so the
  // key set expires at the issuer's pace, not TTL after every reader's read.
  long age_ms = 0;
};

// `force_http` skips the Redis read (unknown-kid refetch: Redis holds the
// same stale set); the fresh document is still written back to Redis.
// Only documents that Jwks::parse accepts are returned or stored in Redis.
JwksFetchOutcome obtain_jwks(const std::string& issuer, bool force_http,
                             const JwksSourceConfig& config);

}  // namespace realm_auth
