// The authenticator on every value realm-auth trusts from Redis (JWKS
// documents, tenant records): Redis is shared infrastructure, and whoever
// can write it must not be able to plant a signing key or a tenant state.
//
//   ra1.<kid>.<issued_ms>.<expires_ms>.<mac>.<payload>
//
// mac = hex HMAC-SHA-256(fleet key, "ra1\n" <len(key)> "\n" <key> "\n" <kid>
// "\n" <issued_ms> "\n" <expires_ms> "\n" <payload>), over the full Redis key
// (prefix included) so a value cannot be moved to another key; kid = first 8
// hex digits of SHA-256(fleet key), which picks the key during a rotation;
// times are milliseconds since the Unix epoch, expires_ms 0 = never. A
// sealed value past its expiry is refused: a replayed old JWKS document
// cannot outlive its TTL. See docs/REDIS_TRUST.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace realm_auth {

struct SealKey {
  std::string id;      // 8 hex digits, derived from the secret
  std::string secret;  // at least kMinSealSecret bytes
};
// The first key seals; every key is accepted when opening (rotation: add
// the new key second everywhere, then make it first, then drop the old one).
using SealKeys = std::vector<SealKey>;

constexpr size_t kMinSealSecret = 32;
// Bytes a seal adds to its payload, at most (for read size caps).
constexpr size_t kSealOverhead = 128;

// Reads a small secret file (a password, a key): its content without
// trailing white space, at most 4 KiB, not empty. The error names the path,
// never the content.
bool read_secret_file(const std::string& path, std::string& out, std::string& error);

// Reads a key file (read_secret_file), at least
// kMinSealSecret bytes. The error never contains the secret.
bool load_seal_key(const std::string& path, SealKey& out, std::string& error);
// A key from its secret bytes (tests, tools).
SealKey make_seal_key(std::string secret);

// The sealed form of `payload` for the full Redis key `key`. Empty only when
// there is no key or OpenSSL fails.
std::string seal_value(const SealKeys& keys, const std::string& key, const std::string& payload,
                       int64_t issued_ms, int64_t expires_ms);

struct OpenedValue {
  std::string payload;
  int64_t issued_ms = 0;
  int64_t expires_ms = 0;
};

// Checks a stored value against `keys` for `key` at `now_ms`. False with a
// short reason ("not sealed", "unknown key id", "bad authenticator",
// "expired") that may be logged: it never quotes the value.
bool open_value(const SealKeys& keys, const std::string& key, const std::string& stored,
                int64_t now_ms, OpenedValue& out, std::string& why);

// Wall-clock milliseconds since the Unix epoch.
int64_t unix_ms();

}  // namespace realm_auth
