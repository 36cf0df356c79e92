#include "redis_server.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>
#include <vector>

namespace realm_auth::test {

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

const SealKeys& RedisServer::fleet_keys() {
  static const SealKeys keys{make_seal_key("test-fleet-key-0123456789abcdefghijklmnop")};
  return keys;
}

std::string RedisServer::write_file(const std::string& name, const std::string& text) const {
  std::string path = dir_ + "/" + name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

// A fresh directory with the password files and, with `acl`, the ACL.
bool RedisServer::prepare(bool acl) {
  char tmpl[] = "/tmp/realm-redis-test-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return false;
  dir_ = tmpl;
  acl_ = acl;
  // The local stack's rules (scripts/stack/redis-acl.sh), for any prefix.
  for (const char* user : {"admin", "nginx", "sidecar"}) {
    write_file(std::string("redis-") + user + ".password", password(user) + "\n");
  }
  const std::string acl_cmd =
      std::string("bash '") + REDIS_ACL_SCRIPT + "' '" + dir_ + "' '*' > '" + dir_ + "/users.acl'";
  return !acl || std::system(acl_cmd.c_str()) == 0;
}

bool RedisServer::spawn(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_ = fork();
  if (pid_ < 0) return false;
  if (pid_ == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);  // never outlive a crashed test
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, STDOUT_FILENO);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return true;
}

bool RedisServer::wait_until(const std::function<bool()>& ready) {
  for (int i = 0; i < 200; ++i) {
    if (ready()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  port_ = 0;
  return false;
}

namespace {
std::vector<std::string> server_args(const char* bin, int port, const std::string& dir, bool acl) {
  std::vector<std::string> a{bin,
                             "--port",
                             std::to_string(port),
                             "--bind",
                             "127.0.0.1",
                             "--save",
                             "",
                             "--appendonly",
                             "no",
                             "--daemonize",
                             "no",
                             "--loglevel",
                             "warning",
                             "--dir",
                             dir};
  if (acl) a.insert(a.end(), {"--aclfile", dir + "/users.acl"});
  return a;
}
}  // namespace

bool RedisServer::start(bool acl) {
  const char* bin = REDIS_SERVER_BIN;
  if (*bin == '\0' || access(bin, X_OK) != 0 || !prepare(acl)) return false;
  port_ = free_port();
  if (!spawn(server_args(bin, port_, dir_, acl))) return false;
  RedisClient probe(endpoint());
  return wait_until([&] {
    std::string v;
    return probe.get("probe", 16, v) != RedisRead::kError;
  });
}

bool RedisServer::start_replica(const RedisServer& master) {
  const char* bin = REDIS_SERVER_BIN;
  if (*bin == '\0' || access(bin, X_OK) != 0 || !prepare(master.acl_)) return false;
  port_ = free_port();
  std::vector<std::string> args = server_args(bin, port_, dir_, acl_);
  args.insert(args.end(), {"--replicaof", "127.0.0.1", std::to_string(master.port_)});
  if (acl_) args.insert(args.end(), {"--masteruser", "admin", "--masterauth", password("admin")});
  if (!spawn(args)) return false;
  // ROLE of a replica: ["slave", host, port, "connected", offset].
  return wait_until([&] {
    Reply r = run({"ROLE"});
    return r && r->type == REDIS_REPLY_ARRAY && r->elements >= 4 &&
           std::string(r->element[3]->str, r->element[3]->len) == "connected";
  });
}

bool RedisServer::start_sentinel(const RedisServer& master, const std::string& name,
                                 const std::string& requirepass) {
  const char* bin = REDIS_SENTINEL_BIN;
  if (*bin == '\0' || access(bin, X_OK) != 0 || !prepare(false)) return false;
  port_ = free_port();
  std::string conf = "port " + std::to_string(port_) + "\nbind 127.0.0.1\ndaemonize no\n" + "dir " +
                     dir_ + "\n" + "sentinel monitor " + name + " 127.0.0.1 " +
                     std::to_string(master.port_) + " 2\n" + "sentinel down-after-milliseconds " +
                     name + " 1000\n" + "sentinel failover-timeout " + name + " 5000\n" +
                     "sentinel parallel-syncs " + name + " 1\n";
  if (master.acl_) {
    conf += "sentinel auth-user " + name + " admin\nsentinel auth-pass " + name + " " +
            password("admin") + "\n";
  }
  // Sentinels log in to each other with the same password.
  if (!requirepass.empty()) {
    conf += "requirepass " + requirepass + "\nsentinel sentinel-pass " + requirepass + "\n";
  }
  // Sentinel rewrites its config file: it must be writable.
  const std::string path = write_file("sentinel.conf", conf);
  if (!spawn({bin, path})) return false;
  return wait_until([&] {
    Reply r = run({"SENTINEL", "get-master-addr-by-name", name}, requirepass);
    return r && r->type == REDIS_REPLY_ARRAY;
  });
}

void RedisServer::kill_now() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

RedisServer::Reply RedisServer::run(const std::vector<std::string>& args,
                                    const std::string& password_) const {
  timeval tv{2, 0};
  std::unique_ptr<redisContext, RedisContextDeleter> c(
      redisConnectWithTimeout("127.0.0.1", port_, tv));
  if (!c || c->err != 0 || redisSetTimeout(c.get(), tv) != REDIS_OK) return nullptr;
  auto send = [&](const std::vector<std::string>& words) {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const std::string& w : words) {
      argv.push_back(w.data());
      lens.push_back(w.size());
    }
    return Reply(static_cast<redisReply*>(
        redisCommandArgv(c.get(), static_cast<int>(argv.size()), argv.data(), lens.data())));
  };
  const std::string pw = !password_.empty() ? password_ : acl_ ? password("admin") : "";
  if (!pw.empty()) {
    Reply a = acl_ ? send({"AUTH", "admin", pw}) : send({"AUTH", pw});
    if (!a || a->type == REDIS_REPLY_ERROR) return nullptr;
  }
  Reply r = send(args);
  if (!r || r->type == REDIS_REPLY_ERROR) return nullptr;
  return r;
}

RedisServer::~RedisServer() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }
  if (!dir_.empty()) {
    std::string cmd = "rm -rf '" + dir_ + "'";
    if (std::system(cmd.c_str()) != 0) std::fprintf(stderr, "cannot remove %s\n", dir_.c_str());
  }
}

RedisEndpoint RedisServer::endpoint(const std::string& prefix, const std::string& user) const {
  RedisEndpoint e;
  e.port = port_;
  e.prefix = prefix;
  e.timeout_ms = 500;
  if (acl_) {
    e.user = user.empty() ? "admin" : user;
    e.password = password(e.user);
  }
  e.seal_keys = fleet_keys();
  return e;
}

}  // namespace realm_auth::test
