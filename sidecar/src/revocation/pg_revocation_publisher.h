// The RevocationPublisher of realm-sidecar: PostgreSQL is the durable side,
// Redis the broadcast the module reads (core/revocation_feed.h).
//
//   publish(r): INSERT a row into `revocations` (migration 0004): once that
//               committed the record is promised (true); then XADD it to
//               the stream and mark the row published. Redis failing does
//               not fail the call: the background pass retries.
//
// The background pass (start(); every `interval`, or run_pass() in tests):
//   1. deletes rows, and replay-cache jtis, that can name no valid token;
//   2. checks the feed's epoch marker in Redis (revocation_epoch_key(),
//      sealed, holding revocation_feed.epoch). Missing or different means
//      Redis lost its data: under a PostgreSQL advisory lock (one sidecar
//      of many rebuilds; the others skip), every unexpired row is
//      republished, then the marker is written back;
//   3. retries rows Redis has not taken (FOR UPDATE SKIP LOCKED: two
//      sidecars never take the same row);
//   4. trims stream entries older than the longest record lifetime.
// Duplicates (an inline push racing a rebuild) are harmless: readers keep
// the largest not_before per key. They stay bounded: one rebuild per loss,
// one retry per row per pass, rows only until they expire.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "redis_client.h"
#include "revocation/revocation_publisher.h"
#include "store/pg.h"

namespace realm_sidecar {

struct RevocationPublisherConfig {
  bool use_redis = false;  // false: rows only (docs: what is then not revoked)
  realm_auth::RedisEndpoint redis;
  // The longest access-token lifetime a tenant realm can issue (realm spec,
  // REVOCATION_TOKEN_LIFETIME may raise it) and the clock skew on top.
  int64_t token_lifetime_s = 300;
  int64_t skew_s = 60;
  std::chrono::milliseconds interval{1000};
  int batch = 500;  // rows per retry pass
  // A pending row younger than this belongs to a publish() still pushing
  // it: the retry leaves it alone (a duplicate would be harmless, only
  // wasted).
  long retry_after_ms = 1000;
  long trim_every_s = 60;  // XTRIM at most this often
  // Seconds since the epoch; replaceable in tests.
  std::function<int64_t()> clock;
};

// What one pass did, for logs and tests.
struct RevocationPassReport {
  int expired_deleted = 0;
  int jtis_deleted = 0;
  int retried = 0;       // pending rows Redis took now
  int republished = 0;   // rows pushed again after Redis lost its data
  bool rebuilt = false;  // this pass rebuilt the stream
  bool redis_down = false;
  bool trimmed = false;
  std::string error;  // the first failure, for the log
};

class PgRevocationPublisher : public RevocationPublisher {
 public:
  PgRevocationPublisher(PgPool& pg, RevocationPublisherConfig config);
  ~PgRevocationPublisher() override;
  PgRevocationPublisher(const PgRevocationPublisher&) = delete;
  PgRevocationPublisher& operator=(const PgRevocationPublisher&) = delete;

  bool publish(const realm_auth::RevocationRecord& r, std::string& error) override;
  realm_auth::RevocationRecord make(realm_auth::RevocationKind kind, const std::string& tenant,
                                    const std::string& subject) const override;

  // The background thread; stop() (or the destructor) joins it.
  void start();
  void stop();
  RevocationPassReport run_pass();

 private:
  int64_t now() const;
  bool rebuild_if_lost(PgSession& s, realm_auth::RedisClient& client, RevocationPassReport& rep);
  void retry_pending(PgSession& s, realm_auth::RedisClient& client, RevocationPassReport& rep);

  PgPool& pg_;
  RevocationPublisherConfig config_;
  // The background pass's own client (one thread); publish() makes one per
  // call (request threads run concurrently, RedisClient is not thread-safe).
  realm_auth::RedisClient pass_client_;
  int64_t last_trim_s_ = 0;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace realm_sidecar
