// RedisClient with Redis Sentinel (redis_client.h), against real processes:
// a master, a replica and three redis-sentinel processes on loopback (the
// local stack's ACL on the data servers), plus a fake sentinel that answers
// whatever the test wants (a lying or lagging one). Covers discovery, the
// ROLE check, sentinels that are down or do not know the master, sentinel
// AUTH, the READONLY retry and a real failover after SIGKILL of the master:
// tenant records and revocations written before it are read after it, and
// writes land on the promoted replica within a measured time.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>

#include "cmocka_cxx.h"
#include "redis_client.h"
#include "redis_server.h"
#include "revocation_feed.h"
#include "tenant_registry.h"

using namespace realm_auth;

namespace {

constexpr const char kName[] = "realm-auth";
constexpr const char kSentinelPassword[] = "sentinel-pw-0123456789";

// A "sentinel" that answers every command it reads with `reply` (RESP
// text): one thread, one connection at a time.
class FakeSentinel {
 public:
  FakeSentinel() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    listen(fd_, 16);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeSentinel() {
    stop_ = true;
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    thread_.join();
  }
  int port() const { return port_; }
  void answer_master(int port) {
    const std::string p = std::to_string(port);
    set_reply("*2\r\n$9\r\n127.0.0.1\r\n$" + std::to_string(p.size()) + "\r\n" + p + "\r\n");
  }
  void set_reply(const std::string& r) {
    std::lock_guard<std::mutex> l(mu_);
    reply_ = r;
  }

