// The sidecar side of the shared Redis pieces: TenantStatePublisher writes
// through core's client, key names and seal, and what it writes is exactly
// what the module's reader (core read_tenant_record, as the nginx ACL user)
// accepts. load_redis_endpoint reads the password and key files.
#include "store/tenant_state.h"

#include <signal.h>

#include "config.h"
#include "redis_keys.h"
#include "redis_server.h"
#include "sidecar_test.h"
#include "tenant_registry.h"

using namespace realm_sidecar;
using realm_auth::RedisClient;
using realm_auth::RedisRead;
using realm_auth::TenantRecord;
using realm_auth::TenantRecordValue;
using realm_auth::test::RedisServer;

namespace {

RedisServer redis;

int setup(void**) {
  signal(SIGPIPE, SIG_IGN);
  redis.start(true);
  return 0;
}

void require_redis() {
  if (!redis.running()) skip();
}

RedisRead module_reads(const std::string& prefix, const std::string& slug, TenantRecordValue& out,
                       std::string& why) {
  RedisClient nginx(redis.endpoint(prefix, "nginx"));
  return realm_auth::read_tenant_record(nginx, slug, out, why);
}

TenantRecordValue rec(const char* state) {
  TenantRecordValue v;
  assert_true(realm_auth::parse_tenant_state(state, v.state));
  v.incarnation_start = 1764579600;
  v.incarnation_id = "2f1c0d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f";
  return v;
}

void published_states_are_what_the_module_reads(void**) {
  require_redis();
  TenantStatePublisher pub(redis.endpoint("pub:", "sidecar"), true);
  std::string error, why;
  TenantRecordValue got;
  int64_t last = 0;
  for (const char* state : {"active", "disabled", "active", "deleted"}) {
    assert_true(pub.publish("acme", rec(state), error));
    assert_true(module_reads("pub:", "acme", got, why) == RedisRead::kFound);
    assert_string_equal(realm_auth::tenant_state_name(got.state), state);
    assert_int_equal(got.incarnation_start, 1764579600);  // the incarnation travels with it
    assert_string_equal(got.incarnation_id.c_str(), "2f1c0d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f");
    assert_true(got.issued_ms >= last);  // later writes order after earlier ones
    last = got.issued_ms;
  }
  assert_false(pub.publish("acme", TenantRecordValue{}, error));  // no state: nothing written
  assert_true(error.find("no tenant state") != std::string::npos);
}

void forget_jwks_deletes_the_shared_entry(void**) {
  require_redis();
  const std::string iss = "http://kc/realms/tenant-acme";
  RedisClient nginx(redis.endpoint("pub:", "nginx"));
  assert_true(nginx.set_sealed(realm_auth::jwks_key(iss), "{\"keys\":[]}", 60000));
  TenantStatePublisher pub(redis.endpoint("pub:", "sidecar"), true);
  std::string error;
  assert_true(pub.forget_jwks(iss, error));
  std::string v;
  assert_true(nginx.get(realm_auth::jwks_key(iss), 64, v) == RedisRead::kAbsent);
}

// A sidecar with another fleet key is, to the module, a forger; during a
// rotation both keys are accepted.
void fleet_key_and_rotation(void**) {
  require_redis();
  realm_auth::RedisEndpoint other = redis.endpoint("rot:", "sidecar");
  other.seal_keys = {realm_auth::make_seal_key(std::string(40, 'n'))};
  TenantStatePublisher stranger(other, true);
  std::string error, why;
  assert_true(stranger.publish("acme", rec("disabled"), error));
  TenantRecordValue got;
  assert_true(module_reads("rot:", "acme", got, why) == RedisRead::kRejected);
  assert_string_equal(why.c_str(), "unknown key id");

  realm_auth::RedisEndpoint reader = redis.endpoint("rot:", "nginx");
  reader.seal_keys.push_back(other.seal_keys.front());  // the new key, accepted second
  RedisClient nginx(reader);
  assert_true(realm_auth::read_tenant_record(nginx, "acme", got, why) == RedisRead::kFound);
  assert_true(got.state == TenantRecord::kDisabled);
}

void failures_are_reported_without_secrets(void**) {
  require_redis();
  realm_auth::RedisEndpoint bad = redis.endpoint("pub:", "sidecar");
  bad.password = "wrong-password-123";
  std::string error;
  assert_false(TenantStatePublisher(bad, true).publish("acme", rec("active"), error));
  assert_true(error.find("AUTH") != std::string::npos);
  assert_true(error.find("wrong-password-123") == std::string::npos);
  // The sidecar's user may not write outside its keys... and the module's
  // user may not write tenant records at all.
  assert_false(TenantStatePublisher(redis.endpoint("pub:", "nginx"), true)
                   .publish("acme", rec("disabled"), error));
  assert_true(error.find("NOPERM") != std::string::npos);
  // Publishing off: nothing to do, nothing fails.
  assert_true(TenantStatePublisher(bad, false).publish("acme", rec("active"), error));
}

void endpoint_from_files(void**) {
  require_redis();
  Config c;
  c.redis_user = "sidecar";
  c.redis_password_file = redis.write_file("sidecar.pw", redis.password("sidecar") + "\n");
  c.redis_hmac_key_file = redis.write_file("new.key", std::string(40, 'N') + "\n");
  c.redis_hmac_previous_key_file = redis.write_file("old.key", std::string(40, 'O'));
  realm_auth::RedisEndpoint ep;
  std::string error;
  assert_true(load_redis_endpoint(c, ep, error));
  assert_string_equal(ep.password.c_str(), redis.password("sidecar").c_str());
  assert_int_equal(ep.seal_keys.size(), 2);
  assert_string_equal(ep.seal_keys[0].id.c_str(),
                      realm_auth::make_seal_key(std::string(40, 'N')).id.c_str());
  c.redis_hmac_key_file = redis.write_file("short.key", "short");
  assert_false(load_redis_endpoint(c, ep, error));
  assert_true(error.find("REDIS_HMAC_KEY_FILE") != std::string::npos);
  c.redis_hmac_key_file = "/nonexistent.key";
  assert_false(load_redis_endpoint(c, ep, error));
  c.redis_password_file = "/nonexistent.pw";
  assert_false(load_redis_endpoint(c, ep, error));
  assert_true(error.find("REDIS_PASSWORD_FILE") != std::string::npos);
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(published_states_are_what_the_module_reads),
      cmocka_unit_test(forget_jwks_deletes_the_shared_entry),
      cmocka_unit_test(fleet_key_and_rotation),
      cmocka_unit_test(failures_are_reported_without_secrets),
      cmocka_unit_test(endpoint_from_files),
  };
  return cmocka_run_group_tests(tests, setup, nullptr);
}
