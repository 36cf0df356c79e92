// Helpers shared by the core tests: key generation, JWK export, signing and
// token assembly with OpenSSL, independent of the code under test (except
// base64url_encode, which has its own vectors in base64url_test).
#pragma once

#include <string>
#include <string_view>

#include "algorithm.h"
#include "jwks.h"

namespace realm_auth::test {

// A fresh key for `alg`: RSA-2048 for RS/PS, the matching curve for ES,
// Ed25519 for EdDSA.
EvpPkeyPtr generate_key(Alg alg);

// RSA keys are slow to generate: one per process, shared.
EVP_PKEY* shared_rsa_key();

// The public JWK of `key` as JSON text, with kid, and alg/use when non-empty.
std::string public_jwk(EVP_PKEY* key, const std::string& kid, const std::string& alg = "",
                       const std::string& use = "sig");

// JOSE signature (raw R||S for ECDSA) of `input`.
std::string sign(Alg alg, EVP_PKEY* key, std::string_view input);

std::string b64(std::string_view bytes);

// base64url(header) "." base64url(payload) "." base64url(sign(...)).
std::string make_token(Alg alg, EVP_PKEY* key, std::string_view header_json,
                       std::string_view payload_json);

// `token` with a different signature of the same length (one character in
// the middle of the signature segment changed).
std::string tamper_signature(const std::string& token);

// `token` with its payload segment replaced, header and signature kept.
std::string replace_payload(const std::string& token, std::string_view payload_json);

// Parses `jwk_json` as one JWK and returns its key (nullptr on failure).
EvpPkeyPtr key_from_jwk(const std::string& jwk_json);

}  // namespace realm_auth::test
