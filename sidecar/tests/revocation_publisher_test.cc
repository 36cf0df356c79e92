// PgRevocationPublisher against a real PostgreSQL (with_pg_cluster.sh, the
// migrations applied) and a real redis-server with the stack's ACL (the
// sidecar user writes, the nginx user reads what the module would):
//   make() stamps; publish() is durable and reaches the module's reader;
//   Redis frozen (SIGSTOP) → publish still promises, the row waits, the
//   pass fails soft; Redis back (SIGCONT) → the next pass delivers it;
//   Redis lost the stream → one rebuild, even with two sidecars passing at
//   once, then none; a forged epoch marker is a loss too; expired rows,
//   jtis and stream entries go; PostgreSQL down → nothing promised;
//   the jti replay cache claims once.
#include <libpq-fe.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <thread>
#include <vector>

#include "redis_keys.h"
#include "redis_server.h"
#include "revocation/backchannel_logout.h"
#include "revocation/pg_revocation_publisher.h"
#include "revocation_feed.h"
#include "sidecar_test.h"
#include "store/migrate.h"

using namespace realm_sidecar;
using realm_auth::RedisClient;
using realm_auth::RevocationKind;
using realm_auth::RevocationRecord;
using realm_auth::test::RedisServer;

namespace {

RedisServer redis;
std::string g_conninfo;
constexpr int64_t kT = 1764579600;

std::string pg_env(const char* name) {
  const char* v = getenv(name);
  return v ? v : "";
}

std::string sql_value(const std::string& sql) {
  PgPool pool(g_conninfo, 1);
  PgSession s = pool.acquire();
  PgResult r = s.exec(sql);
  if (!r.ok) fail_msg("%s: %s", sql.c_str(), r.error.c_str());
  return r.rows() > 0 ? r.get(0, 0) : "";
}

void sql(const std::string& statement) { sql_value(statement); }

int setup(void**) {
  signal(SIGPIPE, SIG_IGN);
  const std::string host = pg_env("GOV_PG_HOST"), port = pg_env("GOV_PG_PORT"),
                    super = pg_env("GOV_PG_SUPERUSER"), mig = pg_env("GOV_MIGRATIONS_DIR");
  if (host.empty() || mig.empty()) {
    print_error("run through with_pg_cluster.sh with GOV_MIGRATIONS_DIR set\n");
    return -1;
  }
  const std::string base = "host=" + host + " port=" + port + " connect_timeout=10 user=" + super;
  {
    PgPool su(base + " dbname=postgres", 1);
    PgSession s = su.acquire();
    if (!s.exec("CREATE DATABASE revocations").ok) return -1;
  }
  g_conninfo = base + " dbname=revocations";
  PgPool pool(g_conninfo, 1);
  std::vector<std::string> applied;
  std::string error;
  if (!apply_migrations(pool, mig, applied, error)) {
    print_error("migrations: %s\n", error.c_str());
    return -1;
  }
  redis.start(true);
  return 0;
}

// A failed assertion longjmps out of a test: Redis must not stay frozen.
int thaw(void**) {
  if (redis.running()) kill(redis.pid(), SIGCONT);
  return 0;
}

// publish() or fail the test with its error.
#define assert_published(pub, record)                                 \
  do {                                                                \
    std::string why_;                                                 \
    if (!(pub).publish((record), why_)) fail_msg("%s", why_.c_str()); \
  } while (0)

void require_redis() {
  if (!redis.running()) skip();
}

RevocationPublisherConfig config(const std::string& prefix, bool use_redis = true) {
  RevocationPublisherConfig c;
  c.use_redis = use_redis;
  c.redis = redis.endpoint(prefix, "sidecar");
  c.retry_after_ms = 0;
  c.trim_every_s = 0;
  return c;
}

// What the module reads from the stream (the nginx ACL user), from the start.
std::vector<RevocationRecord> stream(const std::string& prefix) {
  RedisClient nginx(redis.endpoint(prefix, "nginx"));
  realm_auth::RevocationPage page;
  std::string why;
  realm_auth::RedisRead got = realm_auth::read_revocations(nginx, "0-0", 100000, page, why);
  assert_true(got == realm_auth::RedisRead::kFound || got == realm_auth::RedisRead::kAbsent);
  assert_int_equal(page.rejected, 0);
  return page.records;
}

// Redis "loses its data": the stream and the marker are gone.
void lose_redis_data(const std::string& prefix) {
  RedisClient admin(redis.endpoint(prefix));
  assert_true(admin.del(realm_auth::revocations_key()));
  assert_true(admin.del(realm_auth::revocation_epoch_key()));
}

long long count(const std::string& where) {
  return std::atoll(sql_value("SELECT count(*) FROM revocations WHERE " + where).c_str());
}

void make_stamps(void**) {
  RevocationPublisherConfig c = config("make:", false);
  c.clock = [] { return kT; };
  c.token_lifetime_s = 900;
  PgPool pool(g_conninfo, 1);
  PgRevocationPublisher pub(pool, c);
  RevocationRecord r = pub.make(RevocationKind::kUser, "demo", "u-1");
  assert_int_equal(r.not_before, kT + 1);  // the second after: iat = kT is refused
  assert_int_equal(r.expires, kT + 900 + 60);
  assert_string_equal(r.subject.c_str(), "u-1");
  r = pub.make(RevocationKind::kTenant, "demo", "ignored");
  assert_true(r.kind == RevocationKind::kTenant);
  assert_string_equal(r.subject.c_str(), "");
}

void publish_reaches_the_module(void**) {
  require_redis();
  sql("TRUNCATE revocations");
  PgPool pool(g_conninfo, 2);
  PgRevocationPublisher pub(pool, config("pub:"));
  std::string error;
  RevocationRecord r = pub.make(RevocationKind::kSession, "demo", "sid-1");
  assert_published(pub, r);
  assert_int_equal(count("published_at IS NOT NULL AND stream_id IS NOT NULL"), 1);
  std::vector<RevocationRecord> got = stream("pub:");
  assert_int_equal(got.size(), 1);
  assert_true(got[0].kind == RevocationKind::kSession);
  assert_string_equal(got[0].tenant.c_str(), "demo");
  assert_string_equal(got[0].subject.c_str(), "sid-1");
  assert_int_equal(got[0].not_before, r.not_before);
  assert_int_equal(got[0].expires, r.expires);

  // Invalid records are refused before anything is written.
  RevocationRecord bad = r;
  bad.subject = "two words";
  assert_false(pub.publish(bad, error));
  assert_non_null(strstr(error.c_str(), "revocation record"));
  bad = r;
  bad.tenant = "Not_A_Slug";
  assert_false(pub.publish(bad, error));
  assert_int_equal(count("true"), 1);
  assert_int_equal(stream("pub:").size(), 1);
}

void redis_down_then_up(void**) {
  require_redis();
  sql("TRUNCATE revocations");
  PgPool pool(g_conninfo, 2);
  PgRevocationPublisher pub(pool, config("down:"));
  std::string error;
  // A first pass writes the epoch marker (nothing to republish yet).
  RevocationPassReport rep = pub.run_pass();
  assert_true(rep.error.empty());

  assert_int_equal(kill(redis.pid(), SIGSTOP), 0);  // Redis stops answering
  const auto t0 = std::chrono::steady_clock::now();
  RevocationRecord r = pub.make(RevocationKind::kUser, "demo", "u-down");
  assert_published(pub, r);  // durable: the row is the promise
  const auto took = std::chrono::steady_clock::now() - t0;
  assert_true(took < std::chrono::seconds(2));  // bounded by the Redis timeout
  assert_int_equal(count("published_at IS NULL"), 1);
  rep = pub.run_pass();
  assert_true(rep.redis_down);
  assert_int_equal(rep.retried, 0);
  assert_int_equal(count("published_at IS NULL"), 1);

  assert_int_equal(kill(redis.pid(), SIGCONT), 0);  // back
  rep = pub.run_pass();
  assert_false(rep.redis_down);
  assert_int_equal(rep.retried, 1);
  assert_false(rep.rebuilt);  // Redis kept its data: no rebuild
  assert_int_equal(count("published_at IS NULL"), 0);
  std::vector<RevocationRecord> got = stream("down:");
  assert_int_equal(got.size(), 1);
  assert_string_equal(got[0].subject.c_str(), "u-down");
  // Nothing more to do: the next pass publishes nothing again.
  rep = pub.run_pass();
  assert_int_equal(rep.retried + rep.republished, 0);
  assert_int_equal(stream("down:").size(), 1);
}

void redis_lost_its_data(void**) {
  require_redis();
  sql("TRUNCATE revocations");
  PgPool pool(g_conninfo, 4);
  PgRevocationPublisher a(pool, config("lost:"));
  PgRevocationPublisher b(pool, config("lost:"));  // a second sidecar, same database
  std::string error;
  assert_true(a.run_pass().error.empty());
  for (int i = 0; i < 20; i++) {
    assert_published(a, a.make(RevocationKind::kUser, "demo", "u-" + std::to_string(i)));
  }
  // An expired row is not republished (it names no valid token).
  sql("INSERT INTO revocations (kind, tenant_id, subject, not_before, expires, published_at)"
      " VALUES ('user', 'demo', 'old', 10, 20, now())");
  assert_int_equal(stream("lost:").size(), 20);

  lose_redis_data("lost:");
  assert_int_equal(stream("lost:").size(), 0);
  // Both sidecars notice at once: exactly one rebuilds.
  RevocationPassReport ra, rb;
  std::thread ta([&] { ra = a.run_pass(); });
  std::thread tb([&] { rb = b.run_pass(); });
  ta.join();
  tb.join();
  assert_int_equal(ra.rebuilt + rb.rebuilt, 1);
  assert_int_equal(ra.republished + rb.republished, 20);
  std::vector<RevocationRecord> got = stream("lost:");
  assert_int_equal(got.size(), 20);
  for (const RevocationRecord& r : got) assert_string_not_equal(r.subject.c_str(), "old");
  // And never again while Redis keeps the marker.
  ra = a.run_pass();
  rb = b.run_pass();
  assert_int_equal(ra.rebuilt + rb.rebuilt + ra.republished + rb.republished, 0);
  assert_int_equal(stream("lost:").size(), 20);

  // A marker planted by someone without the fleet key counts as lost.
  RedisClient admin(redis.endpoint("lost:"));
  std::string epoch = sql_value("SELECT epoch::text FROM revocation_feed");
  assert_true(admin.set(realm_auth::revocation_epoch_key(), epoch, 0));  // unsealed
  ra = a.run_pass();
  assert_true(ra.rebuilt);
  assert_int_equal(ra.republished, 20);
}

void expiry_and_trim(void**) {
  require_redis();
  sql("TRUNCATE revocations");
  sql("TRUNCATE logout_token_jtis");
  PgPool pool(g_conninfo, 2);
  std::atomic<int64_t> now{static_cast<int64_t>(std::time(nullptr))};
  RevocationPublisherConfig c = config("trim:");
  c.clock = [&now] { return now.load(); };
  PgRevocationPublisher pub(pool, c);
  std::string error;
  assert_true(pub.run_pass().rebuilt);  // a fresh Redis: the marker is written
  for (int i = 0; i < 5; i++) {
    assert_true(
        pub.publish(pub.make(RevocationKind::kSession, "demo", "s" + std::to_string(i)), error));
  }
  sql("INSERT INTO logout_token_jtis VALUES ('iss', 'old', 10), ('iss', 'new', 99999999999)");
  RevocationPassReport rep = pub.run_pass();
  assert_int_equal(rep.expired_deleted, 0);
  assert_int_equal(rep.jtis_deleted, 1);
  assert_int_equal(stream("trim:").size(), 5);
  // Past every record's expiry (+ skew): rows deleted, stream trimmed.
  now += c.token_lifetime_s + 2 * c.skew_s + 1;
  rep = pub.run_pass();
  assert_int_equal(rep.expired_deleted, 5);
  assert_true(rep.trimmed);
  assert_int_equal(count("true"), 0);
  // The entries are still unexpired by the real clock (the reader would
  // return them): gone because the pass trimmed them.
  assert_int_equal(stream("trim:").size(), 0);
}

void without_redis(void**) {
  sql("TRUNCATE revocations");
  PgPool pool(g_conninfo, 1);
  PgRevocationPublisher pub(pool, config("off:", false));
  std::string error;
  assert_published(pub, pub.make(RevocationKind::kTenant, "demo", ""));
  assert_int_equal(count("kind = 'tenant' AND subject = ''"), 1);
  RevocationPassReport rep = pub.run_pass();
  assert_true(rep.error.empty());
}

void postgres_down_promises_nothing(void**) {
  PgPool pool("host=/nonexistent port=1 dbname=x user=x connect_timeout=2", 1);
  PgRevocationPublisher pub(pool, config("pgdown:"));
  std::string error;
  assert_false(pub.publish(pub.make(RevocationKind::kUser, "demo", "u"), error));
  assert_non_null(strstr(error.c_str(), "PostgreSQL"));
  assert_false(pub.run_pass().error.empty());
}

void jti_cache_claims_once(void**) {
  sql("TRUNCATE logout_token_jtis");
  PgPool pool(g_conninfo, 2);
  PgJtiCache jtis(pool);
  assert_true(jtis.claim("https://kc/realms/tenant-a", "j1", kT) == JtiCache::Claim::kNew);
  assert_true(jtis.claim("https://kc/realms/tenant-a", "j1", kT) == JtiCache::Claim::kSeen);
  // Per issuer: another realm's j1 is another token.
  assert_true(jtis.claim("https://kc/realms/tenant-b", "j1", kT) == JtiCache::Claim::kNew);
  jtis.release("https://kc/realms/tenant-a", "j1");
  assert_true(jtis.claim("https://kc/realms/tenant-a", "j1", kT) == JtiCache::Claim::kNew);
  PgPool down("host=/nonexistent port=1 dbname=x user=x connect_timeout=2", 1);
  PgJtiCache none(down);
  assert_true(none.claim("i", "j", kT) == JtiCache::Claim::kError);
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(make_stamps),
      cmocka_unit_test(publish_reaches_the_module),
      cmocka_unit_test_teardown(redis_down_then_up, thaw),
      cmocka_unit_test(redis_lost_its_data),
      cmocka_unit_test(expiry_and_trim),
      cmocka_unit_test(without_redis),
      cmocka_unit_test(postgres_down_promises_nothing),
      cmocka_unit_test(jti_cache_claims_once),
  };
  return cmocka_run_group_tests(tests, setup, nullptr);
}
