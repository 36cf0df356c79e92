#include "revocation/pg_revocation_publisher.h"

#include <cstdio>
#include <ctime>

#include "metrics/sidecar_metrics.h"
#include "redis_keys.h"
#include "revocation_feed.h"
#include "util/guard.h"

namespace realm_sidecar {

using realm_auth::RedisClient;
using realm_auth::RedisRead;
using realm_auth::RevocationKind;
using realm_auth::RevocationRecord;

namespace {

// ROLLBACK unless committed: an early return never leaves a transaction
// open on a pooled connection.
class Tx {
 public:
  explicit Tx(PgSession& s) : s_(s) { open_ = s_.exec("BEGIN").ok; }
  ~Tx() {
    if (open_) s_.exec("ROLLBACK");
  }
  bool open() const { return open_; }
  bool commit() {
    open_ = false;
    return s_.exec("COMMIT").ok;
  }

 private:
  PgSession& s_;
  bool open_ = false;
};

// The advisory lock key of the stream rebuild (any constant unique to it).
const char kRebuildLock[] =
    "SELECT pg_try_advisory_xact_lock(hashtext('realm_auth.revocation_feed'))";

const char kUnexpiredRows[] =
    "SELECT id, kind, tenant_id, subject, not_before, expires FROM revocations"
    " WHERE expires > $1 ORDER BY id";

bool row_record(const PgResult& r, int i, RevocationRecord& out) {
  if (!realm_auth::parse_revocation_kind(r.get(i, 1), out.kind)) return false;
  out.tenant = r.get(i, 2);
  out.subject = r.get(i, 3);
  out.not_before = std::strtoll(r.get(i, 4).c_str(), nullptr, 10);
  out.expires = std::strtoll(r.get(i, 5).c_str(), nullptr, 10);
  return true;
}

}  // namespace

PgRevocationPublisher::PgRevocationPublisher(PgPool& pg, RevocationPublisherConfig config)
    : pg_(pg), config_(std::move(config)), pass_client_(config_.redis) {}

PgRevocationPublisher::~PgRevocationPublisher() { stop(); }

int64_t PgRevocationPublisher::now() const {
  return config_.clock ? config_.clock() : static_cast<int64_t>(std::time(nullptr));
}

RevocationRecord PgRevocationPublisher::make(RevocationKind kind, const std::string& tenant,
                                             const std::string& subject) const {
  const int64_t t = now();  // whole seconds: floor(now)
  RevocationRecord r;
  r.kind = kind;
  r.tenant = tenant;
  r.subject = kind == RevocationKind::kTenant ? std::string() : subject;
  // The second after the revocation: a token issued in the same second
  // (iat = t) is refused, one issued after a re-enable (iat > t) passes.
  r.not_before = t + 1;
  // No token issued before now outlives its lifetime (+ skew on clocks).
  r.expires = t + config_.token_lifetime_s + config_.skew_s;
  return r;
}

bool PgRevocationPublisher::publish(const RevocationRecord& r, std::string& error) {
  // Counted once the row is committed (promised), failed otherwise.
  struct Count {
    bool ok = false;
    ~Count() { metrics::revocation_published(ok); }
  } counted;
  // Core's rule, the one the feed and the module decode by.
  if (!realm_auth::valid_revocation(r, error)) {
    error = "revocation record: " + error;
    return false;
  }
  PgSession s = pg_.acquire();
  if (!s.healthy()) {
    error = "PostgreSQL unavailable: the revocation was not recorded";
    return false;
  }
  PgResult ins = s.exec(
      "INSERT INTO revocations (kind, tenant_id, subject, not_before, expires)"
      " VALUES ($1, $2, $3, $4, $5) RETURNING id",
      {realm_auth::revocation_kind_name(r.kind), r.tenant, r.subject, std::to_string(r.not_before),
       std::to_string(r.expires)});
  if (!ins.ok || ins.rows() != 1) {
    error = "recording the revocation failed: " + ins.error;
    return false;
  }
  // Committed (autocommit): promised from here on, whatever Redis does.
  const std::string id = ins.get(0, 0);
  counted.ok = true;
  if (!config_.use_redis) return true;
  RedisClient client(config_.redis);
  std::string entry;
  if (!realm_auth::publish_revocation(client, r, entry)) {
    std::fprintf(stderr,
                 "realm-sidecar: revocation %s recorded, Redis did not take it (%s); "
                 "retried in the background\n",
                 id.c_str(), client.error().c_str());
    s.exec("UPDATE revocations SET attempts = attempts + 1 WHERE id = $1", {id});
    return true;
  }
  s.exec(
      "UPDATE revocations SET published_at = now(), stream_id = $2, attempts = attempts + 1"
      " WHERE id = $1",
      {id, entry});
  return true;
}

bool PgRevocationPublisher::rebuild_if_lost(PgSession& s, RedisClient& client,
                                            RevocationPassReport& rep) {
  PgResult e = s.exec("SELECT epoch::text FROM revocation_feed WHERE id = 1");
  if (!e.ok || e.rows() != 1) {
    rep.error = "reading the revocation feed epoch failed: " + e.error;
    return false;
  }
  const std::string epoch = e.get(0, 0);
  auto marker_current = [&](bool& answered) {
    realm_auth::OpenedValue v;
    std::string why;
    RedisRead got = client.get_sealed(realm_auth::revocation_epoch_key(), 64, v, why);
    answered = got != RedisRead::kError;
    return got == RedisRead::kFound && v.payload == epoch;
  };
  bool answered = false;
  if (marker_current(answered)) return true;
  if (!answered) {
    rep.redis_down = true;
    rep.error = "Redis: " + client.error();
    return false;
  }
  // Redis holds no (or another) marker: it lost the stream, or never had
  // it. One sidecar rebuilds; one that cannot take the lock skips, and
  // finds the marker back at its next pass.
  Tx tx(s);
  PgResult lock = s.exec(kRebuildLock);
  if (!tx.open() || !lock.ok || lock.get(0, 0) != "t") return true;
  if (marker_current(answered)) return true;  // rebuilt while we looked
  PgResult rows = s.exec(kUnexpiredRows, {std::to_string(now())});
  if (!rows.ok) {
    rep.error = "reading revocations failed: " + rows.error;
    return false;
  }
  for (int i = 0; i < rows.rows(); i++) {
    RevocationRecord r;
    std::string entry;
    if (!row_record(rows, i, r)) continue;
    if (!realm_auth::publish_revocation(client, r, entry)) {
      rep.redis_down = true;
      rep.error = "Redis: " + client.error();
      return false;  // no marker: the next pass starts over
    }
    s.exec("UPDATE revocations SET published_at = now(), stream_id = $2 WHERE id = $1",
           {rows.get(i, 0), entry});
    rep.republished++;
  }
  if (!client.set_sealed(realm_auth::revocation_epoch_key(), epoch, 0)) {
    rep.redis_down = true;
    rep.error = "Redis: " + client.error();
    return false;
  }
  s.exec("UPDATE revocation_feed SET republished_at = now() WHERE id = 1");
  tx.commit();
  rep.rebuilt = true;
  return true;
}

void PgRevocationPublisher::retry_pending(PgSession& s, RedisClient& client,
                                          RevocationPassReport& rep) {
  Tx tx(s);
  PgResult rows = s.exec(
      "SELECT id, kind, tenant_id, subject, not_before, expires FROM revocations"
      " WHERE published_at IS NULL AND expires > $1"
      " AND created_at <= now() - make_interval(secs => $3::double precision / 1000)"
      " ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED",
      {std::to_string(now()), std::to_string(config_.batch),
       std::to_string(config_.retry_after_ms)});
  if (!tx.open() || !rows.ok) {
    if (rep.error.empty()) rep.error = "reading pending revocations failed: " + rows.error;
    return;
  }
  for (int i = 0; i < rows.rows(); i++) {
    RevocationRecord r;
    std::string entry;
    if (!row_record(rows, i, r)) continue;
    if (!realm_auth::publish_revocation(client, r, entry)) {
      s.exec("UPDATE revocations SET attempts = attempts + 1 WHERE id = $1", {rows.get(i, 0)});
      rep.redis_down = true;
      if (rep.error.empty()) rep.error = "Redis: " + client.error();
      break;  // Redis is down: the rest waits for the next pass
    }
    s.exec(
        "UPDATE revocations SET published_at = now(), stream_id = $2, attempts = attempts + 1"
        " WHERE id = $1",
        {rows.get(i, 0), entry});
    rep.retried++;
  }
  tx.commit();
}

RevocationPassReport PgRevocationPublisher::run_pass() {
  RevocationPassReport rep;
  PgSession s = pg_.acquire();
  if (!s.healthy()) {
    rep.error = "PostgreSQL unavailable";
    return rep;
  }
  const int64_t t = now();
  // A row outlives its expiry by the skew: clocks of other machines.
  PgResult del =
      s.exec("DELETE FROM revocations WHERE expires < $1", {std::to_string(t - config_.skew_s)});
  if (del.ok) rep.expired_deleted = std::atoi(PQcmdTuples(del.res.get()));
  PgResult jti = s.exec("DELETE FROM logout_token_jtis WHERE expires_at < $1", {std::to_string(t)});
  if (jti.ok) rep.jtis_deleted = std::atoi(PQcmdTuples(jti.res.get()));
  if (!config_.use_redis) return rep;

  if (!rebuild_if_lost(s, pass_client_, rep)) return rep;
  retry_pending(s, pass_client_, rep);
  if (!rep.redis_down && t - last_trim_s_ >= config_.trim_every_s) {
    // Entries added before now - the longest record lifetime name only
    // expired tokens (entry ids are the time Redis added them).
    const int64_t lifetime_ms = (config_.token_lifetime_s + config_.skew_s) * 1000;
    if (realm_auth::trim_revocations(pass_client_, t * 1000 - lifetime_ms)) {
      last_trim_s_ = t;
      rep.trimmed = true;
    }
  }
  return rep;
}

void PgRevocationPublisher::start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] {
    std::string last_error;
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping_) {
      lock.unlock();
      // An exception leaving a std::thread would abort the daemon: a pass
      // that throws is logged and the next one runs.
      guarded(StderrReport{"revocation pass"}, [&] {
        RevocationPassReport r = run_pass();
        if (r.rebuilt || r.retried > 0) {
          std::fprintf(stderr,
                       "realm-sidecar: revocations: republished=%d (stream rebuilt: %s) "
                       "retried=%d\n",
                       r.republished, r.rebuilt ? "yes" : "no", r.retried);
        }
        // One line per change of trouble, not one per second.
        if (r.error != last_error && !r.error.empty()) {
          std::fprintf(stderr, "realm-sidecar: revocations: %s\n", r.error.c_str());
        }
        last_error = r.error;
      });
      lock.lock();
      cv_.wait_for(lock, config_.interval, [&] { return stopping_; });
    }
  });
}

void PgRevocationPublisher::stop() {
  {
    std::lock_guard<std::mutex> g(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace realm_sidecar
