// The revocation feed: realm-sidecar appends every revocation record
// (revocation_record.h) to one Redis stream, `<prefix>revocations`
// (redis_keys.h), and each nginx instance reads it from its own cursor, so a
// record reaches the whole fleet in one poll interval. Each entry has one
// field, "r", holding the record sealed with the fleet key (redis_seal.h)
// for the stream's full key and expiring with the record: a forged entry is
// ignored, a replayed old one cannot outlive its record. Blocking: thread
// pool or a sidecar thread. Trust: docs/REDIS_TRUST.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "redis_client.h"
#include "revocation_record.h"

namespace realm_auth {

// Appends the sealed record (XADD). False (client.error() says why) when
// the record is invalid, there is no seal key or Redis did not take it.
bool publish_revocation(RedisClient& client, const RevocationRecord& r, std::string& entry_id);

struct RevocationPage {
  std::vector<RevocationRecord> records;  // authentic, readable, unexpired
  std::string last_id;                    // the last entry read; the next cursor
  size_t rejected = 0;                    // entries that failed the seal or did not decode
  size_t expired = 0;                     // authentic entries past their expiry
  bool end = false;                       // fewer than `count` entries: caught up
};

// The entries strictly after `after_id` ("0-0" = from the start), at most
// `count`. kFound or kAbsent (nothing new; last_id = after_id, end) with
// `out` filled; kRejected when the key holds something that is not a stream;
// kError when Redis did not answer (`why` says why).
RedisRead read_revocations(RedisClient& client, const std::string& after_id, size_t count,
                           RevocationPage& out, std::string& why);

// The id of the stream's newest entry ("0-0" when it has none). A reader
// whose cursor is beyond it knows the stream was rebuilt (Redis lost its
// data, or a failover to a replica that lagged) and rereads from "0-0".
RedisRead last_revocation_id(RedisClient& client, std::string& id, std::string& why);

// Drops the entries added before `before_ms` (XTRIM MINID): the sidecar
// calls it with now minus the longest lifetime it gives a record.
bool trim_revocations(RedisClient& client, int64_t before_ms);

// Stream ids "<ms>-<seq>" in order; false for anything else.
bool parse_stream_id(const std::string& id, uint64_t& ms, uint64_t& seq);
// a < b; an id that does not parse sorts first.
bool stream_id_less(const std::string& a, const std::string& b);

}  // namespace realm_auth
