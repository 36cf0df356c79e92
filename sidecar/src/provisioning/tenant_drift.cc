// TenantSaga's drift check (`reconcile --check`) and the repairs reconcile
// makes from it. PostgreSQL is the source of truth for which tenants exist
// and whether they are enabled; the realm spec is the source of truth for
// what a tenant realm contains.
#include <set>

#include "keycloak/realm_spec.h"
#include "provisioning/realm_settings_upgrade.h"
#include "provisioning/tenant_saga.h"

namespace realm_sidecar {

namespace {

bool settled(const TenantRow& row) { return is_settled(row.status); }

std::string kc_why(const KcResponse& r) {
  return std::string(kc_error_name(r.error)) + (r.message.empty() ? "" : ": " + r.message);
}

const json_t* find_by(const json_t* array, const char* key, const std::string& value) {
  size_t i;
  json_t* e;
  json_array_foreach(const_cast<json_t*>(array), i, e) {
    if (json_member_string(e, key) == value) return e;
  }
  return nullptr;
}

}  // namespace

JsonPtr TenantSaga::spec_for(const TenantRow& row) const {
  RealmSpecInput in{row.tenant_id,
                    row.display_name,
                    row.departments,
                    config_.console_redirect_uris,
                    config_.console_password_grant,
                    logout_url(row.tenant_id),
                    row.dpop_bound_tokens};
  return realm_representation(in);
}

Outcome TenantSaga::drift_of(const TenantRow& row, std::vector<Drift>& out, bool& gone,
                             JsonPtr& clients) {
  out.clear();
  gone = false;
  KcResponse r = kc_.get_realm(row.realm_name);
  if (r.error == KcError::kNotFound) {
    gone = true;
    return Outcome{};
  }
  if (!r.ok()) return fail(503, "reading realm " + row.realm_name + " failed", kc_why(r));
  JsonPtr realm = json_parse(r.body);
  const std::string base = AdminClient::segment(row.realm_name);
  KcResponse roles = kc_.call(nullptr, "GET", base + "/roles");
  if (!roles.ok()) return fail(503, "reading the roles of " + row.realm_name, kc_why(roles));
  KcResponse cl = kc_.call(nullptr, "GET", base + "/clients");
  if (!cl.ok()) return fail(503, "reading the clients of " + row.realm_name, kc_why(cl));
  JsonPtr role_list = json_parse(roles.body);
  clients = json_parse(cl.body);
  JsonPtr want = spec_for(row);
  out = realm_drift(want.get(), row.status == TenantStatus::kActive, realm.get(), role_list.get(),
                    clients.get());
  // Password policy and brute-force detection (realm_settings_upgrade.h).
  JsonPtr security = realm_security_settings();
  for (const auto& key : realm_settings_drift(realm.get(), security.get())) {
    out.push_back({DriftKind::kRealmSetting, "", key, "differs from the spec"});
  }
  return Outcome{};
}

Outcome TenantSaga::orphan_realms(PgSession& s, std::vector<std::string>& out) {
  out.clear();
  KcResponse r = kc_.call(nullptr, "GET", "?briefRepresentation=true");
  // The provisioner sees only the realms it administers (those it created);
  // Keycloak answers 403, not [], when that is none.
  if (r.error == KcError::kForbidden) return Outcome{};
  if (!r.ok()) return fail(503, "listing realms failed", kc_why(r));
  // Rows read after the realms, so a tenant created meanwhile (its row is
  // inserted before its realm) is claimed.
  std::vector<TenantRow> rows;
  if (TenantStore::list(s, {}, rows) != StoreStatus::kOk)
    return fail(503, "listing tenants failed", "after listing realms");
  std::set<std::string> claimed;
  for (const auto& row : rows) claimed.insert(row.realm_name);
  JsonPtr list = json_parse(r.body);
  size_t i;
  json_t* e;
  json_array_foreach(list.get(), i, e) {
    const std::string name = json_member_string(e, "realm");
    if (name.rfind("tenant-", 0) != 0 || claimed.count(name) != 0) continue;
    // A tenant deleted meanwhile loses its realm before its row: a realm
    // that still exists now, whose row is still absent after that, is
    // nobody's.
    if (kc_.get_realm(name).error == KcError::kNotFound) continue;
    TenantRow row;
    if (TenantStore::get(s, name.substr(7), row) == StoreStatus::kNotFound) out.push_back(name);
  }
  return Outcome{};
}

std::vector<std::string> TenantSaga::check_drift(std::vector<std::string>& errors) {
  std::vector<std::string> found;
  PgSession s = pg_.acquire();
  if (!s.healthy()) {
    errors.emplace_back("PostgreSQL is unreachable");
    return found;
  }
  std::vector<TenantRow> rows;
  if (TenantStore::list(s, {}, rows) != StoreStatus::kOk) {
    errors.emplace_back("listing tenants failed");
    return found;
  }
  std::vector<std::string> orphans;
  Outcome o = orphan_realms(s, orphans);
  if (!o.ok()) errors.push_back(o.detail + " [" + o.log + "]");
  for (const auto& realm : orphans) found.push_back(realm + ": realm without a tenant row");
  for (const TenantRow& row : rows) {
    if (!settled(row)) {
      found.push_back(row.tenant_id + ": row " + to_string(row.status) +
                      ", unfinished: reconcile settles it");
      continue;
    }
    std::vector<Drift> drift;
    bool gone = false;
    JsonPtr clients;
    o = drift_of(row, drift, gone, clients);
    if (!o.ok()) {
      errors.push_back(row.tenant_id + ": " + o.detail + " [" + o.log + "]");
      continue;
    }
    if (gone)
      found.push_back(row.tenant_id + ": row " + to_string(row.status) + " without realm " +
                      row.realm_name);
    for (const Drift& d : drift) found.push_back(row.tenant_id + ": " + describe(d));
  }
  return found;
}

Outcome TenantSaga::repair(const TenantRow& row, const json_t* want, const json_t* clients,
                           const Drift& d) {
  const std::string base = AdminClient::segment(row.realm_name);
  KcResponse r;
  switch (d.kind) {
    case DriftKind::kEnabled:
      r = kc_.set_realm_enabled(row.realm_name, row.status == TenantStatus::kActive);
      break;
    case DriftKind::kRoleMissing: {
      const json_t* role =
          find_by(json_object_get(json_object_get(want, "roles"), "realm"), "name", d.name);
      r = kc_.call(nullptr, "POST", base + "/roles", role);
      break;
    }
    case DriftKind::kMapperMissing:
    case DriftKind::kMapperDiffers: {
      const json_t* have = find_by(clients, "clientId", d.client);
      const json_t* spec_client = find_by(json_object_get(want, "clients"), "clientId", d.client);
      const json_t* mapper =
          find_by(json_object_get(spec_client, "protocolMappers"), "name", d.name);
      const std::string models = base + "/clients" +
                                 AdminClient::segment(json_member_string(have, "id")) +
                                 "/protocol-mappers/models";
      if (d.kind == DriftKind::kMapperDiffers) {
        // Replaced whole: another type cannot be changed in place.
        const json_t* old = find_by(json_object_get(have, "protocolMappers"), "name", d.name);
        r = kc_.call(nullptr, "DELETE",
                     models + AdminClient::segment(json_member_string(old, "id")));
        if (!r.ok() && r.error != KcError::kNotFound) break;
      }
      r = kc_.call(nullptr, "POST", models, mapper);
      // A mapper that differs in several config keys is one replacement.
      if (r.error == KcError::kConflict) r.error = KcError::kOk;
      break;
    }
    case DriftKind::kClientField: {
      const json_t* have = find_by(clients, "clientId", d.client);
      const json_t* spec_client = find_by(json_object_get(want, "clients"), "clientId", d.client);
      const std::string path =
          base + "/clients" + AdminClient::segment(json_member_string(have, "id"));
      // Read fresh (an earlier repair may have changed it), set the member,
      // write the representation back without its mappers.
      r = kc_.call(nullptr, "GET", path);
      if (!r.ok()) break;
      JsonPtr client = json_parse(r.body);
      if (!json_is_object(client.get())) return fail(502, "client " + d.client + " unreadable");
      json_object_del(client.get(), "protocolMappers");
      if (d.name.rfind("attributes.", 0) == 0) {
        const std::string key = d.name.substr(11);
        if (!json_is_object(json_object_get(client.get(), "attributes")))
          json_object_set_new(client.get(), "attributes", json_object());
        json_object_set(json_object_get(client.get(), "attributes"), key.c_str(),
                        json_object_get(json_object_get(spec_client, "attributes"), key.c_str()));
      } else {
        json_object_set(client.get(), d.name.c_str(), json_object_get(spec_client, d.name.c_str()));
      }
      r = kc_.call(nullptr, "PUT", path, client.get());
      break;
    }
    case DriftKind::kRealmSetting:
      return Outcome{};  // upgrade_realm_settings() put these back already
    case DriftKind::kClientMissing:
      return fail(409, "cannot repair");
  }
  if (!r.ok()) return fail(503, "repairing " + describe(d) + " failed", kc_why(r));
  return Outcome{};
}

void TenantSaga::repair_drift(const TenantRow& row, ReconcileReport& rep) {
  std::vector<Drift> drift;
  bool gone = false;
  JsonPtr clients;
  Outcome o = drift_of(row, drift, gone, clients);
  if (!o.ok()) {
    rep.errors.push_back(row.tenant_id + ": " + o.detail + " [" + o.log + "]");
    return;
  }
  if (gone) {
    rep.unrepaired.push_back(row.tenant_id + ": row " + to_string(row.status) + " without realm " +
                             row.realm_name +
                             ": not recreated (its users and keys are lost); delete the tenant "
                             "or restore the realm");
    return;
  }
  JsonPtr want = spec_for(row);
  bool changed = false;
  for (const Drift& d : drift) {
    if (!drift_repairable(d)) {
      rep.unrepaired.push_back(row.tenant_id + ": " + describe(d) +
                               ": not recreated in place (its secret and service account belong "
                               "to the tenant's creation); delete and create the tenant again");
      continue;
    }
    if (d.kind == DriftKind::kRealmSetting) continue;
    Outcome r = repair(row, want.get(), clients.get(), d);
    if (!r.ok()) {
      rep.errors.push_back(row.tenant_id + ": " + r.detail + " [" + r.log + "]");
      continue;
    }
    std::fprintf(stderr, "realm-sidecar: reconcile: %s: repaired %s\n", row.tenant_id.c_str(),
                 describe(d).c_str());
    changed = true;
  }
  if (changed) rep.upgraded++;
}

}  // namespace realm_sidecar
