// Text hygiene for what governance writes out: JSON for the policy service
// and ledger rows for PostgreSQL. Claims arrive as valid UTF-8 (they came out
// of a JSON token), but X-Purpose and other headers are arbitrary bytes, and
// neither jansson nor a PostgreSQL text column accepts invalid UTF-8 or NUL.
#pragma once

#include <string>
#include <string_view>

namespace realm_sidecar {

// `in` with every invalid UTF-8 sequence (overlong forms, surrogates, code
// points above U+10FFFF, truncated sequences) and every NUL byte replaced by
// U+FFFD. Valid input comes back unchanged.
std::string sanitize_utf8(std::string_view in);

}  // namespace realm_sidecar
