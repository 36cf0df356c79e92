// The audit ledger's chain head, published outside PostgreSQL.
//
// A keyed chain (ledger_hash.h) stops anyone without the key from changing
// or re-hashing rows, but cutting rows off the tail leaves a shorter chain
// that is still valid. So the sidecar writes the head it last saw — seq
// and row_hash — to a file on its own host at an interval, sealed with the
// ledger key (core's seal format, redis_seal.h, under the name
// kLedgerHeadName), and `realm-sidecar audit verify` requires the chain to
// reach that seq with that hash. Whoever holds only the database can then
// remove at most the rows appended since the last publication.
//
// The file is replaced atomically (write to a temporary file, fsync,
// rename) under an exclusive flock on "<path>.lock", so sidecars sharing a
// host (and `audit publish`) never interleave or move the head backwards.
#pragma once

#include <cstdint>
#include <string>

#include "ledger_hash.h"

namespace realm_sidecar {

// The seal's name: binds the value to its purpose (it is no Redis key).
extern const char kLedgerHeadName[];

struct LedgerHead {
  int64_t seq = 0;
  std::string row_hash;      // 64 lowercase hex digits
  int64_t published_ms = 0;  // when it was written (Unix ms), sealed with it
};

enum class HeadRead {
  kOk,
  kMissing,  // no file: nothing was published yet
  kInvalid,  // unreadable, not sealed by a configured key, or malformed
};

// Reads and opens the head file. `why` (kInvalid) names the path and the
// reason, never key material.
HeadRead read_ledger_head(const std::string& path, const LedgerKeys& keys, LedgerHead& out,
                          std::string& why);

// Seals `head` with keys.front() and replaces the file atomically. False
// with `error` when there is no key or the file cannot be written.
bool write_ledger_head(const std::string& path, const LedgerKeys& keys, const LedgerHead& head,
                       std::string& error);

// An exclusive flock on "<path>.lock" for the lifetime of the object
// (blocks until granted). ok() is false when the lock file cannot be opened.
class LedgerHeadLock {
 public:
  explicit LedgerHeadLock(const std::string& path);
  ~LedgerHeadLock();
  LedgerHeadLock(const LedgerHeadLock&) = delete;
  LedgerHeadLock& operator=(const LedgerHeadLock&) = delete;
  bool ok() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

}  // namespace realm_sidecar
