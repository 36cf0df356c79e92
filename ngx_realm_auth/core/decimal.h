// Whole seconds in the text forms of Redis records (tenant_record.h,
// revocation_record.h): 1 to 12 decimal digits, nothing else (no sign, no
// space), so no record can carry a time past the year 30000 or overflow.
#pragma once

#include <cstdint>
#include <string_view>

namespace realm_auth {

inline bool parse_record_seconds(std::string_view t, int64_t& out) {
  if (t.empty() || t.size() > 12) return false;
  int64_t v = 0;
  for (char c : t) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  out = v;
  return true;
}

}  // namespace realm_auth
