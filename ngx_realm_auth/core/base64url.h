// Strict base64url (RFC 4648 §5) as JWS compact serialization uses it:
// no padding, no whitespace, no '+' or '/', and the unused low bits of the
// last character must be zero, so every byte string has exactly one encoding.
#pragma once

#include <string>
#include <string_view>

namespace realm_auth {

// Decodes `in` into `out`. Returns false (out unspecified) on any deviation.
bool base64url_decode(std::string_view in, std::string& out);

std::string base64url_encode(std::string_view in);

}  // namespace realm_auth
