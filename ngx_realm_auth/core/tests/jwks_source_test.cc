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
#include "test_support.h"

using namespace realm_auth;

namespace {

struct Env {
  pid_t redis_pid = -1;
  int redis_port = 0;
  test::HttpServer* http = nullptr;
  std::string jwks;        // a valid document
  std::string other_jwks;  // another valid document
};
Env env;

int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

RedisEndpoint endpoint(int port) {
  RedisEndpoint e;
  e.port = port;
  e.prefix = "test:";
  return e;
}

bool start_redis() {
  const char* bin = REDIS_SERVER_BIN;
  if (*bin == '\0' || access(bin, X_OK) != 0) return false;
  env.redis_port = free_port();
  const std::string port = std::to_string(env.redis_port);
  env.redis_pid = fork();
  if (env.redis_pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);  // never outlive a crashed test
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, STDOUT_FILENO);
    execl(bin, bin, "--port", port.c_str(), "--bind", "127.0.0.1", "--save", "", "--appendonly",
          "no", "--daemonize", "no", "--loglevel", "warning", static_cast<char*>(nullptr));
    _exit(127);
  }
  RedisClient probe(endpoint(env.redis_port));
  for (int i = 0; i < 100; ++i) {
    std::string v;
    bool found;
    if (probe.get("probe", v, found)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
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
  if (!start_redis()) env.redis_port = 0;
  return 0;
}

int teardown(void**) {
  if (env.redis_pid > 0) {
    kill(env.redis_pid, SIGTERM);
    waitpid(env.redis_pid, nullptr, 0);
  }
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

std::string redis_get(const std::string& key) {
  RedisClient c(endpoint(env.redis_port));
  std::string v;
  bool found = false;
  assert_true(c.get(key, v, found));
  return found ? v : "<none>";
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
  assert_string_equal(redis_get("jwks:" + iss).c_str(), env.jwks.c_str());
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
  RedisClient c(endpoint(env.redis_port));
  assert_true(c.set("jwks:" + iss, env.jwks, 60000));
  env.http->respond(200, env.other_jwks);
  const int before = env.http->requests();

  JwksFetchOutcome out = obtain_jwks(iss, true, config());
  assert_status(out.status, Status::kOk);
  assert_true(out.origin == JwksOrigin::kHttp);
  assert_string_equal(out.body.c_str(), env.other_jwks.c_str());
  assert_int_equal(env.http->requests(), before + 1);
  assert_string_equal(redis_get("jwks:" + iss).c_str(), env.other_jwks.c_str());
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
  assert_true(c.set("jwks:" + iss, "{not a jwks", 60000));
  env.http->respond(200, env.jwks);
  JwksFetchOutcome out = obtain_jwks(iss, false, config());
  assert_status(out.status, Status::kOk);
  assert_true(out.origin == JwksOrigin::kHttp);
  assert_string_equal(redis_get("jwks:" + iss).c_str(), env.jwks.c_str());
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
    c.set("jwks:" + iss, env.jwks, 60000);
  });
  env.http->respond(200, env.other_jwks);
  const int before = env.http->requests();
  JwksSourceConfig c = config();
  c.lock_ttl_ms = 3000;
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
  assert_string_equal(redis_get("jwks:" + expiring).c_str(), env.jwks.c_str());
  assert_string_equal(redis_get("lock:" + expiring).c_str(), "<none>");

  // The holder hangs on to its lock: give up after lock_ttl_ms.
  const std::string stuck = issuer("stuck");
  assert_true(holder.set_nx("lock:" + stuck, "other", 60000, acquired));
  JwksSourceConfig c = config();
  c.lock_ttl_ms = 250;
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
  bool found = false;
  assert_true(c.get("bin", v, found));
  assert_true(found && v == bin);
  // A dead endpoint fails fast and keeps failing without hanging.
  RedisClient dead(endpoint(free_port()));
  assert_false(dead.get("k", v, found));
  assert_false(dead.set("k", "v", 1000));
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
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
