// The tenant records realm-sidecar keeps in Redis (`<prefix>tenant:<slug>`,
// redis_keys.h), sealed with the fleet key (redis_seal.h) and written on
// every lifecycle change and every reconcile. The module reads them to
// refuse tokens of disabled tenants (src/tenant_state) and, with
// auth_realm_tenant_registry on, to refuse a realm the platform never
// created before asking Keycloak for its keys. Blocking: thread pool or a
// sidecar thread. What a forged or missing record does: docs/REDIS_TRUST.md.
#pragma once

#include <cstdint>
#include <string>

#include "redis_client.h"

namespace realm_auth {

enum class TenantRecord { kActive, kDisabled, kDeleted, kAbsent };

// One tenant's record. encode/decode below are the only code that knows its
// text form, "<state>[ <name>=<value>]...": add a field here and there, and
// both the sidecar (writer) and the module (reader) follow. Unknown fields
// are ignored so that a newer writer can add fields before every reader
// knows them.
struct TenantRecordValue {
  TenantRecord state = TenantRecord::kAbsent;
  int64_t issued_ms = 0;  // when it was sealed (from the seal, not the text): orders records
};

constexpr size_t kMaxTenantRecord = 1024;  // bytes of the text form

const char* tenant_state_name(TenantRecord s);  // "active", "disabled", "deleted"
// False for "absent" or an unknown state name.
bool parse_tenant_state(const std::string& name, TenantRecord& out);

std::string encode_tenant_record(const TenantRecordValue& v);
// False when the text names no known state.
bool decode_tenant_record(const std::string& text, TenantRecordValue& out);

// The record of `slug`: kFound with `out` (authentic, decoded), kAbsent,
// kRejected (forged, oversized, unknown state; `why` says which) or kError
// (Redis did not answer).
RedisRead read_tenant_record(RedisClient& client, const std::string& slug, TenantRecordValue& out,
                             std::string& why);
// Seals and writes the record (no expiry). False with client.error().
bool write_tenant_record(RedisClient& client, const std::string& slug, const TenantRecordValue& v);

}  // namespace realm_auth
