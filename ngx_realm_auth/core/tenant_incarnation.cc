#include "tenant_incarnation.h"

#include <cctype>

namespace realm_auth {

namespace {

const char* state_word(TenantRecord s) {
  switch (s) {
    case TenantRecord::kActive:
      return "active";
    case TenantRecord::kDisabled:
      return "disabled";
    case TenantRecord::kDeleted:
      return "deleted";
    case TenantRecord::kAbsent:
      break;
  }
  return "";
}

// Strict decimal seconds: 1 to 12 digits, no sign (years beyond 30000 are
// not a start anyone records).
bool parse_seconds(std::string_view t, int64_t& out) {
  if (t.empty() || t.size() > 12) return false;
  int64_t v = 0;
  for (char c : t) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  out = v;
  return true;
}

// 8-4-4-4-12 lowercase hex, as PostgreSQL prints a uuid.
bool uuid_text(std::string_view t) {
  if (t.size() != 36) return false;
  for (size_t i = 0; i < t.size(); i++) {
    char c = t[i];
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

std::string encode_tenant_record(const TenantInfo& info) {
  if (info.state == TenantRecord::kAbsent) return "";
  std::string out = state_word(info.state);
  if (info.incarnation_start > 0 || !info.incarnation_id.empty()) {
    out += ' ';
    out += std::to_string(info.incarnation_start);
    out += ' ';
    out += info.incarnation_id;
  }
  return out;
}

bool decode_tenant_record(std::string_view value, TenantInfo& out) {
  out = TenantInfo{};
  out.state = TenantRecord::kActive;
  size_t sp = value.find(' ');
  std::string_view word = value.substr(0, sp);
  TenantRecord state;
  if (word == "active") {
    state = TenantRecord::kActive;
  } else if (word == "disabled") {
    state = TenantRecord::kDisabled;
  } else if (word == "deleted") {
    state = TenantRecord::kDeleted;
  } else {
    return false;
  }
  if (sp == std::string_view::npos) {  // a one-word record of an older sidecar
    out.state = state;
    return true;
  }
  std::string_view rest = value.substr(sp + 1);
  size_t sp2 = rest.find(' ');
  int64_t start = 0;
  if (sp2 == std::string_view::npos || !parse_seconds(rest.substr(0, sp2), start) ||
      !uuid_text(rest.substr(sp2 + 1))) {
    return false;
  }
  out.state = state;
  out.incarnation_start = start;
  out.incarnation_id.assign(rest.substr(sp2 + 1));
  return true;
}

Status admit_tenant_token(const TenantInfo& info, int64_t iat) {
  if (info.state == TenantRecord::kDeleted) return Status::kTenantDeleted;
  if (info.state == TenantRecord::kDisabled) return Status::kTenantDisabled;
  if (info.incarnation_start > 0 && iat < info.incarnation_start) return Status::kTenantDeleted;
  return Status::kOk;
}

Status unverified_refusal(Status status, const TenantInfo& info, int64_t claimed_iat) {
  if (status != Status::kKeyNotFound) return status;
  if (info.state == TenantRecord::kDeleted) return Status::kTenantDeleted;
  if (info.incarnation_start > 0 && claimed_iat < info.incarnation_start) {
    return Status::kTenantDeleted;
  }
  return status;
}

bool incarnation_ended(const TenantInfo& before, const TenantInfo& now) {
  if (now.state == TenantRecord::kDeleted && before.state != TenantRecord::kDeleted) return true;
  return !before.incarnation_id.empty() && !now.incarnation_id.empty() &&
         before.incarnation_id != now.incarnation_id;
}

}  // namespace realm_auth
