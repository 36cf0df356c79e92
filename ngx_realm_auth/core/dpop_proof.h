// DPoP proofs (RFC 9449 §4.3): the checks a resource server makes on the
// DPoP header of one request, with no state. Replay (jti seen before) is
// the caller's: it needs memory shared across requests (the module's
// replay cache, src/dpop_replay.h).
//
//   DpopRequest req{method, htu, token, now, 60, algs};
//   DpopProof proof;
//   Status s = verify_dpop_proof(header_value, req, proof);
//   ... then proof.jkt against the token's cnf.jkt (sender_binding.h),
//   ... and proof.jti against the replay cache.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "algorithm.h"
#include "status.h"

namespace realm_auth {

struct DpopRequest {
  std::string_view method;        // the request method, compared exactly with htm
  std::string_view htu;           // the request URI, normalised (normalize_htu)
  std::string_view access_token;  // ath is its base64url SHA-256
  int64_t now = 0;                // seconds since the epoch
  int64_t window = 60;            // iat accepted within now ± window seconds
  AlgSet algorithms = 0;          // allowed proof algorithms (asymmetric only)
};

// Bounds that keep a hostile proof's cost small: an RSA-4096 proof is
// about 1.5 KB.
constexpr size_t kMaxDpopProofSize = 8192;
constexpr size_t kMaxDpopJtiSize = 256;

struct DpopProof {
  std::string jkt;  // RFC 7638 thumbprint of the proof's key
  std::string jti;  // 1..kMaxDpopJtiSize bytes
  int64_t iat = 0;
};

// kOk with `out` filled, or the first rule the proof breaks, in this order:
// size, three base64url segments, header and payload JSON objects (no
// duplicate members, depth ≤ 4) → kDpopProofInvalid; header typ
// "dpop+jwt", alg allowed (never none/HMAC), no crit, jwk a usable public
// key for alg with no private member (d, p, q, dp, dq, qi, oth, k), the
// signature by that key → kDpopProofInvalid; jti a non-empty string of at
// most kMaxDpopJtiSize bytes → kDpopProofInvalid; htm → kDpopMethodMismatch;
// htu (normalised, query and fragment ignored) → kDpopUrlMismatch; iat an
// integer within the window → kDpopProofStale; ath → kDpopAthMismatch.
Status verify_dpop_proof(std::string_view proof, const DpopRequest& req, DpopProof& out);

// The WWW-Authenticate value answering a DPoP refusal (RFC 9449 §7.1):
//   DPoP algs="ES256 RS256"                                  (no credential)
//   DPoP algs="…", error="invalid_dpop_proof", error_description="…"
//   DPoP algs="…", error="invalid_token", error_description="…"
// invalid_dpop_proof for a bad, missing, replayed proof; invalid_token for
// everything about the token itself (binding included).
std::string dpop_challenge(Status s, AlgSet algorithms);

// Whether a refusal is about the proof (invalid_dpop_proof).
bool is_dpop_proof_status(Status s);

}  // namespace realm_auth
