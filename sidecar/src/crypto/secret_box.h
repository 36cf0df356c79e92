// Client secrets at rest: AES-256-GCM (OpenSSL EVP) with a random 12-byte
// nonce per message. Sealed format, stored as bytea:
//
//   version (1 byte, 0x01) | nonce (12) | ciphertext (n) | tag (16)
//
// The version byte is authenticated too (it is the AAD together with the
// caller's context string, e.g. "demo/tenant-services"), so a ciphertext
// cannot be moved to another tenant's row or replayed under another format.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace realm_sidecar {

class SecretBox {
 public:
  static constexpr uint8_t kVersion = 1;
  static constexpr size_t kKeySize = 32;
  static constexpr size_t kNonceSize = 12;
  static constexpr size_t kTagSize = 16;

  // Key file: exactly 32 raw bytes, or their base64 (44 characters, trailing
  // newline allowed) as scripts/stack/common.sh generates. False with
  // `error` (never the key) otherwise.
  static bool load_key_file(const std::string& path, std::unique_ptr<SecretBox>& out,
                            std::string& error);
  // `key` must be kKeySize bytes.
  explicit SecretBox(const std::string& key);
  ~SecretBox();  // wipes the key
  SecretBox(const SecretBox&) = delete;
  SecretBox& operator=(const SecretBox&) = delete;

  // False only when OpenSSL fails (CSPRNG, cipher init).
  bool seal(const std::string& plaintext, const std::string& context, std::string& sealed) const;
  // False on wrong version, truncation, wrong key/context or tampering.
  bool open(const std::string& sealed, const std::string& context, std::string& plaintext) const;

 private:
  std::string key_;
};

}  // namespace realm_sidecar
