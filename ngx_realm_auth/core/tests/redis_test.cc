// The shared Redis pieces of core: the seal (redis_seal.h), the key names
// (redis_keys.h), the tenant record (tenant_registry.h) and the client's
// login (redis_client.h), against a redis-server with the local stack's
// ACL. realm-sidecar's publisher is tested on top of these in
// sidecar/tests/tenant_state_test.cc.
#include <signal.h>

#include <string>

#include "cmocka_cxx.h"
#include "redis_client.h"
#include "redis_keys.h"
#include "redis_seal.h"
#include "redis_server.h"
#include "tenant_registry.h"

using namespace realm_auth;

namespace {

test::RedisServer redis;

const SealKey kOld = make_seal_key("old-fleet-key-0123456789abcdefghijklmnopq");
const SealKey kNew = make_seal_key("new-fleet-key-0123456789abcdefghijklmnopq");

int setup(void**) {
  signal(SIGPIPE, SIG_IGN);
  redis.start(true);
  return 0;
}

void require_redis() {
  if (!redis.running()) skip();
}

bool opens(const SealKeys& keys, const std::string& key, const std::string& stored, int64_t now,
           std::string* why_out = nullptr) {
  OpenedValue v;
  std::string why;
  bool ok = open_value(keys, key, stored, now, v, why);
  if (why_out != nullptr) *why_out = why;
  return ok;
}

void key_names(void**) {
  assert_string_equal(jwks_key("https://kc/realms/tenant-a").c_str(),
                      "jwks:https://kc/realms/tenant-a");
  assert_string_equal(lock_key("https://kc/realms/tenant-a").c_str(),
                      "lock:https://kc/realms/tenant-a");
  assert_string_equal(tenant_key("acme").c_str(), "tenant:acme");
}

void seal_round_trip(void**) {
  const SealKeys keys{kNew};
  std::string s = seal_value(keys, "p:tenant:a", "active", 1000, 0);
  assert_true(s.rfind("ra1." + kNew.id + ".1000.0.", 0) == 0);
  OpenedValue v;
  std::string why;
  assert_true(open_value(keys, "p:tenant:a", s, 5000, v, why));
  assert_string_equal(v.payload.c_str(), "active");
  assert_int_equal(v.issued_ms, 1000);
  assert_int_equal(v.expires_ms, 0);
  // Payloads may hold dots and anything else.
  const std::string doc("{\"keys\":[1.5]}\n\0x", 17);
  s = seal_value(keys, "k", doc, 1, 0);
  assert_true(open_value(keys, "k", s, 2, v, why));
  assert_true(v.payload == doc);
}

// Changing any part of a sealed value, or reading it under another key,
// fails the check.
void seal_detects_every_change(void**) {
  const SealKeys keys{kNew};
  const std::string s = seal_value(keys, "p:tenant:a", "active", 1000, 9000);
  std::string why;
  assert_false(opens(keys, "p:tenant:b", s, 2000, &why));  // moved to another key
  assert_string_equal(why.c_str(), "bad authenticator");
  for (size_t i = 0; i < s.size(); i++) {
    std::string t = s;
    t[i] = t[i] == '1' ? '2' : '1';
    assert_false(opens(keys, "p:tenant:a", t, 2000));
  }
  assert_false(opens(keys, "p:tenant:a", s + "x", 2000));
  assert_false(opens(keys, "p:tenant:a", s.substr(0, s.size() - 1), 2000));
  assert_false(opens(keys, "p:tenant:a", "active", 2000, &why));
  assert_string_equal(why.c_str(), "not sealed");
  assert_false(opens(keys, "p:tenant:a", "", 2000));
  assert_false(opens(keys, "p:tenant:a", "ra1.....", 2000));
  assert_false(opens(keys, "p:tenant:a", std::string(10000, '.'), 2000));
  // A forger who knows the format but not the key.
  const std::string forged =
      seal_value({make_seal_key(std::string(40, 'f'))}, "p:tenant:a", "disabled", 1000, 0);
  assert_false(opens(keys, "p:tenant:a", forged, 2000, &why));
  assert_string_equal(why.c_str(), "unknown key id");
  // Same forger, claiming our key id.
  std::string claimed = forged;
  claimed.replace(4, 8, kNew.id);
  assert_false(opens(keys, "p:tenant:a", claimed, 2000, &why));
  assert_string_equal(why.c_str(), "bad authenticator");
}

void seal_expires(void**) {
  const SealKeys keys{kNew};
  const std::string s = seal_value(keys, "k", "v", 1000, 5000);
  assert_true(opens(keys, "k", s, 4999));
  std::string why;
  assert_false(opens(keys, "k", s, 5000, &why));
  assert_string_equal(why.c_str(), "expired");
  assert_true(opens(keys, "k", seal_value(keys, "k", "v", 1000, 0), INT64_C(1) << 60));
}

// Rotation: readers accept {new, old} while writers move from old to new;
// once the old key is dropped its values are refused.
void seal_rotation(void**) {
  const std::string by_old = seal_value({kOld}, "k", "v", 1, 0);
  const std::string by_new = seal_value({kNew, kOld}, "k", "v", 1, 0);
  assert_true(by_new.find(kNew.id) == 4);
  assert_true(opens({kOld, kNew}, "k", by_old, 2));  // step 1: new key accepted, old seals
  assert_true(opens({kOld, kNew}, "k", by_new, 2));
  assert_true(opens({kNew, kOld}, "k", by_old, 2));  // step 2: new seals, old accepted
  assert_true(opens({kNew}, "k", by_new, 2));        // step 3: old dropped
  assert_false(opens({kNew}, "k", by_old, 2));
  assert_true(seal_value({}, "k", "v", 1, 0).empty());
}

void key_files(void**) {
  require_redis();
  std::string error;
  SealKey k;
  assert_true(load_seal_key(redis.write_file("good.key", std::string(40, 'k') + "\n"), k, error));
  assert_int_equal(k.secret.size(), 40);  // trailing newline dropped
  assert_string_equal(k.id.c_str(), make_seal_key(std::string(40, 'k')).id.c_str());
  assert_int_equal(k.id.size(), 8);
  assert_false(load_seal_key(redis.write_file("short.key", "short-secret\n"), k, error));
  assert_true(error.find("fewer than 32") != std::string::npos);
  assert_true(error.find("short-secret") == std::string::npos);
  assert_false(load_seal_key(redis.write_file("empty.key", "\n"), k, error));
  assert_false(load_seal_key("/nonexistent/key", k, error));
  std::string pw;
  assert_true(read_secret_file(redis.write_file("pw", "s3cret\r\n"), pw, error));
  assert_string_equal(pw.c_str(), "s3cret");
}

void tenant_record_codec(void**) {
  TenantRecordValue v;
  for (TenantRecord s : {TenantRecord::kActive, TenantRecord::kDisabled, TenantRecord::kDeleted}) {
    v.state = s;
    TenantRecordValue back;
    assert_true(decode_tenant_record(encode_tenant_record(v), back));
    assert_true(back.state == s);
  }
  // Fields a newer writer adds are ignored by this reader.
  assert_true(decode_tenant_record("disabled created=1700000000000", v));
  assert_true(v.state == TenantRecord::kDisabled);
  assert_false(decode_tenant_record("paused", v));
  assert_false(decode_tenant_record("", v));
  assert_false(decode_tenant_record("absent", v));
  assert_false(decode_tenant_record("Active", v));
}

// Both users of the record: the sidecar's user writes, the nginx user
// reads; a forged, oversized or unknown record is rejected, never taken.
void tenant_records_in_redis(void**) {
  require_redis();
  RedisClient sidecar(redis.endpoint("rec:", "sidecar"));
  RedisClient nginx(redis.endpoint("rec:", "nginx"));
  TenantRecordValue v;
  v.state = TenantRecord::kDisabled;
  const int64_t before = unix_ms();
  assert_true(write_tenant_record(sidecar, "acme", v));
  TenantRecordValue got;
  std::string why;
  assert_true(read_tenant_record(nginx, "acme", got, why) == RedisRead::kFound);
  assert_true(got.state == TenantRecord::kDisabled);
  assert_true(got.issued_ms >= before && got.issued_ms <= unix_ms());

  assert_true(read_tenant_record(nginx, "nobody", got, why) == RedisRead::kAbsent);

  RedisClient admin(redis.endpoint("rec:"));
  assert_true(admin.set(tenant_key("planted"), "disabled", 0));
  assert_true(read_tenant_record(nginx, "planted", got, why) == RedisRead::kRejected);
  assert_string_equal(why.c_str(), "not sealed");
  assert_true(admin.set_sealed(tenant_key("odd"), "paused", 0));
  assert_true(read_tenant_record(nginx, "odd", got, why) == RedisRead::kRejected);
  assert_string_equal(why.c_str(), "unknown tenant state");
  assert_true(
      admin.set(tenant_key("huge"), std::string(kMaxTenantRecord + kSealOverhead + 1, 'x'), 0));
  assert_true(read_tenant_record(nginx, "huge", got, why) == RedisRead::kRejected);
  assert_true(why.find("larger than") != std::string::npos);
}

// AUTH: each user logs in with its password and may touch only its keys.
void acl_login_and_limits(void**) {
  require_redis();
  RedisClient nginx(redis.endpoint("acl:", "nginx"));
  assert_true(nginx.set(jwks_key("iss"), "x", 1000));
  bool acquired = false;
  assert_true(nginx.set_nx(lock_key("iss"), "t", 1000, acquired) && acquired);
  assert_true(nginx.del_if_equals(lock_key("iss"), "t"));
  // nginx may read tenant records but not write them.
  assert_false(nginx.set(tenant_key("acme"), "active", 0));
  assert_true(nginx.error().find("NOPERM") != std::string::npos);
  std::string v;
  assert_true(nginx.get(tenant_key("acme"), 16, v) == RedisRead::kAbsent);  // reconnects
  // Nor any other key.
  assert_false(nginx.set("other", "x", 0));
  RedisClient sidecar(redis.endpoint("acl:", "sidecar"));
  assert_true(sidecar.set(tenant_key("acme"), "x", 0));
  assert_true(sidecar.del(jwks_key("iss")));
  assert_false(sidecar.set("other", "x", 0));

  // A wrong password: every call fails, the error never shows the password.
  RedisEndpoint wrong = redis.endpoint("acl:", "nginx");
  wrong.password = "not-the-password";
  RedisClient bad(wrong);
  assert_true(bad.get(jwks_key("iss"), 16, v) == RedisRead::kError);
  assert_true(bad.error().find("AUTH") != std::string::npos);
  assert_true(bad.error().find("not-the-password") == std::string::npos);
  // No login at all: the default user is off.
  RedisEndpoint anonymous = redis.endpoint("acl:");
  anonymous.user.clear();
  anonymous.password.clear();
  RedisClient anon(anonymous);
  assert_true(anon.get(jwks_key("iss"), 16, v) == RedisRead::kError);
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(key_names),
      cmocka_unit_test(seal_round_trip),
      cmocka_unit_test(seal_detects_every_change),
      cmocka_unit_test(seal_expires),
      cmocka_unit_test(seal_rotation),
      cmocka_unit_test(key_files),
      cmocka_unit_test(tenant_record_codec),
      cmocka_unit_test(tenant_records_in_redis),
      cmocka_unit_test(acl_login_and_limits),
  };
  return cmocka_run_group_tests(tests, setup, nullptr);
}
