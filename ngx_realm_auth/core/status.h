// Verification outcome codes shared by the core library, the nginx module and
// the sidecar. One enum, one mapping to text: the module turns a Status into
// 401/400/403 + WWW-Authenticate and a log line, the sidecar into problem+json.
#pragma once

#include <cstdint>

namespace realm_auth {

enum class Status : uint8_t {
  kOk = 0,
  // Token shape (no key material involved).
  kTokenMissing,    // no Authorization: Bearer credential
  kTokenTooLarge,   // longer than the configured limit
  kTokenMalformed,  // not three dot-separated segments, empty segment
  kTokenIsJwe,      // five segments: encrypted tokens are not accepted
  kBadBase64,       // a segment is not strict unpadded base64url
  kHeaderNotJson,   // header is not a JSON object
  kPayloadNotJson,  // payload is not a JSON object
  kDuplicateKey,    // a JSON object repeats a member name
  kJsonTooDeep,     // nesting deeper than the limit
  // JOSE header rules.
  kAlgNotAllowed,    // alg missing, none, HMAC or not in the allowlist
  kCritUnsupported,  // a crit header is present
  kTypNotAllowed,    // typ present and not JWT / at+jwt / Bearer
  kKidInvalid,       // kid missing, not a string, too long or odd characters
  // Claim rules.
  kIssuerMissing,     // no iss, or not a string
  kIssuerNotAllowed,  // iss matches no configured pattern
  kSubMissing,        // sub missing, not a string or empty
  kExpMissing,        // exp missing or not a number
  kExpired,           // exp (+ leeway) in the past
  kNotYetValid,       // nbf (- leeway) in the future, or nbf not a number
  kAudienceMismatch,  // aud lacks every configured audience
  kClaimInvalid,      // an identity claim has the wrong type or control bytes
  // Keys and signatures.
  kKeyNotFound,       // no signing key with that kid in the issuer's JWKS
  kKeyMismatch,       // the kid's key cannot be used with the token's alg
  kSignatureInvalid,  // signature does not verify
  kJwksUnavailable,   // no keys could be obtained for the issuer
  kJwksMalformed,     // the JWKS document is unusable
  kTenantDisabled,    // the tenant was disabled by the platform
  kTenantDeleted,     // the tenant (or the incarnation that issued the token) was deleted
  kTenantUnknown,     // the issuer's tenant is not in the registry (auth_realm_tenant_registry)
  kTokenRevoked,      // a revocation record (user, session or tenant) names the token
  // Sender-constrained tokens (DPoP, RFC 9449; mTLS, RFC 8705).
  kDpopProofMissing,     // DPoP scheme (or auth_realm_dpop required) without one DPoP header
  kDpopProofInvalid,     // proof malformed, typ/alg/jwk wrong, signature bad, jti missing
  kDpopMethodMismatch,   // htm is not the request method
  kDpopUrlMismatch,      // htu is not the request URI
  kDpopProofStale,       // iat outside the window
  kDpopAthMismatch,      // ath missing or not the hash of the access token
  kDpopReplayed,         // jti seen before within the window
  kDpopReplayFull,       // the replay cache has no room for the jti: refused, never forgotten
  kDpopBindingMismatch,  // proof key is not cnf.jkt, or the DPoP scheme for an unbound token
  kDpopBoundAsBearer,    // a DPoP-bound token (cnf.jkt) presented as Bearer
  kDpopRequired,         // auth_realm_dpop required and the token is not DPoP-bound
  kCertBindingMismatch,  // cnf.x5t#S256 without a matching TLS client certificate
  // Request rules (module only; the sidecar answers them with problem+json).
  kPurposeMissing,  // X-Purpose required and absent or blank
  kPurposeInvalid,  // X-Purpose required and several lines, too long or control bytes
  // Authorization rules of the location, after authentication (module only,
  // core authorization.h): 403 insufficient_scope. Named after the directive.
  kRequireRole,   // auth_realm_require_role: none of the listed roles
  kRequireClaim,  // auth_realm_require_claim: the claim is absent or does not match
  kRequire,       // auth_realm_require: a value is empty or "0"
  // The gateway itself (module only).
  kInternalError,  // an entry point caught an exception (out of memory): 500
  kCount
};

// Stable snake_case name ("expired", "issuer_not_allowed"): used as the
// counter key in auth_realm_status, in $realm_auth_error and in logs.
const char* status_name(Status s);

// Short human text for RFC 6750 error_description. Never mentions keys,
// URLs or internals: it is sent to the client.
const char* status_description(Status s);

// The statuses of authorization rules (kRequireRole, kRequireClaim,
// kRequire): the token is good, the request is not allowed with it.
bool is_authorization_refusal(Status s);

}  // namespace realm_auth
