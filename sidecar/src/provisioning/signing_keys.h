// Signing-key rotation of tenant realms (docs/TENANT_REALM_STRATEGY.md,
// "Signing-key rotation"), through Keycloak's key provider components:
//
//   rotate:  a new `rsa-generated` RS256 provider with a priority above
//            every active key of the realm: Keycloak signs with it at once
//            and publishes it in the JWKS; the old keys keep verifying.
//   retire:  one RS256 signing key's provider made passive (config
//            active=false: Keycloak keeps it in the JWKS, so tokens it
//            signed keep verifying, but signs nothing new with it) and its
//            removal scheduled in PostgreSQL after the grace period, in one
//            transaction. Refused for the realm's only active RS256 key: a
//            mistake or an attacker must not leave a realm unable to sign.
//   remove:  the background pass of every sidecar deletes the providers
//            whose grace period ended (the key leaves the JWKS), drops the
//            realm's shared JWKS copy from Redis (so every nginx refuses its
//            tokens once its own cached JWKS expires, not a Redis copy's
//            lifetime later), writes KEY_REMOVED to the ledger and marks
//            the row removed. One
//            sidecar per row (SKIP LOCKED), idempotent (a provider already
//            gone counts as removed), and never the realm's last active
//            RS256 key.
//
// rotate and retire hold the tenant's advisory lock (as the saga does), so
// two calls on one tenant never interleave (the second answers 409 busy).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "governance/audit_ledger.h"
#include "keycloak/admin_client.h"
#include "provisioning/outcome.h"
#include "store/key_schedule.h"
#include "store/pg.h"
#include "store/tenant_state.h"
#include "store/tenant_store.h"

namespace realm_sidecar {

// The retire call's identity, kept with the schedule for KEY_REMOVED.
struct KeyRequester {
  std::string request_id;
  std::string actor_id;
  std::string actor_realm;
  std::string purpose;
};

struct RotatedKey {
  std::string kid;
  std::string component_id;
  long long priority = 0;
  std::vector<std::string> previous_active;  // RS256 kids active before
};

struct RemovalReport {
  int removed = 0;  // rows settled (provider deleted, or already gone)
  int failed = 0;   // attempts that failed (retried at the next pass)
  std::vector<std::string> errors;
};

class SigningKeys {
 public:
  // Longest grace period a retire call may ask for.
  static constexpr int64_t kMaxGraceSeconds = 30 * 86400;

  // `state` (may be null: no Redis) drops the shared JWKS copy of a realm
  // whose key was removed.
  SigningKeys(PgPool& pg, AdminClient& kc, const TenantStatePublisher* state = nullptr)
      : pg_(pg), kc_(kc), state_(state) {}

  // The realm's signing keys (use SIG) and the pending retirements of the
  // tenant's current incarnation.
  Outcome list(const std::string& tenant_id, std::vector<KcKey>& keys,
               std::vector<KeyRetirement>& pending);
  Outcome rotate(const std::string& tenant_id, RotatedKey& out);
  // grace_seconds within [0, kMaxGraceSeconds] (the caller validated it).
  Outcome retire(const std::string& tenant_id, const std::string& kid, int64_t grace_seconds,
                 const KeyRequester& who, KeyRetirement& out);

  // One pass over the due retirements (at most `max_rows`).
  RemovalReport remove_due(AuditLedger& ledger, int max_rows = 100);

 private:
  // The tenant's row (active or disabled) and its realm's keys: where
  // list, rotate and retire all start.
  Outcome tenant_and_keys(PgSession& s, const std::string& tenant_id, TenantRow& tenant,
                          std::vector<KcKey>& keys);
  // Settles one claimed row inside the pass's transaction; false with
  // `error` when it must be retried later.
  // `issuer` is set when a key left a live realm's JWKS.
  bool remove_one(PgSession& s, const KeyRetirement& row, bool& already_absent, std::string& issuer,
                  std::string& error);

  PgPool& pg_;
  AdminClient& kc_;
  const TenantStatePublisher* state_;
};

}  // namespace realm_sidecar
