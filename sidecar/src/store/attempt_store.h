// provisioning_attempts (migrations/0007): one row per POST /tenants or
// POST /tenants/{id}/users in flight, from before its first change in
// Keycloak until its outcome is in the ledger. Recovery
// (provisioning/crash_recovery.h) settles the rows whose owner
// (store/owner_lease.h) is gone.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "store/attempt_ref.h"
#include "store/pg.h"
#include "store/tenant_store.h"

namespace realm_sidecar {

enum class AttemptKind { kTenant, kUser };

// A user attempt's last recorded step (a tenant's is its status: tenant_status.h).
enum class UserStep { kStarted, kUserCreated, kUnknown };

const char* to_string(UserStep s);
UserStep parse_user_step(const std::string& text);

struct Attempt {
  AttemptRef ref;
  AttemptKind kind = AttemptKind::kTenant;
  std::string tenant_id;
  std::string incarnation_id;  // tenant attempts: the life of the slug it inserted
  std::string username;        // user attempts
  std::string user_id;         // user attempts, from step user_created
  UserStep step = UserStep::kStarted;
  int64_t started_ms = 0;  // epoch milliseconds, the database clock
};

class AttemptStore {
 public:
  // A user attempt at step 'started'.
  static StoreStatus begin_user(PgSession& s, const AttemptRef& ref, const std::string& tenant_id,
                                const std::string& username);
  static StoreStatus user_created(PgSession& s, const std::string& request_id,
                                  const std::string& user_id);
  // The outcome is in the ledger (or recovery settled it): the row goes.
  static StoreStatus finish(PgSession& s, const std::string& request_id);
  static StoreStatus list(PgSession& s, std::vector<Attempt>& out);
  // The outcome event already in the ledger for `request_id`
  // (TENANT_CREATED, USER_CREATED, PROVISIONING_FAILED …), "" when none.
  // The tenant row of one incarnation: `found` with its status, and
  // `buried` when that incarnation has a tombstone (it lived, then went).
  static StoreStatus incarnation_state(PgSession& s, const std::string& tenant_id,
                                       const std::string& incarnation_id, bool& found,
                                       std::string& status, bool& buried);
  static StoreStatus recorded_outcome(PgSession& s, const std::string& request_id,
                                      std::string& event_type);
};

}  // namespace realm_sidecar
