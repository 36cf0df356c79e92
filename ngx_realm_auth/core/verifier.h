// The verification checklist, in two steps so that nothing reaches the
// network for a token that could never be accepted:
//
//   InspectedToken t;
//   Status s = inspect_token(token, config, t);      // parse, header, issuer
//   ... obtain the JWKS of t.issuer (cache tiers, fetch) ...
//   s = verify_token(t, *jwks, config, now, identity); // signature, claims
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "algorithm.h"
#include "claims.h"
#include "identity.h"
#include "issuer.h"
#include "jwks.h"
#include "jwt.h"
#include "status.h"

namespace realm_auth {

struct VerifierConfig {
  std::vector<IssuerPattern> issuers;     // allowlist; empty = nothing accepted
  ClaimRules claims;                      // leeway, audiences
  AlgSet algorithms = kAllAlgs;           // allowlist of JWS algorithms
  ParseLimits limits;                     // token size, JSON depth
  std::vector<std::string> role_clients;  // resource_access clients whose roles count

  // Canonical text of every setting that affects acceptance. Two configs
  // with different fingerprints never share verified-token cache entries.
  std::string fingerprint() const;
};

struct InspectedToken {
  Jwt jwt;
  std::string issuer;  // the token's iss, allowed by the config
  IssuerMatch match;
};

// Parses the token, applies header rules and the issuer allowlist (kIssuerMissing,
// kIssuerNotAllowed). No I/O, no signature check yet.
Status inspect_token(std::string_view token, const VerifierConfig& config, InspectedToken& out);

// The token's iat claim as whole seconds, 0 when absent or not a number.
// Unverified when read before verify_token: only for choosing a reason.
int64_t claimed_iat(const InspectedToken& t);

// Selects the key for the token's kid and alg (kKeyNotFound, kKeyMismatch)
// and checks the signature (kSignatureInvalid); `algorithms` is the
// allowlist the token was parsed under. The one signature rule of every
// token kind (access tokens here, logout tokens in logout_token.h).
Status verify_jws(const Jwt& jwt, const Jwks& keys, AlgSet algorithms);

// Selects the key, checks the signature (verify_jws), then the claims, refuses a token
// with a control byte in any of its strings (kClaimInvalid: every value the
// module hands nginx comes from them), then builds the identity. `t` must come from inspect_token
// with the same config.
Status verify_token(const InspectedToken& t, const Jwks& keys, const VerifierConfig& config,
                    int64_t now, Identity& out);

}  // namespace realm_auth
