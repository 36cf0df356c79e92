#include "dpop_proof.h"

#include <strings.h>

#include <cmath>
#include <cstring>

#include "base64url.h"
#include "dpop_htu.h"
#include "json.h"
#include "jwk_thumbprint.h"
#include "jwks.h"
#include "signature.h"

namespace realm_auth {

namespace {

// A proof's header holds one object (jwk); its payload is flat. Room for
// extension members, no more.
constexpr size_t kMaxDpopDepth = 4;

bool iequals(std::string_view a, const char* b) {
  return a.size() == std::strlen(b) && strncasecmp(a.data(), b, a.size()) == 0;
}

Status check_header(const json_t* header, AlgSet allowed, Alg& alg, EvpPkeyPtr& key,
                    std::string& jkt) {
  std::string_view text;
  // RFC 9449 §4.2: typ "dpop+jwt" (a media type: case-insensitive), so an
  // access or ID token signed by the client can never pass as a proof.
  if (!json_get_string(header, "typ", text) || !iequals(text, "dpop+jwt")) {
    return Status::kDpopProofInvalid;
  }
  if (!json_get_string(header, "alg", text) || !alg_from_name(text, alg) ||
      (allowed & alg_bit(alg)) == 0) {
    return Status::kDpopProofInvalid;
  }
  if (json_object_get(header, "crit") != nullptr) return Status::kDpopProofInvalid;
  const json_t* jwk_json = json_object_get(header, "jwk");
  Jwk jwk;
  // parse_jwk refuses private members, weak RSA, off-curve EC points.
  if (parse_jwk(jwk_json, jwk) != Status::kOk || !jwk_usable_for(jwk, alg) ||
      !jwk_thumbprint(jwk_json, jkt)) {
    return Status::kDpopProofInvalid;
  }
  key = std::move(jwk.key);
  return Status::kOk;
}

bool integer_claim(const json_t* payload, const char* name, int64_t& out) {
  const json_t* v = json_object_get(payload, name);
  if (json_is_integer(v)) {
    out = json_integer_value(v);
    return true;
  }
  // 1.7e9 written as a real is still a whole second count.
  if (json_is_real(v)) {
    double d = json_real_value(v);
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 1e15) {
      out = static_cast<int64_t>(d);
      return true;
    }
  }
  return false;
}

Status check_payload(const json_t* payload, const DpopRequest& req, DpopProof& out) {
  std::string_view text;
  if (!json_get_string(payload, "jti", text) || text.empty() || text.size() > kMaxDpopJtiSize) {
    return Status::kDpopProofInvalid;
  }
  out.jti.assign(text);
  if (!json_get_string(payload, "htm", text) || text != req.method) {
    return Status::kDpopMethodMismatch;
  }
  std::string htu;
  if (!json_get_string(payload, "htu", text) || !normalize_htu(text, htu) || htu != req.htu) {
    return Status::kDpopUrlMismatch;
  }
  if (!integer_claim(payload, "iat", out.iat) || out.iat < req.now - req.window ||
      out.iat > req.now + req.window) {
    return Status::kDpopProofStale;
  }
  if (!json_get_string(payload, "ath", text) || text != sha256_base64url(req.access_token)) {
    return Status::kDpopAthMismatch;
  }
  return Status::kOk;
}

}  // namespace

Status verify_dpop_proof(std::string_view proof, const DpopRequest& req, DpopProof& out) {
  if (proof.empty() || proof.size() > kMaxDpopProofSize) return Status::kDpopProofInvalid;
  size_t dot1 = proof.find('.');
  size_t dot2 = dot1 == std::string_view::npos ? dot1 : proof.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || proof.find('.', dot2 + 1) != std::string_view::npos) {
    return Status::kDpopProofInvalid;
  }
  std::string header_text, payload_text, signature;
  if (!base64url_decode(proof.substr(0, dot1), header_text) ||
      !base64url_decode(proof.substr(dot1 + 1, dot2 - dot1 - 1), payload_text) ||
      !base64url_decode(proof.substr(dot2 + 1), signature) || signature.empty()) {
    return Status::kDpopProofInvalid;
  }
  JsonPtr header, payload;
  if (parse_json_object(header_text, kMaxDpopDepth, Status::kDpopProofInvalid, header) !=
          Status::kOk ||
      parse_json_object(payload_text, kMaxDpopDepth, Status::kDpopProofInvalid, payload) !=
          Status::kOk) {
    return Status::kDpopProofInvalid;
  }
  Alg alg;
  EvpPkeyPtr key;
  Status s = check_header(header.get(), req.algorithms, alg, key, out.jkt);
  if (s != Status::kOk) return s;
  if (!verify_signature(alg, key.get(), proof.substr(0, dot2), signature)) {
    return Status::kDpopProofInvalid;
  }
  return check_payload(payload.get(), req, out);
}

bool is_dpop_proof_status(Status s) {
  switch (s) {
    case Status::kDpopProofMissing:
    case Status::kDpopProofInvalid:
    case Status::kDpopMethodMismatch:
    case Status::kDpopUrlMismatch:
    case Status::kDpopProofStale:
    case Status::kDpopAthMismatch:
    case Status::kDpopReplayed:
    case Status::kDpopReplayFull:
      return true;
    default:
      return false;
  }
}

std::string dpop_challenge(Status s, AlgSet algorithms) {
  std::string out = "DPoP algs=\"";
  bool first = true;
  for (unsigned i = 0; i < static_cast<unsigned>(Alg::kCount); ++i) {
    if ((algorithms & alg_bit(static_cast<Alg>(i))) == 0) continue;
    if (!first) out += ' ';
    out += alg_name(static_cast<Alg>(i));
    first = false;
  }
  out += '"';
  if (s == Status::kTokenMissing) return out;
  // status_description: fixed texts without quotes or backslashes.
  // A location's rule refused a verified request: the client keeps the
  // scheme it used (RFC 9449 §7.1), the error is RFC 6750's.
  out += is_authorization_refusal(s) ? ", error=\"insufficient_scope\""
         : is_dpop_proof_status(s)   ? ", error=\"invalid_dpop_proof\""
                                     : ", error=\"invalid_token\"";
  out += ", error_description=\"";
  out += status_description(s);
  out += '"';
  return out;
}

}  // namespace realm_auth
