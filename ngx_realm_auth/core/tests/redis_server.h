// A throwaway redis-server for tests of the Redis client and its users (the
// core tiers and realm-sidecar's publisher): loopback, free port, no
// persistence, killed with the test. With `acl`, it runs like the local
// stack (scripts/stack/redis-acl.sh): the default user is off, user "admin" may
// do anything, "nginx" and "sidecar" only their keys and commands.
//
// For Sentinel tests (redis_sentinel_test.cc): start_replica() runs a
// replica of another server (same ACL), start_sentinel() a redis-sentinel
// (Debian's redis-sentinel package) monitoring a master with short timeouts,
// and kill_now() SIGKILLs a server (a crash, not a shutdown).
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "redis_client.h"

namespace realm_auth::test {

class RedisServer {
 public:
  // False when redis-server is not installed or does not come up.
  bool start(bool acl = false);
  // A replica of `master`, replicating before this returns true.
  bool start_replica(const RedisServer& master);
  // A sentinel watching `master` as `name` (quorum 2, down after 1 s,
  // failover timeout 5 s). With `requirepass`, clients must AUTH to it.
  bool start_sentinel(const RedisServer& master, const std::string& name,
                      const std::string& requirepass = "");
  // SIGKILL and reap: the server is gone at once (port() keeps its value).
  void kill_now();
  // One command over a fresh connection, logged in as admin on an ACL
  // server (or with `password` on a sentinel); nullptr on any failure.
  struct ReplyDeleter {
    void operator()(redisReply* r) const { freeReplyObject(r); }
  };
  using Reply = std::unique_ptr<redisReply, ReplyDeleter>;
  Reply run(const std::vector<std::string>& args, const std::string& password = "") const;
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
  bool prepare(bool acl);
  bool spawn(const std::vector<std::string>& args);
  bool wait_until(const std::function<bool()>& ready);

  pid_t pid_ = -1;
  int port_ = 0;
  bool acl_ = false;
  std::string dir_;
};

// A free TCP port on 127.0.0.1 (nothing listens there right after).
int free_port();

}  // namespace realm_auth::test
