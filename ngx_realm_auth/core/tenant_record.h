// One tenant's record as realm-sidecar publishes it (tenant_registry.h
// stores it in Redis, sealed) and both binaries read it. This file is the
// only code that knows its text form:
//
//   <state>[ <name>=<value>]...     e.g. "active start=1764579600 incarnation=2f1c…"
//
// Known fields: start (the incarnation's start, whole seconds since the
// epoch) and incarnation (its UUID, lowercase as PostgreSQL prints it); see
// tenant_incarnation.h for what they mean. A one-word record of an older
// sidecar ("active", "disabled", "deleted") reads with start 0 and no id.
// Unknown fields are ignored so that a newer writer can add fields before
// every reader knows them; a known field with a malformed value makes the
// whole record unreadable.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace realm_auth {

enum class TenantRecord { kActive, kDisabled, kDeleted, kAbsent };

struct TenantRecordValue {
  TenantRecord state = TenantRecord::kAbsent;
  int64_t issued_ms = 0;  // when it was sealed (from the seal, not the text): orders records
  int64_t incarnation_start = 0;  // seconds since the epoch; 0 = not known (older record)
  std::string incarnation_id;     // UUID of the incarnation; empty when not known
};

constexpr size_t kMaxTenantRecord = 1024;  // bytes of the text form

const char* tenant_state_name(TenantRecord s);  // "active", "disabled", "deleted"
// False for "absent" or an unknown state name.
bool parse_tenant_state(std::string_view name, TenantRecord& out);

// The text form; a record of kAbsent encodes as "" (never written).
// issued_ms is not part of it (the seal carries it).
std::string encode_tenant_record(const TenantRecordValue& v);
// False (and `out` untouched) when the text names no known state or a known
// field does not parse. issued_ms is left as it was.
bool decode_tenant_record(std::string_view text, TenantRecordValue& out);

}  // namespace realm_auth
