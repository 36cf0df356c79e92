// Compact JWS parsing and the JOSE header rules. No key material and no I/O:
// everything here can run before the issuer's keys are known.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "algorithm.h"
#include "flat_json.h"
#include "status.h"

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
};

// Parses `token` (which must outlive `out`, see signing_input) and applies
// the header rules, in this order: size, segment count (5 → kTokenIsJwe),
// base64url, header JSON, payload JSON, alg in `allowed`, no crit, typ,
// kid present and well-formed ([A-Za-z0-9._=+-]{1,128}, no ".."), and the
// payload's typ claim when present (must be "Bearer"). jku, jwk, x5u and
// x5c headers are ignored: keys only ever come from the issuer's JWKS.
Status parse_jwt(std::string_view token, const ParseLimits& limits, AlgSet allowed, Jwt& out);

}  // namespace realm_auth
