// The revocation table: every revocation record (core revocation_record.h)
// this nginx knows, in the shared zone, so all its workers refuse the same
// tokens. Filled by the one poller of this nginx (revocation_poller.h),
// read by every request that verified or hit the verified-token cache.
//
// Layout: a header and 2 × capacity slots of 32 bytes (64 bytes per
// record), open addressing with linear probing. A slot holds a 128-bit
// SipHash-2-4 of (kind, tenant, subject) under a key drawn when the table
// was made (so nobody can choose subjects that collide or crowd one probe
// run), the largest not_before and the largest expires seen for that key.
// Records past their expires are dropped (incrementally, by the poller).
//
// Readers take no lock: a sequence counter (seqlock) that writers make odd
// while they change slots tells a reader to look again. Writers hold the
// zone's mutex. A writer that died inside a write leaves the counter odd:
// the next reader that falls back to the mutex sees it, repairs the counter
// and has the poller reread the whole stream (max-merging is idempotent).
//
// Full: a user or session record that does not fit becomes a tenant-wide
// record for its tenant (same not_before and expires), which has a reserve
// of capacity / 4 slots beyond the capacity; a tenant record that does not
// fit either raises a floor applying to every token of this nginx. Either
// refuses more than asked, never less: a revocation is never forgotten.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "identity.h"
#include "ngx.h"
#include "revocation_record.h"

namespace realm_auth {

// The table keys of one verified token, computed once per verification and
// kept with the cached token, so a cache hit does no hashing.
struct RevocationKeys {
  uint64_t user[2] = {0, 0};
  uint64_t session[2] = {0, 0};  // {0, 0}: the token has no sid
  uint64_t tenant[2] = {0, 0};
  int64_t iat = 0;
  // The table's version + 1 when the token was last found not revoked
  // (0: never): until a record is added or raised, the answer stands, and a
  // cache hit skips the lookups (records only ever leave by expiring,
  // which cannot revoke anything).
  uint64_t checked = 0;
};

// What the status shows.
struct RevocationStats {
  uint64_t records = 0, capacity = 0, polls = 0, poll_errors = 0, rejected = 0, overflowed = 0,
           dropped = 0;
  int64_t floor_not_before = 0;
  ngx_msec_t last_poll_age = 0;  // since the last successful poll; 0 with none yet
  bool polled = false;
  ngx_pid_t poller = 0;
  std::string cursor;
};

class RevocationTable {
 public:
  static constexpr size_t kBytesPerRecord = 64;
  static constexpr size_t kMaxCursor = 47;  // "<20 digits>-<20 digits>" + NUL fits 48

  // Bytes of a table of `capacity` records.
  static size_t bytes_for(size_t capacity);
  // Lays a new table out in zeroed memory of bytes_for(capacity) bytes.
  // False when no random key could be drawn.
  static bool create(void* memory, size_t capacity);

  RevocationTable(void* memory, ngx_shmtx_t* mutex);

  size_t capacity() const;
  RevocationKeys keys_for(const Identity& id) const;

  // Whether nothing could revoke anything (no record, no floor): the hot
  // path's first look, one load.
  bool empty() const { return __atomic_load_n(live_, __ATOMIC_RELAXED) == 0; }
  // Whether this nginx has read the stream to its end once (or found Redis
  // down): until then a tenant token waits rather than pass an empty
  // table. Stays set across reloads (the zone keeps it).
  bool loaded() const { return __atomic_load_n(loaded_, __ATOMIC_ACQUIRE); }
  void set_loaded();
  // Changes whenever a record is added or raised, after the change is
  // visible to readers.
  uint64_t version() const { return __atomic_load_n(version_, __ATOMIC_ACQUIRE); }
  // Whether a record (or the floor) names the token and has not_before >
  // its iat, at `now` (seconds).
  bool revoked(const RevocationKeys& keys, int64_t now) const;

  // --- the poller (event loop, one worker of this nginx at a time) ------
  struct Applied {
    size_t stored = 0;      // new or raised records
    size_t overflowed = 0;  // folded into a tenant record or the floor
  };
  Applied apply(const std::vector<RevocationRecord>& records, int64_t now);
  // Looks at up to `budget` slots for records past their expires.
  void sweep(size_t budget, int64_t now);

  // The poll claim: true when `pid` holds it now (free, its own, or not
  // renewed for `abandon_after` ms). Renews it.
  bool claim(ngx_pid_t pid, ngx_msec_t now, ngx_msec_t abandon_after);
  void release(ngx_pid_t pid);
  // The stream cursor of `source` (a fingerprint of Redis endpoint and
  // prefix): "0-0" when none is stored, it belongs to another source, or a
  // torn write asked for a reread.
  std::string cursor(uint32_t source);
  // Stores the cursor, the poll's counts and its time.
  void polled(uint32_t source, const std::string& cursor, size_t rejected, ngx_msec_t now);
  void poll_failed();

  RevocationStats stats(ngx_msec_t now);

 private:
  struct Header;
  struct Slot;
  bool revoked_locked(const RevocationKeys& keys, int64_t now) const;
  void sweep_locked(size_t budget, int64_t now);
  void key_of(RevocationKind kind, std::string_view tenant, std::string_view subject,
              uint64_t out[2]) const;
  Slot* find(const uint64_t key[2]) const;
  // Raises or inserts; false when the table has no room for the key.
  bool put_locked(const uint64_t key[2], int64_t not_before, int64_t expires, size_t limit);
  void erase_locked(size_t index);
  void write_begin();
  void write_end();
  void changed();

  Header* h_;
  Slot* slots_;
  const uint64_t* live_;  // records stored, + 1 while the floor is raised
  const bool* loaded_;
  const uint64_t* version_;
  ngx_shmtx_t* mutex_;
};

}  // namespace realm_auth
