// SHA-256 keys for the verified-token cache.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace realm_auth {

using TokenHash = std::array<uint8_t, 32>;

// SHA-256 over fingerprint, a 0 byte, then the token: a cache entry made in
// one location can only be found by a location with the same settings.
TokenHash token_cache_key(std::string_view config_fingerprint, std::string_view token);

}  // namespace realm_auth
