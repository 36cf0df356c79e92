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
// Logout tokens must say what they are (Back-Channel Logout 1.0 §2.4):
// "logout+jwt", or its full media type (RFC 7515 §4.1.9 lets the
// "application/" prefix be omitted).
bool header_typ_allowed(std::string_view typ, JwtUse use) {
  if (use == JwtUse::kLogout) {
    return iequals(typ, "logout+jwt") || iequals(typ, "application/logout+jwt");
  }
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

Status check_header(FlatJson::Value header, AlgSet allowed, JwtUse use, Jwt& out) {
  FlatJson::Value alg = header.get("alg");
  if (!alg.is_string() || !alg_from_name(alg.string(), out.alg) ||
      (allowed & alg_bit(out.alg)) == 0) {
    return Status::kAlgNotAllowed;
  }
  // We understand no extension, so any crit (even an empty list) means the
  // issuer expects processing we would silently skip (RFC 7515 §4.1.11).
  if (header.get("crit").present()) return Status::kCritUnsupported;

  FlatJson::Value typ = header.get("typ");
  // Optional for access tokens, required for logout tokens: an access or
  // ID token (typ JWT) signed by the same realm is never a logout token.
  if ((typ.present() || use == JwtUse::kLogout) &&
      !(typ.is_string() && header_typ_allowed(typ.string(), use))) {
    return Status::kTypNotAllowed;
  }

  FlatJson::Value kid = header.get("kid");
  if (!kid.is_string() || !kid_well_formed(kid.string())) return Status::kKidInvalid;
  out.kid.assign(kid.string());
  return Status::kOk;
}

// Keycloak marks its tokens with a "typ" claim: "Bearer" for access tokens
// ("DPoP" for DPoP-bound ones),
// "ID" for ID tokens, "Refresh" for refresh tokens, "Logout" for logout
// tokens. Only access tokens may authorize requests, only logout tokens
// may end sessions.
Status check_payload_typ(FlatJson::Value payload, JwtUse use) {
  FlatJson::Value typ = payload.get("typ");
  if (!typ.present()) return Status::kOk;
  if (!typ.is_string()) return Status::kTypNotAllowed;
  if (use == JwtUse::kLogout) {
    return iequals(typ.string(), "Logout") ? Status::kOk : Status::kTypNotAllowed;
  }
  // Keycloak marks DPoP-bound access tokens "DPoP" (their binding, cnf.jkt,
  // is checked by sender_binding.h, not by this mark).
  return iequals(typ.string(), "Bearer") || iequals(typ.string(), "DPoP") ? Status::kOk
                                                                          : Status::kTypNotAllowed;
}

}  // namespace

Status parse_jwt(std::string_view token, const ParseLimits& limits, AlgSet allowed, Jwt& out,
                 JwtUse use) {
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

  Status s = out.header.parse_in_place(header_json, limits.max_depth, Status::kHeaderNotJson);
  if (s != Status::kOk) return s;
  s = out.payload.parse_in_place(payload_json, limits.max_depth, Status::kPayloadNotJson);
  if (s != Status::kOk) return s;

  s = check_header(out.header.root(), allowed, use, out);
  if (s != Status::kOk) return s;
  s = check_payload_typ(out.payload.root(), use);
  if (s != Status::kOk) return s;

  out.signing_input = token.substr(0, dot2);
  return Status::kOk;
}

Status parse_jwt_payload(std::string_view token, size_t max_depth, FlatJson& out) {
  size_t dot1 = token.find('.');
  size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || dot2 == dot1 + 1) return Status::kTokenMalformed;
  std::string payload_json;
  if (!base64url_decode(token.substr(dot1 + 1, dot2 - dot1 - 1), payload_json)) {
    return Status::kBadBase64;
  }
  return out.parse_in_place(payload_json, max_depth, Status::kPayloadNotJson);
}

}  // namespace realm_auth
