// JWK thumbprints (RFC 7638): SHA-256 over the key's required members in
// lexicographic order, no whitespace, base64url without padding. What a
// DPoP-bound token's cnf.jkt names (RFC 9449 §6.1).
#pragma once

#include <jansson.h>

#include <string>
#include <string_view>

namespace realm_auth {

// The base64url SHA-256 thumbprint of a public JWK object: RSA (e, kty, n),
// EC (crv, kty, x, y), OKP (crv, kty, x). False when kty is none of these
// or a required member is missing, not a string, or holds a byte that would
// need JSON escaping (no real key member does: they are base64url or curve
// names), so the canonical text is always the member text itself.
bool jwk_thumbprint(const json_t* jwk, std::string& out);

// base64url(SHA-256(data)): the thumbprint encoding, ath (RFC 9449 §4.2) and
// x5t#S256 (RFC 8705 §3.1) use it too.
std::string sha256_base64url(std::string_view data);

}  // namespace realm_auth
