// First tier of the verified-token cache, private to one worker: a
// direct-mapped table keyed by the token bytes themselves (compared in full,
// so a cheap non-cryptographic hash is enough to pick the slot). A hit costs
// no SHA-256, no lock and no copy of the identity; a miss falls through to
// the zone's cache, which all workers share.
#pragma once

#include <ctime>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "identity.h"
#include "revocation_table.h"

namespace realm_auth {

// Names one entry of the table as a find() saw it: a later store into that
// slot (another token) makes it stale.
struct TokenSlotRef {
  size_t index = 0;
  uint64_t generation = 0;  // 0: none
};

class WorkerTokenCache {
 public:
  explicit WorkerTokenCache(size_t slots) : slots_(slots) {}

  // `settings` identifies the location's verification settings (its
  // fingerprint object): an entry made under other settings never matches.
  // `keys`: the token's revocation table keys, kept with it so a hit does
  // no hashing (revocation_table.h); find() copies them out on a hit.
  std::shared_ptr<const Identity> find(const void* settings, std::string_view token, time_t now,
                                       RevocationKeys& keys, TokenSlotRef& ref) const;
  // Records in the entry `ref` names, if it still holds the same token,
  // that the revocation table at `checked` (RevocationKeys::checked) does
  // not revoke it.
  void note_not_revoked(const TokenSlotRef& ref, uint64_t checked);
  void store(const void* settings, std::string_view token, std::shared_ptr<const Identity> identity,
             time_t valid_until, const RevocationKeys& keys);

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
    uint64_t generation = 0;  // changes on every store
  };
  size_t index(const void* settings, std::string_view token) const;
  std::vector<Slot> slots_;
  uint64_t generations_ = 0;
};

}  // namespace realm_auth
