// OpenID Connect Back-Channel Logout 1.0 logout tokens (§2.4 contents,
// §2.6 validation), checked with the same parser, issuer allowlist and
// signature rule as access tokens (jwt.h, issuer.h, verifier.h). Two steps,
// so that nothing reaches the network for a token that could never pass:
//
//   InspectedLogoutToken t;
//   LogoutResult r = inspect_logout_token(token, rules, t);  // parse, typ, iss
//   ... the caller checks t.match.tenant_id exists, obtains its realm's JWKS ...
//   r = verify_logout_token(t, *jwks, rules, now, claims);   // signature, claims
//   ... the caller refuses a jti it has seen (replay), then ends the session ...
//
// What is checked, in order: size and shape, header typ logout+jwt, payload
// typ "Logout" when present, alg allowlist, kid; iss a tenant realm of the
// allowlist; the signature by that realm's keys; aud contains one of
// `audiences` (the clients provisioned with the logout URL); iat numeric,
// not older than max_age_s and not in the future beyond leeway_s; exp, when
// present, not past; `events` an object whose member
// http://schemas.openid.net/event/backchannel-logout is an object; `sid`
// or `sub` present (each a plain identifier when present); no `nonce`;
// `jti` present; no control byte in any string.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "algorithm.h"
#include "issuer.h"
#include "jwks.h"
#include "jwt.h"
#include "status.h"

namespace realm_auth {

constexpr char kBackchannelLogoutEvent[] = "http://schemas.openid.net/event/backchannel-logout";

struct LogoutTokenRules {
  // Allowlist; only patterns with a tenant slug (".../realms/tenant-*")
  // count: the platform realm's sessions are not the tenants' to end.
  std::vector<IssuerPattern> issuers;
  std::vector<std::string> audiences;  // aud must contain one; empty = every token refused
  AlgSet algorithms = kAllAlgs;
  ParseLimits limits;
  int64_t max_age_s = 120;  // iat no older than this (Keycloak sends at once)
  int64_t leeway_s = 30;    // clock skew on iat (future) and exp
};

// Why a logout token was refused. kToken: a rule of the token library,
// named by LogoutResult::status (shape, alg, kid, keys, signature).
enum class LogoutCheck : uint8_t {
  kOk = 0,
  kToken,
  kTypNotLogout,      // header typ not logout+jwt, or payload typ not "Logout"
  kIssuerMissing,     // no iss string
  kIssuerNotAllowed,  // iss is not a tenant realm of the allowlist
  kAudienceMismatch,  // aud lacks every configured client
  kIatInvalid,        // iat missing or not a number
  kIatOutOfWindow,    // iat older than max_age_s or in the future
  kExpired,           // exp present and past (or not a number)
  kEventMissing,      // events is not an object with the back-channel logout member as an object
  kSubjectMissing,    // neither sid nor sub
  kSubjectInvalid,    // sid or sub present but not a plain identifier string
  kNoncePresent,      // a nonce claim: an ID token, not a logout token (§2.4)
  kJtiMissing,        // jti missing, not a string, empty or not a plain identifier
  kClaimInvalid,      // a control byte in a string of the token
};

struct LogoutResult {
  LogoutCheck check = LogoutCheck::kOk;
  Status status = Status::kOk;  // meaningful for kToken
  bool ok() const { return check == LogoutCheck::kOk; }
};

struct InspectedLogoutToken {
  Jwt jwt;
  std::string issuer;
  IssuerMatch match;  // match.tenant_id is never empty once inspected
};

struct LogoutClaims {
  std::string issuer;
  std::string tenant_id;  // from the verified issuer
  std::string realm;
  std::string client;  // the configured audience found in aud
  std::string sid;     // may be empty (then sub is not)
  std::string sub;     // may be empty (then sid is not)
  std::string jti;
  int64_t iat = 0;
  int64_t exp = 0;  // 0 when absent
};

// Parse and header rules (parse_jwt with JwtUse::kLogout) and the issuer
// allowlist. No I/O, no signature yet.
LogoutResult inspect_logout_token(std::string_view token, const LogoutTokenRules& rules,
                                  InspectedLogoutToken& out);

// Signature by `keys` (the issuer's JWKS), then the claims. `t` must come
// from inspect_logout_token with the same rules. Does not know about
// replays: the caller keeps the jti.
LogoutResult verify_logout_token(const InspectedLogoutToken& t, const Jwks& keys,
                                 const LogoutTokenRules& rules, int64_t now, LogoutClaims& out);

// Stable snake_case name ("typ_not_logout", or the Status name for kToken),
// for logs and tests.
std::string logout_result_name(const LogoutResult& r);
// Text for a 400 problem's detail: precise, never quotes the token.
std::string logout_result_detail(const LogoutResult& r, const LogoutTokenRules& rules);

}  // namespace realm_auth
