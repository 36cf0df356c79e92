// Signature verification for the JWS algorithms of algorithm.h. ES* take the
// JOSE form (raw R||S, fixed width), not DER; DER input is refused.
#pragma once

#include <openssl/evp.h>

#include <string_view>

#include "algorithm.h"

namespace realm_auth {

// True only if `signature` is a valid `alg` signature of `signing_input`
// under `key`. The caller has already checked that key and alg match.
bool verify_signature(Alg alg, EVP_PKEY* key, std::string_view signing_input,
                      std::string_view signature);

}  // namespace realm_auth
