#include "status.h"

#include <cstddef>

namespace realm_auth {

namespace {

struct StatusText {
  const char* name;
  const char* description;
};

// Indexed by Status. Descriptions go to clients (RFC 6750
// error_description): short, and nothing about keys, URLs or internals.
constexpr StatusText kTexts[] = {
    {"ok", "ok"},
    {"token_missing", "bearer token missing"},
    {"token_too_large", "token too large"},
    {"token_malformed", "token malformed"},
    {"token_is_jwe", "encrypted tokens are not accepted"},
    {"bad_base64", "token malformed"},
    {"header_not_json", "token header malformed"},
    {"payload_not_json", "token payload malformed"},
    {"duplicate_key", "token has duplicate members"},
    {"json_too_deep", "token nested too deeply"},
    {"alg_not_allowed", "signature algorithm not allowed"},
    {"crit_unsupported", "critical header not supported"},
    {"typ_not_allowed", "token type not allowed"},
    {"kid_invalid", "token header invalid"},
    {"issuer_missing", "issuer missing"},
    {"issuer_not_allowed", "issuer not allowed"},
    {"sub_missing", "subject missing"},
    {"exp_missing", "expiry missing"},
    {"expired", "token expired"},
    {"not_yet_valid", "token not yet valid"},
    {"audience_mismatch", "audience not allowed"},
    {"claim_invalid", "token claim invalid"},
    {"key_not_found", "token signer not recognized"},
    {"key_mismatch", "signature algorithm not allowed"},
    {"signature_invalid", "signature invalid"},
    {"jwks_unavailable", "token cannot be verified now"},
    {"jwks_malformed", "token cannot be verified now"},
    {"tenant_disabled", "tenant disabled"},
    {"tenant_deleted", "tenant deleted"},
    {"tenant_unknown", "tenant unknown"},
    {"token_revoked", "token revoked"},
    {"dpop_proof_missing", "DPoP proof missing"},
    {"dpop_proof_invalid", "DPoP proof invalid"},
    {"dpop_method_mismatch", "DPoP proof is for another method"},
    {"dpop_url_mismatch", "DPoP proof is for another URL"},
    {"dpop_proof_stale", "DPoP proof too old or too new"},
    {"dpop_ath_mismatch", "DPoP proof is for another access token"},
    {"dpop_replayed", "DPoP proof replayed"},
    {"dpop_replay_full", "DPoP proof cannot be checked now"},
    {"dpop_binding_mismatch", "DPoP proof does not match the token binding"},
    {"dpop_bound_as_bearer", "DPoP-bound token presented as bearer"},
    {"dpop_required", "DPoP-bound token required"},
    {"cert_binding_mismatch", "client certificate does not match the token"},
    {"purpose_missing", "purpose missing"},
    {"purpose_invalid", "purpose invalid"},
    {"require_role", "role required"},
    {"require_claim", "claim requirement not met"},
    {"require", "request not permitted"},
    {"internal_error", "internal error"},
};
static_assert(sizeof(kTexts) / sizeof(kTexts[0]) == static_cast<size_t>(Status::kCount),
              "one text per Status");

const StatusText& text(Status s) {
  static constexpr StatusText kUnknown = {"unknown", "token rejected"};
  return s < Status::kCount ? kTexts[static_cast<size_t>(s)] : kUnknown;
}

}  // namespace

const char* status_name(Status s) { return text(s).name; }

const char* status_description(Status s) { return text(s).description; }

bool is_authorization_refusal(Status s) {
  return s == Status::kRequireRole || s == Status::kRequireClaim || s == Status::kRequire;
}

}  // namespace realm_auth
