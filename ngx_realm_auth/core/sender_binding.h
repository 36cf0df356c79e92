// Sender-constrained access tokens: the token's confirmation claim (cnf,
// RFC 7800) and the rule that binds it to how the request presented it.
//   cnf.jkt       DPoP (RFC 9449 §6): the RFC 7638 thumbprint of the key
//                 that must sign a DPoP proof with each request;
//   cnf.x5t#S256  mTLS (RFC 8705 §3): the base64url SHA-256 of the DER
//                 client certificate the request must come over.
// Other members of cnf are tolerated (Keycloak may add its own).
#pragma once

#include <string>
#include <string_view>

#include "flat_json.h"
#include "status.h"

namespace realm_auth {

struct Confirmation {
  std::string jkt;       // empty: not DPoP-bound
  std::string x5t_s256;  // empty: not certificate-bound
};

// Reads cnf from verified claims. Absent is fine; cnf not an object, or
// jkt / x5t#S256 present and not the base64url of 32 bytes: kClaimInvalid
// (a binding we cannot read must not be taken for no binding).
Status read_confirmation(FlatJson::Value payload, Confirmation& out);

enum class TokenScheme { kBearer, kDpop };

// How this request presented the token.
struct Presentation {
  TokenScheme scheme = TokenScheme::kBearer;
  // The thumbprint of the key of the verified DPoP proof (scheme kDpop
  // only; the caller refuses a DPoP request whose proof failed).
  std::string_view proof_jkt;
  // The x5t#S256 of the TLS client certificate, empty without one.
  std::string_view client_cert_x5t;
};

// The binding rule, for verified and cached tokens alike, in this order:
//   DPoP-bound token as Bearer                 → kDpopBoundAsBearer
//   DPoP scheme, token not DPoP-bound          → kDpopBindingMismatch
//   DPoP scheme, proof key is not cnf.jkt      → kDpopBindingMismatch
//   dpop_required and the token is not DPoP    → kDpopRequired
//   certificate-bound, no or another cert      → kCertBindingMismatch
Status check_sender_binding(const Confirmation& cnf, const Presentation& p, bool dpop_required);

}  // namespace realm_auth
