// Signature verification for the JWS algorithms of algorithm.h. ES* take the
// JOSE form (raw R||S, fixed width), not DER; DER input is refused.
#pragma once

#include <openssl/evp.h>

#include <memory>
#include <mutex>
#include <string_view>
#include <utility>
#include <vector>

#include "algorithm.h"
#include "rsa_pkcs1.h"
#include "token_hash.h"

namespace realm_auth {

// True only if `signature` is a valid `alg` signature of `signing_input`
// under `key`. The caller has already checked that key and alg match.
bool verify_signature(Alg alg, EVP_PKEY* key, std::string_view signing_input,
                      std::string_view signature);

// verify_signature for one (key, alg), with the per-call setup done once.
// In OpenSSL 3 EVP_DigestVerifyInit looks the signature algorithm up in the
// provider every time (~20% of an RSA-2048 verify); here it runs once, in
// create(), on a template EVP_PKEY_CTX. verify() hashes the input with a
// pre-fetched digest and checks the signature with a copy of the template,
// kept for reuse: no lookup and no allocation per call in the steady state.
// RS256/384/512 skip the template: rsa_pkcs1.h checks them with the key's
// Montgomery context, built here too.
// Same answers as verify_signature for the same (alg, key, input, signature).
//
// One PreparedVerifier may be used from several threads at once (a Jwks is
// shared between threads): each call takes a context of its own. The idle
// contexts are guarded by a mutex that verify() only ever try-locks, so it
// never waits (on a miss it copies the template instead).
class PreparedVerifier {
 public:
  // nullptr when there is nothing to prepare or preparing failed: EdDSA
  // (Ed25519 signs the message, not a digest), a key that does not fit
  // `alg`, or an OpenSSL error. Callers then use verify_signature.
  static std::unique_ptr<const PreparedVerifier> create(Alg alg, EVP_PKEY* key);

  // `known`: the SHA-256 of signing_input if the caller has it; used in
  // place of hashing again when this alg signs a SHA-256 digest and it
  // covers exactly signing_input (SigningInputDigest::is_of).
  bool verify(std::string_view signing_input, std::string_view signature,
              const SigningInputDigest* known = nullptr) const;

  Alg alg() const { return alg_; }

  PreparedVerifier(const PreparedVerifier&) = delete;
  PreparedVerifier& operator=(const PreparedVerifier&) = delete;

 private:
  // Own deleter rather than ossl::PkeyCtxPtr: ossl.h is internal to the core
  // library, and this header reaches the module and the sidecar via jwks.h.
  struct PkeyCtxFree {
    void operator()(EVP_PKEY_CTX* ctx) const { EVP_PKEY_CTX_free(ctx); }
  };
  using CtxPtr = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>;

  PreparedVerifier(Alg alg, const EVP_MD* md, size_t ec_coord, size_t rsa_len,
                   EVP_PKEY_CTX* initialised, std::unique_ptr<const RsaPkcs1Verifier> rsa_pkcs1)
      : alg_(alg),
        md_(md),
        ec_coord_(ec_coord),
        rsa_len_(rsa_len),
        template_(initialised),
        rsa_pkcs1_(std::move(rsa_pkcs1)) {}

  CtxPtr take() const;
  void give_back(CtxPtr ctx) const;

  Alg alg_;
  const EVP_MD* md_;  // the JWS hash (fetched once, process-wide)
  size_t ec_coord_;   // ES*: bytes of R and of S; 0 otherwise
  size_t rsa_len_;    // RS*/PS*: bytes of a signature (the modulus); 0 otherwise
  CtxPtr template_;   // verify-initialised, hash and padding set
  // RS*: the check without OpenSSL's provider layer (rsa_pkcs1.h); null
  // for other algorithms, which take template_.
  std::unique_ptr<const RsaPkcs1Verifier> rsa_pkcs1_;

  static constexpr size_t kMaxIdle = 4;  // a worker needs one; the sidecar a few
  mutable std::mutex idle_mutex_;
  mutable std::vector<CtxPtr> idle_;  // ready for reuse
};

}  // namespace realm_auth
