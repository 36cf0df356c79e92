#include "purpose.h"

#include "header_value.h"

namespace realm_auth {

PurposeChoice PurposeSelector::result() const {
  PurposeChoice out;
  if (lines_ > 1) {
    out.check = PurposeCheck::kSeveral;
    return out;
  }
  std::string_view v = first_;
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  if (v.empty()) {
    out.check = PurposeCheck::kMissing;
  } else if (v.size() > kMaxPurposeSize) {
    out.check = PurposeCheck::kTooLong;
  } else if (!header_safe(v)) {
    out.check = PurposeCheck::kControlBytes;
  } else {
    out.check = PurposeCheck::kOk;
    out.value = v;
  }
  return out;
}

const char* purpose_problem(PurposeCheck c) {
  switch (c) {
    case PurposeCheck::kOk:
      return "";
    case PurposeCheck::kMissing:
      return "header X-Purpose is required: state why this call is made";
    case PurposeCheck::kSeveral:
      return "send exactly one X-Purpose header";
    case PurposeCheck::kTooLong:
      return "header X-Purpose must be at most 500 bytes";
    case PurposeCheck::kControlBytes:
      return "header X-Purpose must not contain control characters";
  }
  return "header X-Purpose is invalid";
}

}  // namespace realm_auth
