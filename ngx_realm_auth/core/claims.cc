#include "claims.h"

namespace realm_auth {

namespace {

// NumericDate (RFC 7519 §2) may be an integer or a real; strings are not
// numbers. Compared as doubles: exact for every integer up to 2^53 seconds.
bool numeric_date(FlatJson::Value payload, const char* name, double& out) {
  FlatJson::Value v = payload.get(name);
  if (!v.is_number()) return false;
  out = v.number();
  return true;
}

bool audience_allowed(FlatJson::Value aud, const std::vector<std::string>& audiences) {
  auto configured = [&](std::string_view v) {
    for (const std::string& a : audiences) {
      if (v == a) return true;
    }
    return false;
  };
  if (aud.is_string()) return configured(aud.string());
  if (!aud.is_array()) return false;
  bool found = false;
  for (FlatJson::Value v = aud.first(); v.present(); v = v.next()) {
    if (!v.is_string()) return false;  // a malformed list is no list
    found = found || configured(v.string());
  }
  return found;
}

}  // namespace

Status check_claims(FlatJson::Value payload, const ClaimRules& rules, int64_t now) {
  const double t = static_cast<double>(now);
  const double leeway = static_cast<double>(rules.leeway_s);

  double exp;
  if (!numeric_date(payload, "exp", exp)) return Status::kExpMissing;
  if (!(t < exp + leeway)) return Status::kExpired;

  if (payload.get("nbf").present()) {
    double nbf;
    if (!numeric_date(payload, "nbf", nbf) || nbf - leeway > t) return Status::kNotYetValid;
  }
  // iat carries no rule of its own, but a non-numeric one is a broken token.
  if (payload.get("iat").present()) {
    double iat;
    if (!numeric_date(payload, "iat", iat)) return Status::kClaimInvalid;
  }

  FlatJson::Value sub = payload.get("sub");
  if (!sub.is_string() || sub.string().empty()) return Status::kSubMissing;

  if (!rules.audiences.empty() && !audience_allowed(payload.get("aud"), rules.audiences)) {
    return Status::kAudienceMismatch;
  }
  return Status::kOk;
}

}  // namespace realm_auth
