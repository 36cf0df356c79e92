#include "jwt.h"

#include <strings.h>

#include <cstring>

#include "base64url.h"

namespace realm_auth {

namespace {

bool iequals(std::string_view a, const char* b) {
  return a.size() == std::strlen(b) && strncasecmp(a.data(), b, a.size()) == 0;
}

// RFC 7519 §5.1 / RFC 9068: access tokens say "JWT" or "at+jwt"; Keycloak
// puts "JWT" in the header. Compared case-insensitively as media types are.
bool header_typ_allowed(std::string_view typ) {
  return iequals(typ, "JWT") || iequals(typ, "at+jwt") || iequals(typ, "Bearer");
}

// kid ends up in logs and cache keys: a short, boring alphabet only.
bool kid_well_formed(std::string_view kid) {
  if (kid.empty() || kid.size() > 128) return false;
  if (kid.find("..") != std::string_view::npos) return false;
  for (char c : kid) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '=' || c == '+' || c == '-';
    if (!ok) return false;
  }
  return true;
}

Status check_header(const json_t* header, AlgSet allowed, Jwt& out) {
  std::string_view alg;
  if (!json_get_string(header, "alg", alg) || !alg_from_name(alg, out.alg) ||
      (allowed & alg_bit(out.alg)) == 0) {
    return Status::kAlgNotAllowed;
  }
  // We understand no extension, so any crit (even an empty list) means the
  // issuer expects processing we would silently skip (RFC 7515 §4.1.11).
  if (json_object_get(header, "crit") != nullptr) return Status::kCritUnsupported;

  if (const json_t* typ = json_object_get(header, "typ")) {
    if (!json_is_string(typ) ||
        !header_typ_allowed({json_string_value(typ), json_string_length(typ)})) {
      return Status::kTypNotAllowed;
    }
  }

  std::string_view kid;
  if (!json_get_string(header, "kid", kid) || !kid_well_formed(kid)) return Status::kKidInvalid;
  out.kid.assign(kid.data(), kid.size());
  return Status::kOk;
}

// Keycloak marks its tokens with a "typ" claim: "Bearer" for access tokens,
// "ID" for ID tokens, "Refresh" for refresh tokens. Only access tokens may
// authorize requests.
Status check_payload_typ(const json_t* payload) {
  const json_t* typ = json_object_get(payload, "typ");
  if (typ == nullptr) return Status::kOk;
  if (!json_is_string(typ) ||
      !iequals({json_string_value(typ), json_string_length(typ)}, "Bearer")) {
    return Status::kTypNotAllowed;
  }
  return Status::kOk;
}

}  // namespace

Status parse_jwt(std::string_view token, const ParseLimits& limits, AlgSet allowed, Jwt& out) {
  if (token.size() > limits.max_token_size) return Status::kTokenTooLarge;

  size_t dot1 = token.find('.');
  size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos) return Status::kTokenMalformed;
  size_t extra = token.find('.', dot2 + 1);
  if (extra != std::string_view::npos) {
    // JWE compact serialization has exactly five segments (four dots).
    size_t dots = 3;
    for (size_t i = extra + 1; i < token.size(); ++i) dots += token[i] == '.';
    return dots == 4 ? Status::kTokenIsJwe : Status::kTokenMalformed;
  }
  std::string_view header_b64 = token.substr(0, dot1);
  std::string_view payload_b64 = token.substr(dot1 + 1, dot2 - dot1 - 1);
  std::string_view signature_b64 = token.substr(dot2 + 1);
  if (header_b64.empty() || payload_b64.empty() || signature_b64.empty()) {
    return Status::kTokenMalformed;
  }

  std::string header_json;
  std::string payload_json;
  if (!base64url_decode(header_b64, header_json) || !base64url_decode(payload_b64, payload_json) ||
      !base64url_decode(signature_b64, out.signature)) {
    return Status::kBadBase64;
  }

  Status s = parse_json_object(header_json, limits.max_depth, Status::kHeaderNotJson, out.header);
  if (s != Status::kOk) return s;
  s = parse_json_object(payload_json, limits.max_depth, Status::kPayloadNotJson, out.payload);
  if (s != Status::kOk) return s;

  s = check_header(out.header.get(), allowed, out);
  if (s != Status::kOk) return s;
  s = check_payload_typ(out.payload.get());
  if (s != Status::kOk) return s;

  out.signing_input = token.substr(0, dot2);
  return Status::kOk;
}

}  // namespace realm_auth
