// Signature verification for the JWS algorithms of algorithm.h. ES* take the
// JOSE form (raw R||S, fixed width), not DER; DER input is refused.
#pragma once

#include <openssl/evp.h>

#include <memory>
#include <string_view>

#include "algorithm.h"

namespace realm_auth {

// True only if `signature` is a valid `alg` signature of `signing_input`
// under `key`. The caller has already checked that key and alg match.
bool verify_signature(Alg alg, EVP_PKEY* key, std::string_view signing_input,
                      std::string_view signature);

// verify_signature for one (key, alg), with the per-call setup done once.
// In OpenSSL 3 EVP_DigestVerifyInit looks the signature algorithm up in the
// provider every time (~20% of an RSA-2048 verify); here it runs once, in
// create(), on a template context that verify() only copies. Same answers as
// verify_signature for the same (alg, key, input, signature).
//
// verify() only reads the template, so one PreparedVerifier may be used from
// several threads at once (a Jwks is shared between threads). The template
// holds its own reference to the key.
class PreparedVerifier {
 public:
  // nullptr when there is nothing to prepare or preparing failed: EdDSA
  // (Ed25519 cannot stream, so it has no reusable context), a key that does
  // not fit `alg`, or an OpenSSL error. Callers then use verify_signature.
  static std::unique_ptr<const PreparedVerifier> create(Alg alg, EVP_PKEY* key);

  bool verify(std::string_view signing_input, std::string_view signature) const;

  Alg alg() const { return alg_; }

  PreparedVerifier(const PreparedVerifier&) = delete;
  PreparedVerifier& operator=(const PreparedVerifier&) = delete;

 private:
  // Own deleter rather than ossl::MdCtxPtr: ossl.h is internal to the core
  // library, and this header reaches the module and the sidecar via jwks.h.
  struct MdCtxFree {
    void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
  };

  PreparedVerifier(Alg alg, size_t ec_coord, EVP_MD_CTX* initialised)
      : alg_(alg), ec_coord_(ec_coord), template_(initialised) {}

  Alg alg_;
  size_t ec_coord_;  // ES*: bytes of R and of S; 0 otherwise
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> template_;
};

}  // namespace realm_auth
