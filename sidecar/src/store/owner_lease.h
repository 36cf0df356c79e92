// Which sidecar process owns an in-flight provisioning attempt, and whether
// it still lives. Each `serve` picks a random owner id at start and holds
// the session-level advisory lock (7412003, id) on a PostgreSQL connection
// of its own (not the pool's) for its whole life: a SIGKILL, a crash or a
// lost host closes that connection and PostgreSQL releases the lock. A
// recovery pass takes an attempt over only when its owner's lock is free,
// so it never races a live request (not even in the instant between the
// saga's end and the ledger's outcome row).
#pragma once

#include <cstdint>
#include <mutex>
#include <string>

#include "store/pg.h"

namespace realm_sidecar {

class OwnerLease {
 public:
  explicit OwnerLease(std::string conninfo);
  // Connects and takes the lock (again after a lost connection: same id);
  // true when held. Called at start, by each create and by each recovery
  // pass, from any thread (one connection: serialized).
  bool hold(std::string& error);
  int32_t id() const { return id_; }

  // True when no session holds owner `id`'s lock: its process is gone and
  // its attempts may be taken over. False on error (then nobody acts).
  static bool owner_gone(PgSession& s, int32_t id);

 private:
  std::string conninfo_;
  int32_t id_;
  std::mutex mu_;  // guards conn_ (a PGconn is not shared between threads)
  PgConnPtr conn_;
};

}  // namespace realm_sidecar
