#include "provisioning/signing_keys.h"

#include <algorithm>
#include <ctime>

#include "util/json_helpers.h"

namespace realm_sidecar {

namespace {

const char* const kPgDown = "PostgreSQL is unreachable";

Outcome kc_failure(const KcResponse& r, const std::string& what) {
  int status = http_status_for(r.error);
  std::string detail =
      status == 503 ? "Keycloak is unreachable or refused the provisioning identity (" + what + ")"
                    : "Keycloak refused " + what + " (" + kc_error_name(r.error) + ")";
  return fail(status, detail, what + ": " + r.message);
}

Outcome store_failure(StoreStatus st, const std::string& what) {
  if (st == StoreStatus::kNotFound) return fail(404, what + ": not found");
  if (st == StoreStatus::kConflict) return fail(409, what + ": conflict");
  return fail(503, std::string(kPgDown) + " (" + what + ")", what);
}

bool is_rs256_signing(const KcKey& k) { return k.use == "SIG" && k.algorithm == "RS256"; }

// Active RS256 signing keys held by providers other than `provider_id`.
int other_active_signers(const std::vector<KcKey>& keys, const std::string& provider_id) {
  int n = 0;
  for (const KcKey& k : keys) {
    if (is_rs256_signing(k) && k.status == "ACTIVE" && k.provider_id != provider_id) n++;
  }
  return n;
}

// Keys can be managed in a realm that exists: tenants active or disabled.
Outcome load_tenant(PgSession& s, const std::string& tenant_id, TenantRow& row) {
  StoreStatus st = TenantStore::get(s, tenant_id, row);
  if (st == StoreStatus::kNotFound) return fail(404, "no tenant '" + tenant_id + "'");
  if (st != StoreStatus::kOk) return store_failure(st, "reading the tenant");
  if (!is_settled(row.status)) {
    return fail(409, "tenant '" + tenant_id + "' is " + to_string(row.status) +
                         "; its keys can be managed when it is active or disabled");
  }
  return Outcome{};
}

}  // namespace

Outcome SigningKeys::tenant_and_keys(PgSession& s, const std::string& tenant_id, TenantRow& tenant,
                                     std::vector<KcKey>& keys) {
  Outcome o = load_tenant(s, tenant_id, tenant);
  if (!o.ok()) return o;
  KcResponse r = kc_.realm_keys(tenant.realm_name, keys);
  if (!r.ok()) return kc_failure(r, "listing the keys of " + tenant.realm_name);
  return Outcome{};
}

Outcome SigningKeys::list(const std::string& tenant_id, std::vector<KcKey>& keys,
                          std::vector<KeyRetirement>& pending) {
  PgSession s = pg_.acquire();
  if (!s.healthy()) return fail(503, kPgDown);
  TenantRow tenant;
  std::vector<KcKey> all;
  Outcome o = tenant_and_keys(s, tenant_id, tenant, all);
  if (!o.ok()) return o;
  StoreStatus st = KeySchedule::pending(s, tenant_id, tenant.incarnation_id, pending);
  if (st != StoreStatus::kOk) return store_failure(st, "reading the key retirements");
  keys.clear();
  for (KcKey& k : all) {
    if (k.use == "SIG") keys.push_back(std::move(k));
  }
  // Signing order: the key that signs first.
  std::stable_sort(keys.begin(), keys.end(),
                   [](const KcKey& a, const KcKey& b) { return a.priority > b.priority; });
  return Outcome{};
}

Outcome SigningKeys::rotate(const std::string& tenant_id, RotatedKey& out) {
  PgSession s = pg_.acquire();
  if (!s.healthy()) return fail(503, kPgDown);
  TenantLock lock(s, tenant_id);
  if (!lock.held()) return fail(409, "tenant '" + tenant_id + "' is busy; retry");
  TenantRow tenant;
  std::vector<KcKey> keys;
  Outcome o = tenant_and_keys(s, tenant_id, tenant, keys);
  if (!o.ok()) return o;
  const std::string& realm = tenant.realm_name;
  // Above every active key (whatever its algorithm), so the new key is the
  // one Keycloak picks for RS256 whatever priorities earlier keys had.
  long long top = 0;
  out.previous_active.clear();
  for (const KcKey& k : keys) {
    if (k.status != "ACTIVE") continue;
    top = std::max(top, k.priority);
    if (is_rs256_signing(k)) out.previous_active.push_back(k.kid);
  }
  out.priority = top + 1;
  std::string parent;
  KcResponse r = kc_.realm_id(realm, parent);
  if (!r.ok()) return kc_failure(r, "reading the id of " + realm);
  const std::string name =
      "rsa-rotated-" + std::to_string(static_cast<long long>(std::time(nullptr)));
  r = kc_.add_rsa_key_provider(realm, parent, name, out.priority, out.component_id);
  if (!r.ok()) return kc_failure(r, "adding an RS256 key provider to " + realm);
  r = kc_.realm_keys(realm, keys);
  if (!r.ok()) {
    return kc_failure(
        r, "reading back the key added to " + realm + " (provider " + out.component_id + ")");
  }
  for (const KcKey& k : keys) {
    if (k.provider_id == out.component_id && is_rs256_signing(k)) out.kid = k.kid;
  }
  if (out.kid.empty()) {
    return fail(502, "Keycloak added key provider " + out.component_id + " to " + realm +
                         " but lists no RS256 key for it");
  }
  return Outcome{};
}

Outcome SigningKeys::retire(const std::string& tenant_id, const std::string& kid,
                            int64_t grace_seconds, const KeyRequester& who, KeyRetirement& out) {
  PgSession s = pg_.acquire();
  if (!s.healthy()) return fail(503, kPgDown);
  TenantLock lock(s, tenant_id);
  if (!lock.held()) return fail(409, "tenant '" + tenant_id + "' is busy; retry");
  TenantRow tenant;
  std::vector<KcKey> keys;
  Outcome o = tenant_and_keys(s, tenant_id, tenant, keys);
  if (!o.ok()) return o;
  const std::string& realm = tenant.realm_name;
  const KcKey* key = nullptr;
  for (const KcKey& k : keys) {
    if (k.kid == kid && is_rs256_signing(k)) key = &k;
  }
  if (key == nullptr) {
    return fail(404, "tenant '" + tenant_id + "' has no RS256 signing key '" + kid + "'");
  }
  std::vector<KeyRetirement> pending;
  StoreStatus st = KeySchedule::pending(s, tenant_id, tenant.incarnation_id, pending);
  if (st != StoreStatus::kOk) return store_failure(st, "reading the key retirements");
  for (const KeyRetirement& p : pending) {
    if (p.kid == kid) {
      return fail(409,
                  "key '" + kid + "' is already retired; its removal is due at " + p.remove_at);
    }
  }
  if (key->status == "ACTIVE" && other_active_signers(keys, key->provider_id) == 0) {
    return fail(409, "key '" + kid + "' is the only active RS256 signing key of tenant '" +
                         tenant_id + "'; rotate first (POST /tenants/" + tenant_id +
                         "/keys:rotate), then retire it");
  }

  // The schedule row and the passive switch commit together: a failed
  // switch leaves no schedule, a failed commit leaves a passive key that
  // retiring again schedules.
  if (!s.exec("BEGIN").ok) return fail(503, kPgDown);
  out = KeyRetirement{};
  out.tenant_id = tenant_id;
  out.incarnation_id = tenant.incarnation_id;
  out.realm_name = realm;
  out.kid = kid;
  out.component_id = key->provider_id;
  out.grace_seconds = grace_seconds;
  out.request_id = who.request_id;
  out.actor_id = who.actor_id;
  out.actor_realm = who.actor_realm;
  out.purpose = who.purpose;
  st = KeySchedule::insert(s, out);
  if (st != StoreStatus::kOk) {
    s.exec("ROLLBACK");
    if (st == StoreStatus::kConflict) return fail(409, "key '" + kid + "' is already retired");
    return store_failure(st, "scheduling the key's removal");
  }
  if (key->status == "ACTIVE") {
    KcResponse r = kc_.set_key_provider_active(realm, key->provider_id, false);
    if (!r.ok()) {
      s.exec("ROLLBACK");
      return kc_failure(r, "making key " + kid + " of " + realm + " passive");
    }
  }
  if (!s.exec("COMMIT").ok) {
    return fail(503,
                std::string(kPgDown) + ": the removal of key '" + kid +
                    "' was not scheduled (the key may be passive already); retire it again",
                "COMMIT of the key retirement failed");
  }
  return Outcome{};
}

bool SigningKeys::remove_one(PgSession& s, const KeyRetirement& row, bool& already_absent,
                             std::string& issuer, std::string& error) {
  issuer.clear();
  already_absent = false;
  TenantRow tenant;
  StoreStatus st = TenantStore::get(s, row.tenant_id, tenant);
  if (st == StoreStatus::kNotFound ||
      (st == StoreStatus::kOk && tenant.incarnation_id != row.incarnation_id)) {
    already_absent = true;  // the realm of that incarnation went with its tenant
    return true;
  }
  if (st != StoreStatus::kOk) {
    error = std::string(kPgDown) + " (reading the tenant)";
    return false;
  }
  std::vector<KcKey> keys;
  KcResponse r = kc_.realm_keys(row.realm_name, keys);
  if (r.error == KcError::kNotFound) {
    already_absent = true;
    return true;
  }
  if (!r.ok()) {
    error = std::string("listing the keys of ") + row.realm_name + ": " + kc_error_name(r.error);
    return false;
  }
  bool present = false, active = false;
  for (const KcKey& k : keys) {
    if (k.provider_id != row.component_id) continue;
    present = true;
    active |= is_rs256_signing(k) && k.status == "ACTIVE";
  }
  if (!present) {
    already_absent = true;  // deleted by hand meanwhile
    return true;
  }
  // Someone made it active again after the retirement: never delete the
  // realm's last signer.
  if (active && other_active_signers(keys, row.component_id) == 0) {
    error = "refused: key " + row.kid +
            " is active again and the realm's only active RS256 signing key; rotate first";
    return false;
  }
  r = kc_.delete_component(row.realm_name, row.component_id);
  if (r.error == KcError::kNotFound) {
    already_absent = true;
    return true;
  }
  if (!r.ok()) {
    error = "deleting key provider " + row.component_id + " of " + row.realm_name + ": " +
            kc_error_name(r.error);
    return false;
  }
  issuer = tenant.issuer_url;
  return true;
}

RemovalReport SigningKeys::remove_due(AuditLedger& ledger, int max_rows) {
  RemovalReport rep;
  std::vector<int64_t> tried;
  while (static_cast<int>(tried.size()) < max_rows) {
    PgSession s = pg_.acquire();
    if (!s.healthy() || !s.exec("BEGIN").ok) {
      rep.errors.push_back(kPgDown);
      break;
    }
    KeyRetirement row;
    StoreStatus st = KeySchedule::claim_due(s, tried, row);
    if (st == StoreStatus::kNotFound) {
      s.exec("COMMIT");
      break;
    }
    if (st != StoreStatus::kOk) {
      rep.errors.push_back(std::string(kPgDown) + " (claiming due key retirements)");
      break;  // the session, left in a failed transaction, is closed on release
    }
    tried.push_back(row.id);
    // Away from a retire or rotate running on the same tenant; busy: the
    // next pass takes it.
    TenantLock lock(s, row.tenant_id);
    if (!lock.held()) {
      s.exec("ROLLBACK");
      continue;
    }
    bool already_absent = false;
    std::string issuer, error;
    if (!remove_one(s, row, already_absent, issuer, error)) {
      KeySchedule::note_failure(s, row.id, error);
      s.exec("COMMIT");
      rep.failed++;
      rep.errors.push_back("tenant " + row.tenant_id + " key " + row.kid + ": " + error);
      continue;
    }
    // At least once: the ledger row is written before the schedule row is
    // settled; a crash in between repeats the pass (the provider is then
    // already absent) rather than losing the event.
    AuditEvent e;
    e.event_type = "KEY_REMOVED";
    e.request_id = row.request_id;
    e.actor_id = "realm-sidecar";
    e.tenant_id = row.tenant_id;
    e.action = "key.remove";
    e.purpose = row.purpose;
    e.reason = "grace period of " + std::to_string(row.grace_seconds) + " s ended";
    JsonPtr d(json_object());
    json_set(d.get(), "kid", row.kid);
    json_set(d.get(), "component_id", row.component_id);
    json_set(d.get(), "grace_seconds", static_cast<long long>(row.grace_seconds));
    json_set(d.get(), "retired_at", row.retired_at);
    json_set(d.get(), "removal_at", row.remove_at);
    json_set(d.get(), "retired_by", row.actor_id);
    json_set(d.get(), "retired_by_realm", row.actor_realm);
    json_set(d.get(), "already_absent", already_absent);
    e.details_json = json_text(d.get());
    if (!ledger.append(e)) {
      s.exec("ROLLBACK");
      rep.failed++;
      rep.errors.push_back("tenant " + row.tenant_id + " key " + row.kid +
                           ": the ledger is unavailable; removal recorded at the next pass");
      break;
    }
    if (KeySchedule::mark_removed(s, row.id) != StoreStatus::kOk || !s.exec("COMMIT").ok) {
      rep.errors.push_back("tenant " + row.tenant_id + " key " + row.kid +
                           ": removed, but not marked so; the next pass settles it");
      break;
    }
    rep.removed++;
    // The Redis copy of the JWKS may be up to its writer's TTL old: without
    // it, a worker's next refresh reads the realm's document from Keycloak.
    if (state_ != nullptr && !issuer.empty() && !state_->forget_jwks(issuer, error)) {
      rep.errors.push_back(
          "tenant " + row.tenant_id + " key " + row.kid +
          " removed; its realm's JWKS copy stays in Redis until it expires: " + error);
    }
  }
  return rep;
}

}  // namespace realm_sidecar
