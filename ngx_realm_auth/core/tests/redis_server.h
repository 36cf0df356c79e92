// A throwaway redis-server for tests of the Redis client and its users (the
// core tiers and realm-sidecar's publisher): loopback, free port, no
// persistence, killed with the test. With `acl`, it runs like the local
// stack (scripts/stack/redis-acl.sh): the default user is off, user "admin" may
// do anything, "nginx" and "sidecar" only their keys and commands.
#pragma once

#include <sys/types.h>

#include <string>

#include "redis_client.h"

namespace realm_auth::test {

class RedisServer {
 public:
  // False when redis-server is not installed or does not come up.
  bool start(bool acl = false);
  ~RedisServer();
  bool running() const { return port_ != 0; }
  int port() const { return port_; }
  // The server process, for tests that freeze it (SIGSTOP: Redis stops
  // answering, connections time out) and let it go again (SIGCONT).
  pid_t pid() const { return pid_; }

  // An endpoint with `prefix`, logged in as `user` ("admin" when acl and
  // user is empty), sealing with `keys` (default: fleet_keys()).
  RedisEndpoint endpoint(const std::string& prefix = "test:", const std::string& user = "") const;
  // The fleet key every endpoint() seals with, and its secret.
  static const SealKeys& fleet_keys();
  std::string password(const std::string& user) const { return "pw-" + user + "-0123456789"; }
  // A file holding `text` (password and key file tests); removed with the server.
  std::string write_file(const std::string& name, const std::string& text) const;

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  bool acl_ = false;
  std::string dir_;
};

// A free TCP port on 127.0.0.1 (nothing listens there right after).
int free_port();

}  // namespace realm_auth::test
