#include "claims.h"

#include <cstring>

namespace realm_auth {

namespace {

// NumericDate (RFC 7519 §2) may be an integer or a real; strings are not
// numbers. Compared as doubles: exact for every integer up to 2^53 seconds.
bool numeric_date(const json_t* payload, const char* name, double& out) {
  const json_t* v = json_object_get(payload, name);
  if (!json_is_number(v)) return false;
  out = json_number_value(v);
  return true;
}

bool audience_allowed(const json_t* aud, const std::vector<std::string>& audiences) {
  auto configured = [&](const json_t* v) {
    for (const std::string& a : audiences) {
      if (json_string_length(v) == a.size() &&
          std::memcmp(json_string_value(v), a.data(), a.size()) == 0) {
        return true;
      }
    }
    return false;
  };
  if (json_is_string(aud)) return configured(aud);
  if (!json_is_array(aud)) return false;
  bool found = false;
  size_t i;
  const json_t* v;
  json_array_foreach(aud, i, v) {
    if (!json_is_string(v)) return false;  // a malformed list is no list
    found = found || configured(v);
  }
  return found;
}

}  // namespace

Status check_claims(const json_t* payload, const ClaimRules& rules, int64_t now) {
  const double t = static_cast<double>(now);
  const double leeway = static_cast<double>(rules.leeway_s);

  double exp;
  if (!numeric_date(payload, "exp", exp)) return Status::kExpMissing;
  if (!(t < exp + leeway)) return Status::kExpired;

  if (json_object_get(payload, "nbf") != nullptr) {
    double nbf;
    if (!numeric_date(payload, "nbf", nbf) || nbf - leeway > t) return Status::kNotYetValid;
  }
  // iat carries no rule of its own, but a non-numeric one is a broken token.
  if (json_object_get(payload, "iat") != nullptr) {
    double iat;
    if (!numeric_date(payload, "iat", iat)) return Status::kClaimInvalid;
  }

  std::string_view sub;
  if (!json_get_string(payload, "sub", sub) || sub.empty()) return Status::kSubMissing;

  if (!rules.audiences.empty() &&
      !audience_allowed(json_object_get(payload, "aud"), rules.audiences)) {
    return Status::kAudienceMismatch;
  }
  return Status::kOk;
}

}  // namespace realm_auth
