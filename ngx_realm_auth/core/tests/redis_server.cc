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

bool RedisServer::start(bool acl) {
  const char* bin = REDIS_SERVER_BIN;
  if (*bin == '\0' || access(bin, X_OK) != 0) return false;
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
  if (acl && std::system(acl_cmd.c_str()) != 0) return false;
  const int port = free_port();
  const std::string port_text = std::to_string(port);
  const std::string acl_file = dir_ + "/users.acl";
  pid_ = fork();
  if (pid_ == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);  // never outlive a crashed test
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, STDOUT_FILENO);
    if (acl) {
      execl(bin, bin, "--port", port_text.c_str(), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning", "--dir",
            dir_.c_str(), "--aclfile", acl_file.c_str(), static_cast<char*>(nullptr));
    } else {
      execl(bin, bin, "--port", port_text.c_str(), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning", "--dir",
            dir_.c_str(), static_cast<char*>(nullptr));
    }
    _exit(127);
  }
  port_ = port;
  RedisClient probe(endpoint());
  for (int i = 0; i < 100; ++i) {
    std::string v;
    if (probe.get("probe", 16, v) != RedisRead::kError) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  port_ = 0;
  return false;
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
