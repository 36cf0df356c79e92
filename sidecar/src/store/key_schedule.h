// The key_retirements table (migrations/0005_key_retirements.sql): when a
// retired signing key's provider is to be deleted from its realm. Rows are
// written by POST /tenants/{id}/keys/{kid}:retire and settled by the
// removal pass of every sidecar (provisioning/signing_keys.h), one sidecar
// per row (FOR UPDATE SKIP LOCKED). Every method takes the caller's
// session: retire writes its row in the transaction that holds the
// tenant lock, the pass claims, settles and commits on one connection.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "store/pg.h"
#include "store/tenant_store.h"

namespace realm_sidecar {

struct KeyRetirement {
  int64_t id = 0;
  std::string tenant_id;
  std::string incarnation_id;
  std::string realm_name;
  std::string kid;
  std::string component_id;
  int64_t grace_seconds = 0;
  std::string retired_at;  // RFC 3339 UTC
  std::string remove_at;   // RFC 3339 UTC
  int attempts = 0;        // removal attempts that failed
  std::string last_error;  // why the last one failed (client-safe text)
  std::string request_id;  // of the retire call
  std::string actor_id;
  std::string actor_realm;
  std::string purpose;
};

class KeySchedule {
 public:
  // Inserts a pending row due grace_seconds from now (the database clock);
  // fills retired_at and remove_at. kConflict when (tenant, incarnation,
  // kid) is already scheduled.
  static StoreStatus insert(PgSession& s, KeyRetirement& row);
  // Rows not yet removed of one tenant incarnation, by kid.
  static StoreStatus pending(PgSession& s, const std::string& tenant_id,
                             const std::string& incarnation_id, std::vector<KeyRetirement>& out);
  // Inside the caller's transaction: locks the oldest due row no other
  // session holds and not in `tried` (rows this pass already attempted;
  // kNotFound when none).
  static StoreStatus claim_due(PgSession& s, const std::vector<int64_t>& tried, KeyRetirement& out);
  static StoreStatus mark_removed(PgSession& s, int64_t id);
  static StoreStatus note_failure(PgSession& s, int64_t id, const std::string& error);
};

}  // namespace realm_sidecar
