// The tenants table (migrations/0001_tenants.sql) and tenant_secrets.
// Every method takes the caller's PgSession so that a saga can hold one
// connection (and its per-tenant advisory lock) across its steps.
//
// Result convention: kOk, kNotFound, kConflict (unique violation),
// kUnavailable (connection or server failure → 503).
#pragma once

#include <string>
#include <vector>

#include "store/attempt_ref.h"
#include "store/pg.h"
#include "store/tenant_status.h"
#include "tenant_incarnation.h"

namespace realm_sidecar {

enum class StoreStatus { kOk, kNotFound, kConflict, kUnavailable };

struct TenantRow {
  std::string tenant_id;
  std::string realm_name;
  std::string issuer_url;
  std::string display_name;
  std::vector<std::string> departments;
  TenantStatus status = TenantStatus::kProvisioning;
  // False when the column held a status this build does not know (a newer
  // schema): `status` then reads kFailed, so its tokens are refused, and
  // reconcile leaves the row alone instead of rolling it back.
  bool status_known = true;
  std::string created_at;  // RFC 3339 UTC
  std::string updated_at;
  std::string incarnation_id;          // UUID of this life of the slug (migration 0003)
  int64_t incarnation_started_at = 0;  // seconds; tokens with an earlier iat are refused
  bool dpop_bound_tokens = false;      // the console issues DPoP-bound tokens (migration 0008)
};

// The record of `row` as nginx and the sidecar's own token check read it
// (core/tenant_incarnation.h): active, disabled, or deleted (deleting,
// failed); a row still provisioning counts as active (its realm has no
// users yet, and tokens of earlier incarnations fail the iat rule).
realm_auth::TenantRecordValue tenant_info(const TenantRow& row);

class TenantStore {
 public:
  // INSERT with status 'provisioning'; kConflict when the slug exists.
  // With `attempt`, its provisioning_attempts row (migrations/0007) is
  // written in the same statement, naming the incarnation inserted.
  static StoreStatus insert(PgSession& s, const TenantRow& row,
                            const AttemptRef* attempt = nullptr);
  static StoreStatus get(PgSession& s, const std::string& tenant_id, TenantRow& out);
  // Ordered by tenant_id; `statuses` filters when non-empty.
  static StoreStatus list(PgSession& s, const std::vector<std::string>& statuses,
                          std::vector<TenantRow>& out);
  static StoreStatus set_state(PgSession& s, const std::string& tenant_id, TenantStatus status);
  static StoreStatus remove(PgSession& s, const std::string& tenant_id);
  // remove() of a tenant that lived (DELETE /tenants, reconcile of
  // 'deleting'): the row goes and its incarnation is tombstoned in the same
  // statement, so the slug's earlier tokens stay refused as deleted.
  static StoreStatus bury(PgSession& s, const std::string& tenant_id);
  // Seconds since the slug's newest tombstone; kNotFound when it has none.
  static StoreStatus since_buried(PgSession& s, const std::string& tenant_id, int64_t& seconds);
  // The record the sidecar's token check applies to a tenant token: the
  // live row's, else kDeleted for a tombstoned slug, else kAbsent.
  static StoreStatus record(PgSession& s, const std::string& tenant_id,
                            realm_auth::TenantRecordValue& out);

  // Sealed secret (bytes) of one client; upsert.
  static StoreStatus put_secret(PgSession& s, const std::string& tenant_id,
                                const std::string& client_id, const std::string& sealed);
  static StoreStatus get_secret(PgSession& s, const std::string& tenant_id,
                                const std::string& client_id, std::string& sealed);

  // Stores the secret and marks the tenant active in one transaction: a
  // tenant is never 'active' without its secret.
  static StoreStatus activate_with_secret(PgSession& s, const std::string& tenant_id,
                                          const std::string& client_id, const std::string& sealed);

  // Session-level advisory lock on one tenant, so that a saga and a
  // reconcile (or two sidecars) never work on the same tenant at once.
  // try_lock: false when someone else holds it (or on error).
  static bool try_lock(PgSession& s, const std::string& tenant_id);
  // noexcept: runs in ~TenantLock (libpq only, no C++ allocation).
  static void unlock(PgSession& s, const std::string& tenant_id) noexcept;
};

// Maps a PgResult failure to kConflict (23505) or kUnavailable.
StoreStatus store_status(const PgResult& r);

// RAII holder of TenantStore::try_lock.
class TenantLock {
 public:
  TenantLock(PgSession& s, std::string tenant_id)
      : s_(s), tenant_id_(std::move(tenant_id)), held_(TenantStore::try_lock(s_, tenant_id_)) {}
  ~TenantLock() {
    if (held_) TenantStore::unlock(s_, tenant_id_);
  }
  TenantLock(const TenantLock&) = delete;
  TenantLock& operator=(const TenantLock&) = delete;
  bool held() const { return held_; }

 private:
  PgSession& s_;
  std::string tenant_id_;
  bool held_;
};

}  // namespace realm_sidecar
