// Registered-claim rules: exp, nbf, sub, aud.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "flat_json.h"
#include "status.h"

namespace realm_auth {

struct ClaimRules {
  int64_t leeway_s = 30;               // clock skew allowed on exp and nbf
  std::vector<std::string> audiences;  // aud must contain one; empty = unchecked
};

// exp required and numeric (kExpMissing), now < exp + leeway (kExpired);
// nbf optional, numeric, nbf - leeway <= now (kNotYetValid); sub a non-empty
// string (kSubMissing); aud a string or array of strings containing a
// configured audience (kAudienceMismatch). iat, when present, must be
// numeric (kClaimInvalid). Numbers may be integers or reals, never strings.
Status check_claims(FlatJson::Value payload, const ClaimRules& rules, int64_t now);

}  // namespace realm_auth
