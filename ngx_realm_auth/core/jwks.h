// JSON Web Key Sets: JWK → EVP_PKEY for RSA, EC (P-256/384/521) and Ed25519,
// and key selection by kid + use + alg compatibility. A parsed Jwks is
// immutable and shared as std::shared_ptr<const Jwks> between requests.
//
//   std::shared_ptr<const Jwks> keys;
//   if (Jwks::parse(body, keys) != Status::kOk) ...;
//   Status why;
//   const Jwk* k = keys->select(jwt.kid, jwt.alg, why);
#pragma once

#include <openssl/evp.h>

#include <array>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "algorithm.h"
#include "json.h"
#include "signature.h"
#include "status.h"

namespace realm_auth {

struct EvpPkeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, EvpPkeyDeleter>;

struct Jwk {
  std::string kid;
  std::string kty;  // "RSA", "EC", "OKP"
  std::string crv;  // "P-256", "P-384", "P-521", "Ed25519"; empty for RSA
  std::string alg;  // as published; may be empty
  std::string use;  // as published; may be empty
  EvpPkeyPtr key;
  // Indexed by Alg, filled by Jwks::parse for each algorithm select() may
  // pick this key for. Empty slot (EdDSA, preparation failed, or a Jwk from
  // parse_jwk alone): use verify_signature with `key`. Declared after `key`,
  // so destroyed before it; each verifier holds its own key reference anyway.
  std::array<std::unique_ptr<const PreparedVerifier>, static_cast<size_t>(Alg::kCount)> verifiers;

  // The prepared verifier for `alg`, or nullptr.
  const PreparedVerifier* verifier(Alg alg) const {
    return alg < Alg::kCount ? verifiers[static_cast<size_t>(alg)].get() : nullptr;
  }
};

class Jwks {
 public:
  // Parses a JWKS document ({"keys":[...]}). Keys that cannot verify
  // signatures (use "enc", e.g. Keycloak's RSA-OAEP key; unknown kty; bad or
  // weak parameters such as RSA below 2048 bits; private members present)
  // are skipped, not fatal. Each kept key gets its PreparedVerifiers (see
  // Jwk::verifiers), so the parsed set is never modified. kJwksMalformed when the document is not
  // an object with a "keys" array or holds no usable key.
  static Status parse(std::string_view json, std::shared_ptr<const Jwks>& out);

  // The key with this kid that may verify `alg`: use absent or "sig", alg
  // absent or equal, kty/crv matching the algorithm family (RS/PS → RSA,
  // ES256 → P-256, ES384 → P-384, ES512 → P-521, EdDSA → Ed25519).
  // nullptr with why = kKeyNotFound (no such kid) or kKeyMismatch.
  const Jwk* select(std::string_view kid, Alg alg, Status& why) const;

  // Whether any key, usable or not, carries this kid.
  bool has_kid(std::string_view kid) const;

  size_t size() const { return keys_.size(); }

 private:
  std::vector<Jwk> keys_;
};

// Parses one JWK object into `out` (helper for parse; exposed for tests).
Status parse_jwk(const json_t* jwk, Jwk& out);

// Whether `k` may verify `alg`: use absent or "sig", alg absent or equal,
// kty/crv of the algorithm's family (the rule select() applies; DPoP proof
// keys, dpop_proof.h, follow it too).
bool jwk_usable_for(const Jwk& k, Alg alg);

}  // namespace realm_auth
