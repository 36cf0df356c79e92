#include "worker_token_cache.h"

#include <functional>

namespace realm_auth {

size_t WorkerTokenCache::index(const void* settings, std::string_view token) const {
  size_t h = std::hash<std::string_view>{}(token) ^ std::hash<const void*>{}(settings);
  return h % slots_.size();
}

std::shared_ptr<const Identity> WorkerTokenCache::find(const void* settings, std::string_view token,
                                                       time_t now) const {
  const Slot& s = slots_[index(settings, token)];
  if (s.settings != settings || s.valid_until <= now || s.token != token) return nullptr;
  return s.identity;
}

void WorkerTokenCache::store(const void* settings, std::string_view token,
                             std::shared_ptr<const Identity> identity, time_t valid_until) {
  Slot& s = slots_[index(settings, token)];
  s.settings = settings;
  s.token.assign(token);
  s.identity = std::move(identity);
  s.valid_until = valid_until;
}

}  // namespace realm_auth
