// Settles provisioning attempts a crash left (store/attempt_store.h): after
// the tenant saga's own recovery (TenantSaga::reconcile, driven by
// tenants.status and whether the realm exists), each attempt whose owner process is gone
// (store/owner_lease.h) is brought to one of two ends, and the ledger gets
// the one outcome row that says which, under the attempt's request_id:
//
//   tenant  the row of the incarnation it inserted is active/disabled (or
//           was since deleted): TENANT_CREATED; no row of it:
//           PROVISIONING_FAILED; still mid-saga: left for the next pass.
//   user    the ledger already says USER_CREATED: kept. Otherwise rolled
//           back: the user is deleted (by its id from step user_created;
//           at step started, by username when Keycloak created it after
//           the attempt began, so a namesake that existed before is never
//           touched), then PROVISIONING_FAILED. A user finished in Keycloak
//           but not recorded goes too: its one-time password reached nobody.
//
// An attempt whose outcome is already in the ledger only loses its row. See
// docs/OPERATIONS.md, "Crash recovery".
#pragma once

#include <string>
#include <vector>

#include "governance/audit_ledger.h"
#include "keycloak/admin_client.h"
#include "provisioning/tenant_saga.h"
#include "store/attempt_store.h"
#include "store/owner_lease.h"
#include "store/pg.h"
#include "store/tenant_status.h"

namespace realm_sidecar {

// The end of a tenant attempt, from the row (if any) of its incarnation.
enum class AttemptEnd { kCreated, kNotCreated, kUnsettled };
AttemptEnd tenant_attempt_end(bool row_found, TenantStatus status, bool buried);

// Whether a user attempt keeps its user: only when the ledger already holds
// USER_CREATED for it (`recorded`: the outcome event, "" when none).
bool keep_user(const std::string& recorded);

class CrashRecovery {
 public:
  CrashRecovery(PgPool& pg, AdminApi& kc, AuditLedger& ledger)
      : pg_(pg), kc_(kc), ledger_(ledger) {}
  // One pass; counts and errors go into `rep` (recovered, errors).
  void run(ReconcileReport& rep);
  // For `reconcile --check`: attempts whose owner is gone, not yet settled
  // ("<tenant>: …"), changing nothing. `errors`: what could not be read.
  std::vector<std::string> unsettled(std::vector<std::string>& errors);

 private:
  Outcome settle_tenant(PgSession& s, const Attempt& a, const std::string& recorded, bool& done);
  Outcome settle_user(PgSession& s, const Attempt& a, const std::string& recorded);
  Outcome remove_user(const Attempt& a, bool& removed);
  bool record(const Attempt& a, const char* event_type, const std::string& reason,
              const std::string& details_json);

  PgPool& pg_;
  AdminApi& kc_;
  AuditLedger& ledger_;
  const ReconcileReport* rep_ = nullptr;  // the pass's report, for the saga's last steps
};

}  // namespace realm_sidecar
