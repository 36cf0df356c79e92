// Which purpose a request declares (X-Purpose), one rule for the module
// ($realm_purpose, auth_realm_require_purpose, the header upstreams get)
// and the sidecar (governed calls, the audit ledger):
//
//   - exactly one X-Purpose field line counts; several lines are refused,
//     even with equal values (an empty line followed by a real one, or two
//     different ones, would otherwise mean different things to different
//     readers);
//   - the value is trimmed of SP/HTAB; empty after trimming is missing;
//   - at most kMaxPurposeSize bytes, no control bytes (header_value.h).
//
//   PurposeSelector p;
//   for (each X-Purpose line, in arrival order) p.add_line(value);
//   PurposeChoice c = p.result();   // c.check == PurposeCheck::kOk → c.value
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace realm_auth {

constexpr size_t kMaxPurposeSize = 500;

enum class PurposeCheck : uint8_t { kOk, kMissing, kSeveral, kTooLong, kControlBytes };

struct PurposeChoice {
  PurposeCheck check = PurposeCheck::kMissing;
  std::string_view value;  // the trimmed purpose when check is kOk, else empty
};

class PurposeSelector {
 public:
  void add_line(std::string_view value) {
    if (lines_++ == 0) first_ = value;
  }
  PurposeChoice result() const;

 private:
  size_t lines_ = 0;
  std::string_view first_;
};

// Client-safe text for a refused choice ("X-Purpose must ..."), for the
// sidecar's problem detail; "" for kOk.
const char* purpose_problem(PurposeCheck c);

}  // namespace realm_auth
