// obtain_jwks against a throwaway redis-server and a local HTTP issuer:
// which tier answers, what is written back, and the fleet lock.
#include "jwks_source.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "cmocka_cxx.h"
#include "http_fetch.h"
#include "http_server.h"
#include "redis_client.h"
#include "redis_server.h"
#include "test_support.h"

using namespace realm_auth;

namespace {

struct Env {
  test::RedisServer redis;
  int redis_port = 0;
  test::HttpServer* http = nullptr;
  std::string jwks;        // a valid document
  std::string other_jwks;  // another valid document
};
Env env;

using test::free_port;

RedisEndpoint endpoint(int port) {
  RedisEndpoint e = env.redis.endpoint();
  e.port = port;
  return e;
}

int setup(void**) {
  // A Redis peer closing the socket must not kill the process (nginx and
  // the sidecar ignore SIGPIPE too).
  signal(SIGPIPE, SIG_IGN);
  http_fetch_global_init();
  EvpPkeyPtr a = test::generate_key(Alg::kES256);
  EvpPkeyPtr b = test::generate_key(Alg::kEdDSA);
  env.jwks = R"({"keys":[)" + test::public_jwk(a.get(), "a", "ES256") + "]}";
  env.other_jwks = R"({"keys":[)" + test::public_jwk(b.get(), "b", "EdDSA") + "]}";
  env.http = new test::HttpServer();
  env.redis_port = env.redis.start() ? env.redis.port() : 0;
  return 0;
}

int teardown(void**) {
  delete env.http;
  return 0;
}

// Each test uses its own issuer so Redis state never leaks between tests.
std::string issuer(const char* name) { return env.http->base_url() + "/realms/tenant-" + name; }

JwksSourceConfig config(bool use_redis = true) {
  JwksSourceConfig c;
  c.use_redis = use_redis;
  c.redis = endpoint(env.redis_port);
  c.fetch_timeout_ms = 2000;
  c.lock_ttl_ms = 1000;
  c.poll_interval_ms = 20;
  return c;
}

void require_redis() {
  if (env.redis_port == 0) skip();
}

// What Redis holds under `key`, raw.
std::string redis_get(const std::string& key) {
  RedisClient c(endpoint(env.redis_port));
  std::string v;
  RedisRead r = c.get(key, 1 << 20, v);
  assert_true(r == RedisRead::kFound || r == RedisRead::kAbsent);
  return r == RedisRead::kFound ? v : "<none>";
}

// The payload of the authentic value under `key`, "<none>" or "<rejected>".
std::string redis_payload(const std::string& key) {
  RedisClient c(endpoint(env.redis_port));
  OpenedValue v;
  std::string why;
  RedisRead r = c.get_sealed(key, 1 << 20, v, why);
  assert_true(r != RedisRead::kError);
  return r == RedisRead::kFound ? v.payload : r == RedisRead::kAbsent ? "<none>" : "<rejected>";
}

// What an instance of the fleet stores for `key`.
void redis_put_sealed(const std::string& key, const std::string& payload, long ttl_ms = 60000) {
  RedisClient c(endpoint(env.redis_port));
  assert_true(c.set_sealed(key, payload, ttl_ms));
}

void http_only_without_redis(void**) {
  env.http->respond(200, env.jwks);
  const int before = env.http->requests();
  JwksFetchOutcome out = obtain_jwks(issuer("plain"), false, config(false));
  assert_status(out.status, Status::kOk);
  assert_true(out.origin == JwksOrigin::kHttp);
  assert_string_equal(out.body.c_str(), env.jwks.c_str());
  assert_false(out.redis_error);
  assert_int_equal(env.http->requests(), before + 1);
  assert_string_equal(env.http->last_path().c_str(),
                      "/realms/tenant-plain/protocol/openid-connect/certs");
}

void miss_fetches_then_redis_hit_avoids_http(void**) {
  require_redis();
  env.http->respond(200, env.jwks);
  const std::string iss = issuer("miss");
  const int before = env.http->requests();

  JwksFetchOutcome out = obtain_jwks(iss, false, config());
  assert_status(out.status, Status::kOk);
  assert_true(out.origin == JwksOrigin::kHttp);
  assert_false(out.redis_error);
  assert_int_equal(env.http->requests(), before + 1);
  assert_string_equal(redis_payload("jwks:" + iss).c_str(), env.jwks.c_str());
  assert_true(redis_get("jwks:" + iss).rfind("ra1.", 0) == 0);      // stored sealed
  assert_string_equal(redis_get("lock:" + iss).c_str(), "<none>");  // released

  out = obtain_jwks(iss, false, config());
  assert_status(out.status, Status::kOk);
  assert_true(out.origin == JwksOrigin::kRedis);
  assert_string_equal(out.body.c_str(), env.jwks.c_str());
  assert_int_equal(env.http->requests(), before + 1);
}

void force_http_skips_redis_read_and_refreshes_it(void**) {
  require_redis();
  const std::string iss = issuer("force");
  redis_put_sealed("jwks:" + iss, env.jwks);
  env.http->respond(200, env.other_jwks);
  const int before = env.http->requests();

  JwksFetchOutcome out = obtain_jwks(iss, true, config());
  assert_status(out.status, Status::kOk);
  assert_true(out.origin == JwksOrigin::kHttp);
  assert_string_equal(out.body.c_str(), env.other_jwks.c_str());
  assert_int_equal(env.http->requests(), before + 1);
  assert_string_equal(redis_payload("jwks:" + iss).c_str(), env.other_jwks.c_str());
}

void redis_down_falls_through_to_http(void**) {
  env.http->respond(200, env.jwks);
  JwksSourceConfig c = config();
  c.redis = endpoint(free_port());  // nothing listens there
  JwksFetchOutcome out = obtain_jwks(issuer("down"), false, c);
  assert_status(out.status, Status::kOk);
  assert_true(out.origin == JwksOrigin::kHttp);
  assert_true(out.redis_error);
  assert_string_equal(out.body.c_str(), env.jwks.c_str());
}

void malformed_body_not_stored(void**) {
  require_redis();
  const std::string iss = issuer("malformed");
  for (const char* body : {R"({"keys":[]})", "<html>", R"({"keys":[{"kty":"oct","k":"AA"}]})"}) {
    env.http->respond(200, body);
    JwksFetchOutcome out = obtain_jwks(iss, false, config());
    assert_status(out.status, Status::kJwksMalformed);
    assert_true(out.body.empty());
    assert_false(out.error.empty());
    assert_string_equal(redis_get("jwks:" + iss).c_str(), "<none>");
  }
}

void garbage_in_redis_is_a_miss(void**) {
  require_redis();
  const std::string iss = issuer("garbage");
  RedisClient c(endpoint(env.redis_port));
  assert_true(c.set_sealed("jwks:" + iss, "{not a jwks", 60000));
  env.http->respond(200, env.jwks);
  JwksFetchOutcome out = obtain_jwks(iss, false, config());
  assert_status(out.status, Status::kOk);
  assert_true(out.origin == JwksOrigin::kHttp);
  assert_true(out.redis_rejected);
  assert_string_equal(redis_payload("jwks:" + iss).c_str(), env.jwks.c_str());
}

void http_failure_is_unavailable(void**) {
  env.http->respond(503, "busy");
  JwksFetchOutcome out = obtain_jwks(issuer("unavailable"), false, config(env.redis_port != 0));
  assert_status(out.status, Status::kJwksUnavailable);
  assert_true(out.origin == JwksOrigin::kNone);
  assert_false(out.error.empty());
}

void waits_for_the_lock_holder(void**) {
  require_redis();
  const std::string iss = issuer("waiter");
  RedisClient holder(endpoint(env.redis_port));
  bool acquired = false;
  assert_true(holder.set_nx("lock:" + iss, "other-instance", 5000, acquired));
  assert_true(acquired);
  std::thread publisher([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    RedisClient c(endpoint(env.redis_port));
    c.set_sealed("jwks:" + iss, env.jwks, 60000);
  });
  env.http->respond(200, env.other_jwks);
  const int before = env.http->requests();
  JwksSourceConfig c = config();
  c.lock_wait_ms = 3000;
  JwksFetchOutcome out = obtain_jwks(iss, false, c);
  publisher.join();
  assert_status(out.status, Status::kOk);
  assert_true(out.origin == JwksOrigin::kRedis);
  assert_string_equal(out.body.c_str(), env.jwks.c_str());
  assert_int_equal(env.http->requests(), before);
  // Someone else's lock is left alone.
  assert_string_equal(redis_get("lock:" + iss).c_str(), "other-instance");
}

void fetches_when_the_holder_never_publishes(void**) {
  require_redis();
  env.http->respond(200, env.jwks);
  RedisClient holder(endpoint(env.redis_port));
  bool acquired = false;

  // The holder's lock expires: the waiter takes it over and fetches.
  const std::string expiring = issuer("expiring");
  assert_true(holder.set_nx("lock:" + expiring, "other", 200, acquired));
  auto start = std::chrono::steady_clock::now();
  JwksFetchOutcome out = obtain_jwks(expiring, false, config());
  auto waited = std::chrono::steady_clock::now() - start;
  assert_status(out.status, Status::kOk);
  assert_true(out.origin == JwksOrigin::kHttp);
  assert_true(waited >= std::chrono::milliseconds(150));
  assert_string_equal(redis_payload("jwks:" + expiring).c_str(), env.jwks.c_str());
  assert_string_equal(redis_get("lock:" + expiring).c_str(), "<none>");

  // The holder hangs on to its lock: give up after lock_wait_ms.
  const std::string stuck = issuer("stuck");
  assert_true(holder.set_nx("lock:" + stuck, "other", 60000, acquired));
  JwksSourceConfig c = config();
  c.lock_wait_ms = 250;
  start = std::chrono::steady_clock::now();
  out = obtain_jwks(stuck, false, c);
  waited = std::chrono::steady_clock::now() - start;
  assert_status(out.status, Status::kOk);
  assert_true(out.origin == JwksOrigin::kHttp);
  assert_true(waited >= std::chrono::milliseconds(250));
  assert_true(waited < std::chrono::milliseconds(2000));
  assert_string_equal(redis_get("lock:" + stuck).c_str(), "other");
}

void redis_client_basics(void**) {
  require_redis();
  RedisClient c(endpoint(env.redis_port));
  bool acquired = false;
  assert_true(c.set_nx("k", "v1", 60000, acquired));
  assert_true(acquired);
  assert_true(c.set_nx("k", "v2", 60000, acquired));
  assert_false(acquired);
  assert_true(c.del_if_equals("k", "v2"));  // not the holder: nothing deleted
  assert_string_equal(redis_get("k").c_str(), "v1");
  assert_true(c.del_if_equals("k", "v1"));
  assert_string_equal(redis_get("k").c_str(), "<none>");
  // Binary-safe values.
  const std::string bin("a\0b\r\nc", 6);
  assert_true(c.set("bin", bin, 60000));
  std::string v;
  assert_true(c.get("bin", 64, v) == RedisRead::kFound);
  assert_true(v == bin);
  // A dead endpoint fails fast and keeps failing without hanging.
  RedisClient dead(endpoint(free_port()));
  assert_true(dead.get("k", 64, v) == RedisRead::kError);
  assert_false(dead.set("k", "v", 1000));
  assert_false(dead.error().empty());
}

// --- Redis is not believed (docs/REDIS_TRUST.md) ------------------------------

// An attacker's key set written straight into Redis, unsealed or sealed
// with another key, or a genuine document replayed after its expiry: never
// returned, reported as rejected, replaced by the issuer's document.
void planted_documents_are_not_believed(void**) {
  require_redis();
  EvpPkeyPtr evil = test::generate_key(Alg::kES256);
  const std::string evil_jwks = R"({"keys":[)" + test::public_jwk(evil.get(), "a", "ES256") + "]}";
  RedisClient c(endpoint(env.redis_port));
  const SealKeys other{make_seal_key(std::string(40, 'z'))};
  int n = 0;
  for (const char* how : {"raw", "foreign key", "expired", "moved", "oversized"}) {
    const std::string iss = issuer(("planted" + std::to_string(n++)).c_str());
    const std::string key = "jwks:" + iss;
    const std::string full = "test:" + key;
    const int64_t now = unix_ms();
    std::string value;
    if (std::string(how) == "raw") value = evil_jwks;
    if (std::string(how) == "foreign key") value = seal_value(other, full, evil_jwks, now, 0);
    if (std::string(how) == "expired") {
      value = seal_value(test::RedisServer::fleet_keys(), full, evil_jwks, now - 10000, now - 1);
    }
    if (std::string(how) == "moved") {  // genuine, but sealed for another issuer's key
      value = seal_value(test::RedisServer::fleet_keys(), "test:jwks:elsewhere", evil_jwks, now, 0);
    }
    if (std::string(how) == "oversized") value.assign(100000, '{');
    assert_true(c.set(key, value, 60000));
    env.http->respond(200, env.jwks);
    const int before = env.http->requests();
    JwksFetchOutcome out = obtain_jwks(iss, false, config());
    print_message("planted %s: rejection %s\n", how, out.rejection.c_str());
    assert_status(out.status, Status::kOk);
    assert_true(out.origin == JwksOrigin::kHttp);
    assert_string_equal(out.body.c_str(), env.jwks.c_str());
    assert_true(out.redis_rejected);
    assert_false(out.redis_error);
    assert_true(out.rejection.find(full) != std::string::npos);
    assert_true(out.rejection.find("keys") == std::string::npos);  // the value is not quoted
    assert_int_equal(env.http->requests(), before + 1);
    assert_string_equal(redis_payload(key).c_str(), env.jwks.c_str());
  }
}

// The seal expires with the document's TTL: a stored document outlives
// neither its PX nor its seal.
void stored_seal_expires_with_the_ttl(void**) {
  require_redis();
  const std::string iss = issuer("sealttl");
  env.http->respond(200, env.jwks);
  JwksSourceConfig cfg = config();
  cfg.ttl_ms = 120000;
  assert_status(obtain_jwks(iss, false, cfg).status, Status::kOk);
  RedisClient c(endpoint(env.redis_port));
  OpenedValue v;
  std::string why;
  assert_true(c.get_sealed("jwks:" + iss, 65536, v, why) == RedisRead::kFound);
  assert_int_equal(v.expires_ms - v.issued_ms, 120000);
}

// The size cap: a document of max_body bytes is read, one byte more is not
// transferred at all (GETRANGE), so a huge value costs no memory.
void reads_are_size_capped(void**) {
  require_redis();
  RedisClient c(endpoint(env.redis_port));
  assert_true(c.set("cap", std::string(1000, 'x'), 60000));
  std::string v;
  assert_true(c.get("cap", 1000, v) == RedisRead::kFound);
  assert_int_equal(v.size(), 1000);
  v.clear();
  assert_true(c.get("cap", 999, v) == RedisRead::kRejected);
  assert_true(v.empty());
  // Another type under the key is a bad value, not an outage.
  const std::string full = "test:hash";
  redisContext* raw = redisConnect("127.0.0.1", env.redis_port);
  assert_non_null(raw);
  freeReplyObject(redisCommand(raw, "HSET %s f v", full.c_str()));
  redisFree(raw);
  assert_true(c.get("hash", 100, v) == RedisRead::kRejected);
  assert_true(c.get("missing", 100, v) == RedisRead::kAbsent);
}

// A lock held by someone who never publishes (or planted without expiry)
// delays a lookup by lock_wait_ms at most; the default fits the module's
// request deadline.
void held_lock_costs_at_most_the_wait(void**) {
  require_redis();
  const std::string iss = issuer("heldlock");
  RedisClient c(endpoint(env.redis_port));
  assert_true(c.set("lock:" + iss, "attacker", 0));  // no expiry
  env.http->respond(200, env.jwks);
  JwksSourceConfig cfg = config();
  cfg.lock_wait_ms = JwksSourceConfig{}.lock_wait_ms;
  assert_true(cfg.lock_wait_ms <= 500);
  auto start = std::chrono::steady_clock::now();
  JwksFetchOutcome out = obtain_jwks(iss, false, cfg);
  auto waited = std::chrono::steady_clock::now() - start;
  assert_status(out.status, Status::kOk);
  assert_true(out.origin == JwksOrigin::kHttp);
  assert_true(waited < std::chrono::milliseconds(cfg.lock_wait_ms + 400));
  assert_string_equal(redis_get("lock:" + iss).c_str(), "attacker");
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(http_only_without_redis),
      cmocka_unit_test(miss_fetches_then_redis_hit_avoids_http),
      cmocka_unit_test(force_http_skips_redis_read_and_refreshes_it),
      cmocka_unit_test(redis_down_falls_through_to_http),
      cmocka_unit_test(malformed_body_not_stored),
      cmocka_unit_test(garbage_in_redis_is_a_miss),
      cmocka_unit_test(http_failure_is_unavailable),
      cmocka_unit_test(waits_for_the_lock_holder),
      cmocka_unit_test(fetches_when_the_holder_never_publishes),
      cmocka_unit_test(redis_client_basics),
      cmocka_unit_test(planted_documents_are_not_believed),
      cmocka_unit_test(stored_seal_expires_with_the_ttl),
      cmocka_unit_test(reads_are_size_capped),
      cmocka_unit_test(held_lock_costs_at_most_the_wait),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
