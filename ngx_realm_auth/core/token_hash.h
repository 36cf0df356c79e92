// SHA-256 keys for the verified-token cache.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace realm_auth {

using TokenHash = std::array<uint8_t, 32>;

// The SHA-256 of a token's signing input ("header.payload", everything
// before its last '.'). A new token needs it twice: for its cache key and
// for an RS256, PS256 or ES256 check, which signs exactly that digest; it
// is computed once (token_cache_key) and handed to the verifier (jwt.h).
// It keeps a copy of the bytes it was computed over, and a user takes it
// only for bytes equal to those: a digest of other bytes, or of the same
// buffer before it changed, is never used (the check hashes again). The
// copy and the comparison cost far less than hashing ~1 KB again.
struct SigningInputDigest {
  std::string covers;  // empty: none
  TokenHash sha256{};

  bool is_of(std::string_view signing_input) const {
    return !covers.empty() && std::string_view(covers) == signing_input;
  }
};

// A location's verification settings (VerifierConfig::fingerprint), hashed
// once when the configuration is read: every cache key starts with these
// 32 bytes instead of the ~200-byte text. Empty only when OpenSSL cannot
// hash (out of memory): the configuration then fails.
struct CacheKeySettings {
  TokenHash sha256{};
};
std::optional<CacheKeySettings> cache_key_settings(std::string_view config_fingerprint);

// SHA-256 over the settings' SHA-256, a 2 byte, the SHA-256 of the token's
// signing input, then the rest of the token (its last '.' and signature):
// a cache entry made in one location can only be found by a location with
// the same settings, and two tokens share a key only if SHA-256 collides.
// (The 2 byte keeps these keys apart from the earlier formats: 1 hashed
// the fingerprint text, 0 the whole token.) `digest`, when given, receives
// the signing input's SHA-256.
TokenHash token_cache_key(const CacheKeySettings& settings, std::string_view token,
                          SigningInputDigest* digest = nullptr);

}  // namespace realm_auth
