#include "tenant_record.h"

#include "decimal.h"

namespace realm_auth {

namespace {

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

const char* tenant_state_name(TenantRecord s) {
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
  return "absent";
}

bool parse_tenant_state(std::string_view name, TenantRecord& out) {
  for (TenantRecord s : {TenantRecord::kActive, TenantRecord::kDisabled, TenantRecord::kDeleted}) {
    if (name == tenant_state_name(s)) {
      out = s;
      return true;
    }
  }
  return false;
}

std::string encode_tenant_record(const TenantRecordValue& v) {
  if (v.state == TenantRecord::kAbsent) return "";
  std::string out = tenant_state_name(v.state);
  if (v.incarnation_start > 0) out += " start=" + std::to_string(v.incarnation_start);
  if (!v.incarnation_id.empty()) out += " incarnation=" + v.incarnation_id;
  return out;
}

bool decode_tenant_record(std::string_view text, TenantRecordValue& out) {
  TenantRecordValue v;
  v.issued_ms = out.issued_ms;
  size_t sp = text.find(' ');
  if (!parse_tenant_state(text.substr(0, sp), v.state)) return false;
  bool have_start = false, have_id = false;
  while (sp != std::string_view::npos) {
    text.remove_prefix(sp + 1);
    sp = text.find(' ');
    std::string_view field = text.substr(0, sp);
    size_t eq = field.find('=');
    if (eq == std::string_view::npos || eq == 0) return false;
    std::string_view name = field.substr(0, eq), value = field.substr(eq + 1);
    if (name == "start") {
      if (have_start || !parse_record_seconds(value, v.incarnation_start)) return false;
      have_start = true;
    } else if (name == "incarnation") {
      if (have_id || !uuid_text(value)) return false;
      v.incarnation_id.assign(value);
      have_id = true;
    }  // other names: a newer writer's fields
  }
  out = std::move(v);
  return true;
}

}  // namespace realm_auth
