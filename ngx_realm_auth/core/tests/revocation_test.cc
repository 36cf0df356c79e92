// Revocation records (revocation_record.h) and the feed that carries them
// (revocation_feed.h), against a redis-server with the local stack's ACL:
// the sidecar appends, nginx reads from a cursor, forged, oversized and
// expired entries never become records.
#include <signal.h>

#include <string>

#include "cmocka_cxx.h"
#include "redis_keys.h"
#include "redis_server.h"
#include "revocation_feed.h"
#include "revocation_record.h"

using namespace realm_auth;

namespace {

test::RedisServer redis;

int setup(void**) {
  signal(SIGPIPE, SIG_IGN);
  redis.start(true);
  return 0;
}

void require_redis() {
  if (!redis.running()) skip();
}

RevocationRecord record(RevocationKind kind, const std::string& tenant, const std::string& subject,
                        int64_t nbf, int64_t exp) {
  RevocationRecord r;
  r.kind = kind;
  r.tenant = tenant;
  r.subject = subject;
  r.not_before = nbf;
  r.expires = exp;
  return r;
}

void codec(void**) {
  const std::string sub = "5b0c6f1e-3d1a-4c8e-9a51-0f6a2b7c9d10";
  RevocationRecord u = record(RevocationKind::kUser, "demo", sub, 1764579601, 1764583261);
  assert_string_equal(encode_revocation(u).c_str(),
                      ("user demo " + sub + " 1764579601 1764583261").c_str());
  RevocationRecord back;
  assert_true(decode_revocation(encode_revocation(u), back));
  assert_true(back.kind == RevocationKind::kUser && back.tenant == "demo" && back.subject == sub);
  assert_true(back.not_before == 1764579601 && back.expires == 1764583261);

  RevocationRecord t = record(RevocationKind::kTenant, "demo", "", 100, 200);
  assert_string_equal(encode_revocation(t).c_str(), "tenant demo - 100 200");
  assert_true(decode_revocation("tenant demo - 100 200", back) && back.subject.empty());
  assert_true(decode_revocation("session demo abc 100 200", back));
  assert_true(back.kind == RevocationKind::kSession && back.subject == "abc");

  // Invalid records do not encode, malformed text does not decode.
  assert_string_equal(encode_revocation(record(RevocationKind::kUser, "demo", "", 1, 2)).c_str(),
                      "");
  assert_string_equal(encode_revocation(record(RevocationKind::kUser, "Demo!", "x", 1, 2)).c_str(),
                      "");
  assert_string_equal(encode_revocation(record(RevocationKind::kUser, "demo", "a b", 1, 2)).c_str(),
                      "");
  assert_string_equal(encode_revocation(record(RevocationKind::kTenant, "demo", "x", 1, 2)).c_str(),
                      "");
  assert_string_equal(encode_revocation(record(RevocationKind::kUser, "demo", "x", 3, 2)).c_str(),
                      "");
  assert_string_equal(encode_revocation(record(RevocationKind::kUser, "demo", "x", 0, 2)).c_str(),
                      "");
  std::string why;
  assert_false(
      valid_revocation(record(RevocationKind::kUser, "demo", std::string(256, 'a'), 1, 2), why));
  assert_true(why.find("subject") != std::string::npos);
  back = u;
  for (const char* bad :
       {"", "user demo x 1", "user demo x 1 2 3", "user  demo x 1 2", "user demo x 1 2 ",
        "User demo x 1 2", "group demo x 1 2", "user demo x -1 2", "user demo x 1234567890123 2",
        "user demo x 1 2x", "tenant demo x 1 2", "user demo - 1 2x", "user demo x 2 1",
        "user demo x\t 1 2", "session demo \x7f 1 2"}) {
    assert_false(decode_revocation(bad, back));
  }
  assert_true(back.subject == sub);  // untouched by failures
}

void matching(void**) {
  RevocationRecord u = record(RevocationKind::kUser, "demo", "alice", 100, 400);
  assert_true(revokes(u, "demo", "alice", "s1", 99));
  assert_false(revokes(u, "demo", "alice", "s1", 100));  // issued after the revocation
  assert_false(revokes(u, "demo", "bob", "s1", 99));
  assert_false(revokes(u, "other", "alice", "s1", 99));
  assert_true(revokes(u, "demo", "alice", "", 0));  // no iat: revoked
  RevocationRecord s = record(RevocationKind::kSession, "demo", "s1", 100, 400);
  assert_true(revokes(s, "demo", "alice", "s1", 99));
  assert_false(revokes(s, "demo", "alice", "s2", 99));
  assert_false(revokes(s, "demo", "alice", "", 99));  // service account: no sid
  RevocationRecord t = record(RevocationKind::kTenant, "demo", "", 100, 400);
  assert_true(revokes(t, "demo", "anyone", "", 50));
  assert_false(revokes(t, "demo2", "anyone", "", 50));
  assert_false(revokes(t, "demo", "anyone", "", 150));
}

void stream_ids(void**) {
  uint64_t ms = 0, seq = 0;
  assert_true(parse_stream_id("1764579601000-3", ms, seq) && ms == 1764579601000 && seq == 3);
  assert_false(parse_stream_id("1764579601000", ms, seq));
  assert_false(parse_stream_id("-1", ms, seq));
  assert_false(parse_stream_id("1-", ms, seq));
  assert_false(parse_stream_id("99999999999999999999999-1", ms, seq));
  assert_true(stream_id_less("0-0", "1-0"));
  assert_true(stream_id_less("5-1", "5-2"));
  assert_true(stream_id_less("9-9", "10-0"));  // numeric, not text order
  assert_false(stream_id_less("10-0", "9-9"));
  assert_false(stream_id_less("5-5", "5-5"));
  assert_true(stream_id_less("junk", "0-0"));
}

// The sidecar's user appends, the nginx user reads from a cursor in pages.
void feed_round_trip(void**) {
  require_redis();
  RedisClient sidecar(redis.endpoint("feed:", "sidecar"));
  RedisClient nginx(redis.endpoint("feed:", "nginx"));
  std::string why, last;
  assert_true(last_revocation_id(nginx, last, why) == RedisRead::kAbsent);
  assert_string_equal(last.c_str(), "0-0");
  RevocationPage page;
  assert_true(read_revocations(nginx, "0-0", 10, page, why) == RedisRead::kAbsent);
  assert_true(page.records.empty() && page.end && page.last_id == "0-0");

  const int64_t now = unix_ms() / 1000;
  std::string id;
  for (int i = 0; i < 5; i++) {
    assert_true(publish_revocation(
        sidecar, record(RevocationKind::kUser, "demo", "u" + std::to_string(i), now, now + 60),
        id));
  }
  // nginx may read the feed but not write it.
  std::string ignored;
  assert_false(publish_revocation(nginx, record(RevocationKind::kTenant, "demo", "", now, now + 60),
                                  ignored));
  assert_true(nginx.error().find("NOPERM") != std::string::npos);

  assert_true(read_revocations(nginx, "0-0", 3, page, why) == RedisRead::kFound);
  assert_int_equal(page.records.size(), 3);
  assert_false(page.end);
  assert_true(page.records[0].subject == "u0" && page.records[2].subject == "u2");
  std::string cursor = page.last_id;
  assert_true(read_revocations(nginx, cursor, 3, page, why) == RedisRead::kFound);
  assert_int_equal(page.records.size(), 2);
  assert_true(page.end);
  assert_true(page.records[1].subject == "u4");
  assert_string_equal(page.last_id.c_str(), id.c_str());
  assert_true(last_revocation_id(nginx, last, why) == RedisRead::kFound);
  assert_string_equal(last.c_str(), id.c_str());
  assert_true(read_revocations(nginx, id, 3, page, why) == RedisRead::kAbsent);
  assert_true(page.last_id == id && page.end);
}

// Whoever can write Redis cannot plant a revocation or make one outlive
// itself; a planted entry still advances the cursor (it is never reread).
void feed_rejects_forgeries(void**) {
  require_redis();
  RedisClient admin(redis.endpoint("forge:"));
  RedisClient nginx(redis.endpoint("forge:", "nginx"));
  const int64_t now = unix_ms() / 1000;
  const std::string text = "tenant demo - " + std::to_string(now) + " " + std::to_string(now + 60);
  std::string id, why;
  assert_true(admin.xadd(revocations_key(), "r", text, id));  // not sealed
  // Sealed for another key (a tenant record moved into the feed).
  const RedisEndpoint ep = admin.endpoint();
  std::string other =
      seal_value(ep.seal_keys, ep.prefix + tenant_key("demo"), text, unix_ms(), (now + 60) * 1000);
  assert_true(admin.xadd(revocations_key(), "r", other, id));
  // Sealed right, but the seal outlives the record it carries.
  std::string longer =
      seal_value(ep.seal_keys, ep.prefix + revocations_key(), text, unix_ms(), (now + 3600) * 1000);
  assert_true(admin.xadd(revocations_key(), "r", longer, id));
  // Sealed right, another field name.
  std::string right =
      seal_value(ep.seal_keys, ep.prefix + revocations_key(), text, unix_ms(), (now + 60) * 1000);
  assert_true(admin.xadd(revocations_key(), "x", right, id));
  // Oversized.
  assert_true(admin.xadd(revocations_key(), "r",
                         std::string(kMaxRevocationRecord + kSealOverhead + 1, 'x'), id));
  // Expired: authentic but past its time.
  const std::string old = "user demo alice 100 200";
  std::string expired =
      seal_value(ep.seal_keys, ep.prefix + revocations_key(), old, 100000, 200000);
  assert_true(admin.xadd(revocations_key(), "r", expired, id));
  // And one good entry.
  assert_true(admin.xadd(revocations_key(), "r", right, id));

  RevocationPage page;
  assert_true(read_revocations(nginx, "0-0", 100, page, why) == RedisRead::kFound);
  assert_int_equal(page.rejected, 5);
  assert_int_equal(page.expired, 1);
  assert_int_equal(page.records.size(), 1);
  assert_true(page.records[0].kind == RevocationKind::kTenant);
  assert_string_equal(page.last_id.c_str(), id.c_str());

  // Something else under the key is a bad value, not an outage.
  RedisClient admin2(redis.endpoint("planted:"));
  RedisClient nginx2(redis.endpoint("planted:", "nginx"));
  assert_true(admin2.set(revocations_key(), "not a stream", 0));
  assert_true(read_revocations(nginx2, "0-0", 10, page, why) == RedisRead::kRejected);
  std::string last;
  assert_true(last_revocation_id(nginx2, last, why) == RedisRead::kRejected);
}

// A stream rebuilt after Redis lost its data has a last id below an old
// cursor; trimming drops entries by age.
void feed_rebuild_and_trim(void**) {
  require_redis();
  RedisClient sidecar(redis.endpoint("trim:", "sidecar"));
  RedisClient admin(redis.endpoint("trim:"));
  const int64_t now = unix_ms() / 1000;
  std::string first, second, why;
  assert_true(publish_revocation(sidecar, record(RevocationKind::kUser, "demo", "a", now, now + 60),
                                 first));
  assert_true(publish_revocation(sidecar, record(RevocationKind::kUser, "demo", "b", now, now + 60),
                                 second));
  assert_true(stream_id_less(first, second));
  uint64_t ms = 0, seq = 0;
  assert_true(parse_stream_id(second, ms, seq));
  assert_true(
      trim_revocations(sidecar, static_cast<int64_t>(ms)));  // drops entries before `second`'s ms
  RevocationPage page;
  assert_true(read_revocations(sidecar, "0-0", 10, page, why) == RedisRead::kFound);
  assert_true(page.records.back().subject == "b");
  assert_true(trim_revocations(sidecar, static_cast<int64_t>(ms) + 1));
  assert_true(read_revocations(sidecar, "0-0", 10, page, why) == RedisRead::kAbsent);

  assert_true(admin.del(revocations_key()));
  // A cursor from the old stream is beyond the rebuilt stream's last id.
  std::string last;
  assert_true(last_revocation_id(sidecar, last, why) == RedisRead::kAbsent);
  assert_true(stream_id_less(last, second));
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(codec),
      cmocka_unit_test(matching),
      cmocka_unit_test(stream_ids),
      cmocka_unit_test(feed_round_trip),
      cmocka_unit_test(feed_rejects_forgeries),
      cmocka_unit_test(feed_rebuild_and_trim),
  };
  return cmocka_run_group_tests(tests, setup, nullptr);
}
