// First tier of the verified-token cache, private to one worker: a
// direct-mapped table keyed by the token bytes themselves (compared in full,
// so a cheap non-cryptographic hash is enough to pick the slot). A hit costs
// no SHA-256, no lock and no copy of the identity, and, through the entry's
// key check memo, no lookup of its issuer while that issuer's keys stay the
// same; a miss falls through to the zone's cache, which all workers share.
//
// Admission to the zone: a token this worker verified enters the zone only
// once it proves reused, i.e. on its first hit here (the request that hits
// shares it), or when this worker verifies it a second time (its entry
// here was overwritten; seen_before). A token sent once never costs a
// zone insert, an eviction or a deeper tree for every other lookup. Every
// check (keys still published, tenant state, revocation) runs on a hit
// from either tier, so where an entry lives changes only how often a
// token is verified, never whether a request is accepted.
#pragma once

#include <ctime>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "identity.h"
#include "key_check_memo.h"
#include "revocation_table.h"
#include "token_hash.h"

namespace realm_auth {

// Names one entry of the table as a find() saw it: a later store into that
// slot (another token) makes it stale.
struct TokenSlotRef {
  size_t index = 0;
  uint64_t generation = 0;  // 0: none
  bool shared = true;       // the entry is in the zone too (or there is none)
};

class WorkerTokenCache {
 public:
  explicit WorkerTokenCache(size_t slots) : slots_(slots), seen_(kSeenPerSlot * slots) {}

  // `settings` identifies the location's verification settings (its
  // fingerprint object): an entry made under other settings never matches.
  // `keys`: the token's revocation table keys, kept with it so a hit does
  // no hashing (revocation_table.h); find() copies them out on a hit, and
  // the entry's key check memo (key_check_memo.h) with them.
  std::shared_ptr<const Identity> find(const void* settings, std::string_view token, time_t now,
                                       RevocationKeys& keys, KeyCheckMemo& memo,
                                       TokenSlotRef& ref) const;
  // Records in the entry `ref` names, if it still holds the same token,
  // that the revocation table at `checked` (RevocationKeys::checked) does
  // not revoke it.
  void note_not_revoked(const TokenSlotRef& ref, uint64_t checked);
  // Records in the entry `ref` names, if it still holds the same token,
  // what the latest key check found.
  void note_key_check(const TokenSlotRef& ref, const KeyCheckMemo& memo);
  // `shared`: the token is in the zone too (it came from there, or was
  // just stored there). Returns the entry it now holds.
  TokenSlotRef store(const void* settings, std::string_view token,
                     std::shared_ptr<const Identity> identity, time_t valid_until,
                     const RevocationKeys& keys, bool shared);
  // Records that the entry `ref` names, if it still holds the same token,
  // is now in the zone too.
  void note_shared(const TokenSlotRef& ref);
  // Whether this worker verified the token of cache key `key` before (and
  // remembers it now): a verified token enters the zone only then, or on
  // its first hit. A table of 8-byte tags, two places per token: a tag
  // overwritten or shared by two tokens only moves the moment a token
  // enters the zone (a cache), never an answer. It is 64 tags per slot
  // (2 MiB per worker with 4,096 slots) because a reused token must still
  // be recognised when many others were verified in between: with 4 per
  // slot, 10,000 tokens in rotation left 4 in 10 of them outside the zone
  // after five rounds (bench/parts/30-tenants.sh), each verified again on
  // every request; with 64, a token survives 10,000 others with p = 0.96.
  bool seen_before(const TokenHash& key);
  static constexpr size_t kSeenPerSlot = 64;

  // Drops every entry of `issuer` (its tenant's incarnation ended). Walks
  // the whole table: rare, and bounded by its fixed size.
  void forget_issuer(const std::string& issuer);

 private:
  struct Slot {
    const void* settings = nullptr;
    std::string token;
    std::shared_ptr<const Identity> identity;
    time_t valid_until = 0;
    RevocationKeys keys;
    KeyCheckMemo key_check;
    uint64_t generation = 0;  // changes on every store
    bool shared = false;      // in the zone too
  };
  size_t index(const void* settings, std::string_view token) const;
  std::vector<Slot> slots_;
  std::vector<uint64_t> seen_;  // seen_before's tags (0: empty)
  uint64_t seen_writes_ = 0;    // which of a token's two places seen_before writes
  uint64_t generations_ = 0;
};

}  // namespace realm_auth
