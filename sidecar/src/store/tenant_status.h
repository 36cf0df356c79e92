// A tenant's status as a type. It is text only at the PostgreSQL boundary
// (tenants.status, migrations/0001) and in the API's "status" member;
// everywhere else the code compares enums, so a misspelt state does not
// compile instead of silently matching nothing.
//
// There is no saga step next to it (migration 0007 drops saga_step): the
// saga makes one change in Keycloak (one POST of the complete realm, which
// Keycloak applies whole or not at all) and one in PostgreSQL (secret and
// status in one transaction), so after a crash the status and whether the
// realm exists say everything a step could, and cannot disagree with it.
#pragma once

#include <string>

namespace realm_sidecar {

enum class TenantStatus { kProvisioning, kActive, kDisabled, kDeleting, kFailed };

const char* to_string(TenantStatus s);
// False for text that names no status (the column's CHECK makes that a
// schema this build does not know).
bool parse_tenant_status(const std::string& text, TenantStatus& out);

// Settled: the saga is over and the tenant is what its status says.
inline bool is_settled(TenantStatus s) {
  return s == TenantStatus::kActive || s == TenantStatus::kDisabled;
}

// Whether the tenant's realm exists, as Keycloak just answered.
enum class RealmPresence { kPresent, kAbsent, kUnknown /* Keycloak did not answer */ };

// What recovery (start-up and periodic reconcile) does with a tenant row:
//   provisioning, realm present  kFinish: the realm is complete (one POST);
//                                read its secret, seal it, mark active.
//   provisioning, realm absent   kDropRow: the realm was never made.
//   failed                       kRollBack: delete the realm (a 404
//                                counts), then the row.
//   deleting                     kDelete: the same, and tombstone the row.
//   active, disabled             kNone (drift repair is separate).
//   provisioning, unknown        kWait: Keycloak is down; the next pass.
enum class Recovery { kNone, kFinish, kDropRow, kRollBack, kDelete, kWait };

Recovery recovery_for(TenantStatus status, RealmPresence realm);
const char* to_string(Recovery r);

}  // namespace realm_sidecar
