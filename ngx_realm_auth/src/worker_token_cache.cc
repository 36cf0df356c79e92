#include "worker_token_cache.h"

#include <cstring>
#include <functional>

namespace realm_auth {

size_t WorkerTokenCache::index(const void* settings, std::string_view token) const {
  // The slot only has to spread tokens out (find() compares them in full),
  // and a token's last bytes are its signature: hashing those is as good as
  // hashing all ~1 KB, and a third of a cache hit's cost cheaper.
  constexpr size_t kTail = 48;
  std::string_view tail = token.size() > kTail ? token.substr(token.size() - kTail) : token;
  size_t h = std::hash<std::string_view>{}(tail) ^ std::hash<const void*>{}(settings);
  return h % slots_.size();
}

std::shared_ptr<const Identity> WorkerTokenCache::find(const void* settings, std::string_view token,
                                                       time_t now, RevocationKeys& keys,
                                                       KeyCheckMemo& memo,
                                                       TokenSlotRef& ref) const {
  size_t i = index(settings, token);
  const Slot& s = slots_[i];
  if (s.settings != settings || s.valid_until <= now || s.token != token) return nullptr;
  keys = s.keys;
  memo = s.key_check;
  ref = {i, s.generation, s.shared};
  return s.identity;
}

void WorkerTokenCache::note_not_revoked(const TokenSlotRef& ref, uint64_t checked) {
  if (ref.generation == 0 || ref.index >= slots_.size()) return;
  Slot& s = slots_[ref.index];
  if (s.generation == ref.generation) s.keys.checked = checked;
}

void WorkerTokenCache::note_key_check(const TokenSlotRef& ref, const KeyCheckMemo& memo) {
  if (ref.generation == 0 || ref.index >= slots_.size()) return;
  Slot& s = slots_[ref.index];
  if (s.generation == ref.generation) s.key_check = memo;
}

TokenSlotRef WorkerTokenCache::store(const void* settings, std::string_view token,
                                     std::shared_ptr<const Identity> identity, time_t valid_until,
                                     const RevocationKeys& keys, bool shared) {
  size_t i = index(settings, token);
  Slot& s = slots_[i];
  s.settings = settings;
  s.token.assign(token);
  s.identity = std::move(identity);
  s.valid_until = valid_until;
  s.keys = keys;
  s.key_check = KeyCheckMemo{};
  s.generation = ++generations_;
  s.shared = shared;
  return {i, s.generation, shared};
}

void WorkerTokenCache::note_shared(const TokenSlotRef& ref) {
  if (ref.generation == 0 || ref.index >= slots_.size()) return;
  Slot& s = slots_[ref.index];
  if (s.generation == ref.generation) s.shared = true;
}

bool WorkerTokenCache::seen_before(const TokenHash& key) {
  // The key is a SHA-256: any 8 bytes of it spread evenly. Bytes 0-7 and
  // 16-23 pick two places, bytes 8-15 are the tag (never 0, the empty
  // mark). Two places, and the one written alternating: with one, two
  // tokens sharing it and seen in turn overwrote each other's tag for
  // ever, and both stayed out of the zone, verified on every request (about
  // 300 of 10,000 rotating tokens, bench/parts/30-tenants.sh).
  uint64_t first = 0, second = 0, tag = 0;
  std::memcpy(&first, key.data(), sizeof first);
  std::memcpy(&second, key.data() + 16, sizeof second);
  std::memcpy(&tag, key.data() + 8, sizeof tag);
  tag |= 1;
  uint64_t& a = seen_[first % seen_.size()];
  uint64_t& b = seen_[second % seen_.size()];
  if (a == tag || b == tag) return true;
  (seen_writes_++ & 1 ? b : a) = tag;
  return false;
}

void WorkerTokenCache::forget_issuer(const std::string& issuer) {
  for (Slot& s : slots_) {
    if (s.identity && s.identity->issuer == issuer) s = Slot{};
  }
}

}  // namespace realm_auth
