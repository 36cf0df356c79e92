// The DPoP replay cache (RFC 9449 §11.1): the jti of every accepted proof,
// shared by the workers of one nginx in a shared memory zone of its own
// (auth_realm_dpop_replay_cache). Fixed size, chosen at configuration:
// nothing a client sends makes it grow. An entry lives until its proof's
// iat leaves the window (after which the proof is refused as stale
// anyway), and its slot is then free for reuse. When every slot a jti may
// take holds a live entry the proof is refused (kDpopReplayFull), never
// accepted unrecorded: a replay cache that forgets is no replay cache.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "ngx.h"
#include "status.h"

namespace realm_auth {

class DpopReplayCache {
 public:
  // Bytes of zone an entry needs (the zone also holds the slab's own pages).
  static constexpr size_t kBytesPerEntry = 24;
  // A jti may sit in this many consecutive slots from its hash's.
  static constexpr size_t kProbe = 16;

  // The shm zone init callback: allocates `entries` slots (ctx of the zone
  // holds the count) or takes over the table of the previous cycle.
  static ngx_int_t init_zone(ngx_shm_zone_t* zone, void* old_data);
  // Zone bytes for `entries` slots, with the slab allocator's overhead.
  static size_t zone_size(size_t entries);

  // Records (jkt, jti), valid until `expires` (seconds): kOk the first time,
  // kDpopReplayed while a live entry holds it, kDpopReplayFull without room.
  static Status remember(ngx_shm_zone_t* zone, std::string_view jkt, std::string_view jti,
                         int64_t expires, int64_t now);

  // The key of (jkt, jti): SHA-256 over both (the Redis key uses it too).
  using Key = std::array<uint8_t, 32>;
  static Key key_of(std::string_view jkt, std::string_view jti);
};

}  // namespace realm_auth
