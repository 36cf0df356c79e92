// Tenant (realm) provisioning as a resumable saga. Invariant: never a realm
// without a row, never a row without a realm, once a saga has settled.
//
// create:  lock(slug) → row 'provisioning' (with its provisioning attempt,
//          store/attempt_store.h) → POST /admin/realms (one
//          RealmRepresentation, applied whole or not at all) → read
//          tenant-services secret → store it sealed + status 'active' (one
//          transaction) → Redis tenant:<slug> = active.
//          Any failure: delete the realm if it was (or may have been)
//          created, then the row. When Keycloak or PostgreSQL is down the
//          rollback itself may be impossible: the row stays 'provisioning'
//          and reconcile settles it.
//          A rollback that could not finish marks the row 'failed'.
// reconcile: rows left 'provisioning' by a crash → realm exists ? finish :
//          drop row; rows 'failed' or 'deleting' → delete realm, drop row
//          (recovery_for(), store/tenant_status.h); republish every
//          tenant's state to Redis.
//
// A per-tenant PostgreSQL advisory lock, held on the saga's connection for
// its whole duration, keeps a reconcile (or a second sidecar) away from a
// tenant being worked on; a crash releases it with the connection.
#pragma once

#include <string>
#include <vector>

#include "crypto/secret_box.h"
#include "keycloak/admin_client.h"
#include "keycloak/realm_drift.h"
#include "provisioning/outcome.h"
#include "store/pg.h"
#include "store/tenant_state.h"
#include "store/tenant_store.h"

namespace realm_sidecar {

struct SagaConfig {
  std::string keycloak_url;  // issuer base
  std::vector<std::string> console_redirect_uris;
  bool console_password_grant = false;
  // Seconds a deleted slug stays unusable (TENANT_SLUG_QUARANTINE): every
  // nginx must have read the deletion (auth_realm_tenant_state_interval +
  // Redis timeout) before the slug can live again. See
  // docs/TENANT_REALM_STRATEGY.md, "Reusing a slug".
  long slug_quarantine_s = 15;
  // Base URL of the sidecar's back-channel logout endpoint as Keycloak
  // reaches it, through nginx (BACKCHANNEL_LOGOUT_BASE_URL); each tenant's
  // admin-console gets <base>/<slug>. Empty: no back-channel logout.
  std::string backchannel_logout_base;
};

struct ReconcileReport {
  int finished = 0;     // provisioning → active
  int rolled_back = 0;  // provisioning/failed tenants removed
  int deleted = 0;      // deleting → gone
  int skipped = 0;      // locked by someone else or dependency down
  int published = 0;    // states written to Redis
  int upgraded = 0;     // existing realms brought up to the current realm spec
  int recovered = 0;    // provisioning attempts settled (provisioning/crash_recovery.h)
  // Tenants this pass settled from an unfinished state, and how ("finished:
  // …", "rolled back: …"), for the ledger rows crash recovery writes.
  std::vector<std::pair<std::string, std::string>> settled;
  std::vector<std::string> errors;
  // Drift reconcile does not repair, one line each with the reason
  // (a realm no row claims, a row whose realm is gone, a missing client).
  std::vector<std::string> unrepaired;
};

class TenantSaga {
 public:
  TenantSaga(SagaConfig config, PgPool& pg, AdminApi& kc, const SecretBox& box,
             const TenantStatePublisher& state);

  // `attempt`: who asks, recorded with the row (store/attempt_store.h) so
  // that crash recovery can write the attempt's outcome to the ledger.
  // dpop_bound_tokens: the console issues DPoP-bound tokens only (stored in
  // the row, so reconcile keeps it; realm_spec.h).
  Outcome create(const std::string& slug, const std::string& display_name,
                 const std::vector<std::string>& departments, TenantRow& out,
                 const AttemptRef* attempt = nullptr, bool dpop_bound_tokens = false);
  Outcome set_enabled(const std::string& tenant_id, bool enabled, TenantRow& out);
  Outcome remove(const std::string& tenant_id);
  Outcome rotate_services_secret(const std::string& tenant_id, TenantRow& out);

  // Decrypted tenant-services credentials, for user management in the realm.
  Outcome services_credentials(const std::string& tenant_id, TenantRow& tenant,
                               ClientCredentials& out);

  ReconcileReport reconcile();

  // `reconcile --check`: every difference between PostgreSQL and Keycloak,
  // one line each ("<tenant>: <what>"), changing nothing: realms without a
  // row, rows without a realm, unfinished rows, and for each settled tenant
  // the realm's drift from the realm spec (realm_drift.h). `errors`: what
  // could not be read (then the check is incomplete).
  std::vector<std::string> check_drift(std::vector<std::string>& errors);

 private:
  // realm_created → active: reads the tenant-services secret, seals and
  // stores it, marks the row active.
  Outcome finish(PgSession& s, const std::string& slug);
  // Deletes the realm (404 counts as done) then the row; `bury` tombstones
  // the incarnation (a tenant that lived, not a failed create).
  Outcome roll_back(PgSession& s, const std::string& slug, bool realm_may_exist, bool bury = false);
  // After a failed create: roll back, or mark the row 'failed' for
  // reconcile when the rollback itself failed. Appends to why.detail.
  void abandon(PgSession& s, const std::string& slug, bool realm_may_exist, Outcome& why);
  void publish(const std::string& slug, const realm_auth::TenantRecordValue& record);
  // Carries out recovery_for() on an unsettled row (under its lock).
  Outcome settle(PgSession& s, const TenantRow& row, ReconcileReport& rep);
  // Brings a realm created by an older realm spec up to date (today: the
  // realm-sidecar audience mapper on admin-console). Idempotent; `changed`
  // says whether anything was added.
  Outcome upgrade_realm(const TenantRow& row, bool& changed);
  // The admin-console's back-channel logout attributes (URL, sid required,
  // no front channel), set when they differ from the realm spec's.
  Outcome upgrade_console_logout(const TenantRow& row, const std::string& console_uuid,
                                 bool& changed);
  std::string logout_url(const std::string& slug) const;

  // (tenant_drift.cc) The realm spec of a row, as it would be created today.
  JsonPtr spec_for(const TenantRow& row) const;
  // Drift of a settled tenant's realm; `gone`: the realm does not exist.
  // `clients` keeps GET /clients for the repairs.
  Outcome drift_of(const TenantRow& row, std::vector<Drift>& out, bool& gone, JsonPtr& clients);
  // "tenant-*" realms the provisioner sees that no row claims.
  Outcome orphan_realms(PgSession& s, std::vector<std::string>& out);
  // Repairs a settled tenant's repairable drift; the rest goes to
  // rep.unrepaired.
  void repair_drift(const TenantRow& row, ReconcileReport& rep);
  Outcome repair(const TenantRow& row, const json_t* want, const json_t* clients, const Drift& d);

  SagaConfig config_;
  PgPool& pg_;
  AdminApi& kc_;
  const SecretBox& box_;
  const TenantStatePublisher& state_;
};

}  // namespace realm_sidecar
