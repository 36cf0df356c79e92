// Compact JWS parsing and the JOSE header rules. No key material and no I/O:
// everything here can run before the issuer's keys are known.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "algorithm.h"
#include "flat_json.h"
#include "status.h"
#include "token_hash.h"

namespace realm_auth {

struct ParseLimits {
  size_t max_token_size = 8192;  // bytes of the compact token
  size_t max_depth = 8;          // JSON nesting of header and payload
};

struct Jwt {
  std::string_view signing_input;  // "header.payload", a view into the token
  std::string signature;           // decoded signature bytes
  FlatJson header;
  FlatJson payload;
  Alg alg = Alg::kRS256;
  std::string kid;
  // SHA-256 of signing_input when the caller already computed it (the
  // verified-token cache key does, token_hash.h); used only if the bytes it
  // was computed over equal signing_input, so a stale one is ignored.
  SigningInputDigest signing_input_sha256;
};

// What a token is for: the typ rules differ, and a token of one kind must
// never pass as the other (RFC 8725 §3.11 explicit typing).
enum class JwtUse : uint8_t {
  // Access tokens: header typ absent or JWT / at+jwt / Bearer; payload typ
  // claim, when present, "Bearer" or "DPoP" (Keycloak marks ID and refresh
  // tokens, and DPoP-bound access tokens "DPoP").
  kAccess,
  // OpenID Connect Back-Channel Logout 1.0 logout tokens: header typ
  // required, logout+jwt (or application/logout+jwt); payload typ claim,
  // when present, "Logout" (Keycloak's mark).
  kLogout,
};

// Parses `token` (which must outlive `out`, see signing_input) and applies
// the header rules, in this order: size, segment count (5 → kTokenIsJwe),
// base64url, header JSON, payload JSON, alg in `allowed`, no crit, typ,
// kid present and well-formed ([A-Za-z0-9._=+-]{1,128}, no ".."), and the
// payload's typ claim (see JwtUse). jku, jwk, x5u and x5c headers are
// ignored: keys only ever come from the issuer's JWKS.
Status parse_jwt(std::string_view token, const ParseLimits& limits, AlgSet allowed, Jwt& out,
                 JwtUse use = JwtUse::kAccess);

// The claims set of a token that passed parse_jwt before (the module's
// verified-token cache holds the token, not its claims): the payload
// segment decoded and parsed under the same JSON rules. kPayloadNotJson,
// kBadBase64, kTokenMalformed, kDuplicateKey or kJsonTooDeep otherwise.
Status parse_jwt_payload(std::string_view token, size_t max_depth, FlatJson& out);

}  // namespace realm_auth
