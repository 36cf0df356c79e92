// RS256, RS384 and RS512 signatures (RSASSA-PKCS1-v1_5, RFC 8017 §8.2.2)
// checked the way the RFC recommends: the signature's number raised to the
// public exponent, then compared byte for byte with the one encoding a
// valid signature of this digest can have (encode and compare; nothing of
// the decrypted block is parsed). The arithmetic is OpenSSL's Montgomery
// exponentiation with the key's Montgomery context built once.
//
// Why not EVP_PKEY_verify: for a public-key operation OpenSSL 3 goes
// through its provider layer, allocates and frees a BN_CTX, takes a lock
// for the Montgomery context and builds the expected block each time. On
// the module's never-seen-token path that cost ~1.5k cycles with warm
// caches and ~5k when the request's other work has evicted them (bench/
// profiles). The answers are the same: signature_test.cc checks both
// against each other on valid, tampered, out-of-range and foreign-hash
// signatures.
#pragma once

#include <openssl/evp.h>

#include <cstddef>
#include <memory>
#include <string_view>

#include "algorithm.h"

namespace realm_auth {

class RsaPkcs1Verifier {
 public:
  // nullptr unless `key` is an RSA key and `alg` one of RS256, RS384 and
  // RS512 (the caller then keeps OpenSSL's path).
  static std::unique_ptr<const RsaPkcs1Verifier> create(Alg alg, EVP_PKEY* key);

  // `digest`: the alg's hash of the signing input (32, 48 or 64 bytes).
  // True only for a signature of exactly the modulus length whose number
  // is below the modulus and whose public operation gives the block
  // 00 01 FF..FF 00 DigestInfo(digest).
  bool verify(const unsigned char* digest, size_t digest_len, std::string_view signature) const;

  ~RsaPkcs1Verifier();
  RsaPkcs1Verifier(const RsaPkcs1Verifier&) = delete;
  RsaPkcs1Verifier& operator=(const RsaPkcs1Verifier&) = delete;

 private:
  struct Key;  // n, e and the Montgomery context (rsa_pkcs1.cc)
  explicit RsaPkcs1Verifier(std::unique_ptr<Key> key);
  std::unique_ptr<Key> key_;
};

}  // namespace realm_auth
