#include "sender_binding.h"

#include "base64url.h"

namespace realm_auth {

namespace {

// A SHA-256 thumbprint: 43 base64url characters that decode to 32 bytes.
bool read_thumbprint(FlatJson::Value v, std::string& out) {
  if (!v.present()) return true;
  std::string raw;
  if (!v.is_string() || !base64url_decode(v.string(), raw) || raw.size() != 32) return false;
  out.assign(v.string());
  return true;
}

}  // namespace

Status read_confirmation(FlatJson::Value payload, Confirmation& out) {
  FlatJson::Value cnf = payload.get("cnf");
  if (!cnf.present()) return Status::kOk;
  if (!cnf.is_object()) return Status::kClaimInvalid;
  if (!read_thumbprint(cnf.get("jkt"), out.jkt) ||
      !read_thumbprint(cnf.get("x5t#S256"), out.x5t_s256)) {
    return Status::kClaimInvalid;
  }
  return Status::kOk;
}

Status check_sender_binding(const Confirmation& cnf, const Presentation& p, bool dpop_required) {
  if (p.scheme == TokenScheme::kBearer) {
    // RFC 9449 §7.2: a DPoP-bound token is no bearer token; without the
    // proof anyone holding a copy could use it.
    if (!cnf.jkt.empty()) return Status::kDpopBoundAsBearer;
    if (dpop_required) return Status::kDpopRequired;
  } else if (cnf.jkt.empty() || p.proof_jkt != cnf.jkt) {
    return Status::kDpopBindingMismatch;
  }
  if (!cnf.x5t_s256.empty() && p.client_cert_x5t != cnf.x5t_s256) {
    return Status::kCertBindingMismatch;
  }
  return Status::kOk;
}

}  // namespace realm_auth