 private:
  void serve() {
    while (!stop_) {
      int c = accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      char buf[4096];
      while (read(c, buf, sizeof buf) > 0) {
        std::string r;
        {
          std::lock_guard<std::mutex> l(mu_);
          r = reply_;
        }
        if (write(c, r.data(), r.size()) < 0) break;
      }
      close(c);
    }
  }
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::string reply_ = "$-1\r\n";
  std::thread thread_;
};

test::RedisServer master, replica, s1, s2, s3;
bool ready = false;

int setup(void**) {
  signal(SIGPIPE, SIG_IGN);
  ready = master.start(true) && replica.start_replica(master) &&
          s1.start_sentinel(master, kName, kSentinelPassword) &&
          s2.start_sentinel(master, kName, kSentinelPassword) &&
          s3.start_sentinel(master, kName, kSentinelPassword);
  if (!ready) std::fprintf(stderr, "redis-server/redis-sentinel not available: cases skip\n");
  return 0;
}

void require_cluster() {
  if (!ready) skip();
}

// An endpoint that knows only the sentinels (no host:port of its own).
RedisEndpoint via(std::vector<int> sentinel_ports, const std::string& user = "sidecar") {
  RedisEndpoint e = master.endpoint("sn:", user);
  e.host = "192.0.2.1";  // TEST-NET: never used with sentinels
  e.port = 1;
  e.sentinels.clear();
  for (int p : sentinel_ports) e.sentinels.push_back({"127.0.0.1", p});
  e.master_name = kName;
  e.sentinel_password = kSentinelPassword;
  return e;
}

std::string port_of(int p) { return "127.0.0.1:" + std::to_string(p); }

void parses_addresses(void**) {
  std::vector<RedisAddress> out;
  std::string error;
  assert_true(parse_redis_addresses("127.0.0.1:26379,[::1]:26380,redis-s3.internal:1", out, error));
  assert_int_equal(out.size(), 3);
  assert_string_equal(out[1].host.c_str(), "::1");
  assert_int_equal(out[1].port, 26380);
  assert_string_equal(out[2].host.c_str(), "redis-s3.internal");
  for (const char* bad : {"", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536", "h:26379,", ":26379",
                          "::1:26379", "a b:1", "h:1x", "h:-1"}) {
    assert_false(parse_redis_addresses(bad, out, error));
    assert_true(error.find("host:port") != std::string::npos);
  }
  std::string many;
  for (int i = 0; i <= static_cast<int>(kMaxSentinels); i++)
    many += (i ? ",h:" : "h:") + std::to_string(i + 1);
  assert_false(parse_redis_addresses(many, out, error));
  assert_true(valid_master_name("realm-auth.prod_1"));
  assert_false(valid_master_name(""));
  assert_false(valid_master_name("a b"));
  assert_false(valid_master_name(std::string(65, 'm')));
  RedisEndpoint e = via({1, 2});
  assert_string_equal(describe(e).c_str(), "sentinel=127.0.0.1:1,127.0.0.1:2 master=realm-auth");
  assert_true(describe(e).find(kSentinelPassword) == std::string::npos);
}

// The master is found through the sentinels; values are sealed as always.
void discovers_master(void**) {
  require_cluster();
  RedisClient c(via({s1.port(), s2.port(), s3.port()}));
  assert_true(c.set_sealed("jwks:k", "v1", 0));
  assert_string_equal(c.connected_to().c_str(), port_of(master.port()).c_str());
  OpenedValue v;
  std::string why;
  assert_true(c.get_sealed("jwks:k", 64, v, why) == RedisRead::kFound);
  assert_string_equal(v.payload.c_str(), "v1");
}

// A sentinel that is down, or does not know the name, is skipped.
void skips_bad_sentinels(void**) {
  require_cluster();
  FakeSentinel unknown;  // answers nil: no such master
  RedisClient c(via({test::free_port(), unknown.port(), s2.port()}));
  std::string v;
  assert_true(c.get("jwks:k", 1024, v) != RedisRead::kError);
  assert_string_equal(c.connected_to().c_str(), port_of(master.port()).c_str());

  RedisClient none(via({test::free_port(), unknown.port()}));
  assert_true(none.get("jwks:k", 1024, v) == RedisRead::kError);
  assert_true(none.error().find("master \"realm-auth\"") != std::string::npos);
  assert_true(none.error().find("does not know master") != std::string::npos);
  assert_true(none.error().find(kSentinelPassword) == std::string::npos);
}

// The sentinels require a password: without it nothing is discovered.
void sentinel_auth(void**) {
  require_cluster();
  RedisEndpoint e = via({s1.port()});
  e.sentinel_password.clear();
  RedisClient c(e);
  std::string v;
  assert_true(c.get("jwks:k", 1024, v) == RedisRead::kError);
  assert_true(c.error().find("NOAUTH") != std::string::npos);
  e.sentinel_password = "wrong-password";
  RedisClient w(e);
  assert_true(w.get("jwks:k", 1024, v) == RedisRead::kError);
  assert_true(w.error().find(e.sentinel_password) == std::string::npos);
}

// A lying (or lagging) sentinel can only pick the server: one that is not
// a master (a replica, a sentinel) or junk is refused, never written to.
void lying_sentinel(void**) {
  require_cluster();
  FakeSentinel liar;
  std::string v;
  liar.answer_master(replica.port());
  RedisClient to_replica(via({liar.port()}));
  assert_false(to_replica.set("lock:lie", "x", 0));
  assert_true(to_replica.error().find("is a replica") != std::string::npos);
  assert_true(replica.run({"EXISTS", "sn:lock:lie"})->integer == 0);

  liar.answer_master(s1.port());
  RedisClient to_sentinel(via({liar.port()}));
  assert_true(to_sentinel.get("jwks:k", 1024, v) == RedisRead::kError);

  liar.set_reply("*2\r\n$12\r\n127.0.0.1\r\nX\r\n$4\r\n6379\r\n");
  RedisClient junk(via({liar.port()}));
  assert_true(junk.get("jwks:k", 1024, v) == RedisRead::kError);
  assert_true(junk.error().find("not an address") != std::string::npos);

  // The next sentinel still tells the truth.
  liar.answer_master(replica.port());
  RedisClient mixed(via({liar.port(), s1.port()}));
  assert_true(mixed.set("lock:truth", "x", 0));
  assert_string_equal(mixed.connected_to().c_str(), port_of(master.port()).c_str());
}

// A connection that outlived a role change gets READONLY on a write: the
// write is sent again to the master the sentinels name now, in one call.
void readonly_follows(void**) {
  require_cluster();
  test::RedisServer a, b;
  if (!a.start(true) || !b.start_replica(a)) skip();
  FakeSentinel fake;
  fake.answer_master(a.port());
  RedisClient c(via({fake.port()}));
  assert_true(c.set("lock:ro", "1", 0));
  // b is promoted, a demoted; c's connection to a stays open.
  assert_non_null(b.run({"REPLICAOF", "NO", "ONE"}).get());
  assert_non_null(a.run({"REPLICAOF", "127.0.0.1", std::to_string(b.port())}).get());
  fake.answer_master(b.port());
  assert_true(c.set("lock:ro", "2", 0));
  assert_string_equal(c.connected_to().c_str(), port_of(b.port()).c_str());
  test::RedisServer::Reply r = b.run({"GET", "sn:lock:ro"});
  assert_non_null(r.get());
  assert_string_equal(r->str, "2");
}

// SIGKILL of the master during writes: the sentinels promote the replica;
// the client follows without being recreated. Tenant records and
// revocations published before (replicated: WAIT) and after are read back.
void failover(void**) {
  require_cluster();
  RedisClient sidecar(via({s1.port(), s2.port(), s3.port()}, "sidecar"));
  RedisClient nginx(via({s3.port(), s2.port(), s1.port()}, "nginx"));
  TenantRecordValue disabled;
  disabled.state = TenantRecord::kDisabled;
  assert_true(write_tenant_record(sidecar, "before", disabled));
  const int64_t now = unix_ms() / 1000;
  RevocationRecord before{RevocationKind::kUser, "acme", "u-before", now, now + 600};
  std::string id;
  assert_true(publish_revocation(sidecar, before, id));
  TenantRecordValue seen;
  std::string seen_why;
  assert_true(read_tenant_record(nginx, "before", seen, seen_why) == RedisRead::kFound);
  test::RedisServer::Reply w = master.run({"WAIT", "1", "2000"});
  assert_true(w && w->integer == 1);  // the replica has both

  const std::string old_master = port_of(master.port());
  master.kill_now();
  const auto t0 = std::chrono::steady_clock::now();
  int failed = 0;
  double recovered_s = -1;
  for (int i = 0; i < 600; i++) {  // 30 s at most
    if (sidecar.set("lock:tick", std::to_string(i), 0)) {
      recovered_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      break;
    }
    failed++;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::printf("failover: writes refused for %.2f s (%d attempts), then on %s\n", recovered_s,
              failed, sidecar.connected_to().c_str());
  assert_true(recovered_s > 0 && recovered_s < 15);
  assert_string_equal(sidecar.connected_to().c_str(), port_of(replica.port()).c_str());
  assert_string_not_equal(sidecar.connected_to().c_str(), old_master.c_str());

  TenantRecordValue active;
  active.state = TenantRecord::kActive;
  assert_true(write_tenant_record(sidecar, "after", active));
  RevocationRecord after{RevocationKind::kTenant, "other", "", now, now + 600};
  assert_true(publish_revocation(sidecar, after, id));

  // nginx's client was connected to the old master too: it follows as well.
  TenantRecordValue got;
  std::string why;
  RedisRead r = RedisRead::kError;
  for (int i = 0; i < 100 && r == RedisRead::kError; i++) {
    r = read_tenant_record(nginx, "before", got, why);
    if (r == RedisRead::kError) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  assert_true(r == RedisRead::kFound);
  assert_true(got.state == TenantRecord::kDisabled);
  assert_true(read_tenant_record(nginx, "after", got, why) == RedisRead::kFound);
  assert_true(got.state == TenantRecord::kActive);
  RevocationPage page;
  assert_true(read_revocations(nginx, "0-0", 10, page, why) == RedisRead::kFound);
  assert_int_equal(page.records.size(), 2);
  assert_string_equal(page.records[0].subject.c_str(), "u-before");
  assert_true(page.records[1].kind == RevocationKind::kTenant);
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(parses_addresses),
      cmocka_unit_test(discovers_master),
      cmocka_unit_test(skips_bad_sentinels),
      cmocka_unit_test(sentinel_auth),
      cmocka_unit_test(lying_sentinel),
      cmocka_unit_test(readonly_follows),
      cmocka_unit_test(failover),
  };
  return cmocka_run_group_tests(tests, setup, nullptr);
}
