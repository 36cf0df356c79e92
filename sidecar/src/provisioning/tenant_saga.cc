#include "provisioning/tenant_saga.h"

#include <openssl/crypto.h>

#include <cstdio>

#include "fault/crash_point.h"
#include "keycloak/realm_spec.h"
#include "metrics/sidecar_metrics.h"
#include "provisioning/realm_settings_upgrade.h"

namespace realm_sidecar {

namespace {

const char* const kPgDown = "PostgreSQL is unreachable";

// Context bound into the AES-GCM tag: a sealed secret only opens for the
// tenant and client it was stored for.
std::string secret_context(const std::string& slug) { return slug + "/" + kServicesClientId; }

Outcome from_kc(const KcResponse& r, const std::string& what) {
  int status = http_status_for(r.error);
  std::string detail =
      status == 503 ? "Keycloak is unreachable or refused the provisioning identity (" + what + ")"
                    : "Keycloak refused " + what + " (" + kc_error_name(r.error) + ")";
  return fail(status, detail, what + ": " + r.message);
}

Outcome from_store(StoreStatus st, const std::string& what) {
  if (st == StoreStatus::kConflict) return fail(409, what + ": conflict");
  if (st == StoreStatus::kNotFound) return fail(404, what + ": not found");
  return fail(503, kPgDown + std::string(" (") + what + ")", what);
}

void wipe(std::string& s) {
  if (!s.empty()) OPENSSL_cleanse(&s[0], s.size());
  s.clear();
}

}  // namespace

TenantSaga::TenantSaga(SagaConfig config, PgPool& pg, AdminApi& kc, const SecretBox& box,
                       const TenantStatePublisher& state)
    : config_(std::move(config)), pg_(pg), kc_(kc), box_(box), state_(state) {}

void TenantSaga::publish(const std::string& slug, const realm_auth::TenantRecordValue& record) {
  std::string error;
  if (!state_.publish(slug, record, error)) {
    std::fprintf(stderr, "realm-sidecar: tenant %s record \"%s\" not published: %s\n", slug.c_str(),
                 realm_auth::encode_tenant_record(record).c_str(), error.c_str());
  }
}

Outcome TenantSaga::finish(PgSession& s, const std::string& slug) {
  const std::string realm = realm_name_for(slug);
  std::string uuid, secret, sealed;
  KcResponse r = kc_.client_uuid(nullptr, realm, kServicesClientId, uuid);
  if (r.ok()) r = kc_.client_secret(nullptr, realm, uuid, secret);
  if (!r.ok()) return from_kc(r, "reading the tenant-services secret of " + realm);
  bool sealed_ok = box_.seal(secret, secret_context(slug), sealed);
  wipe(secret);
  if (!sealed_ok) return fail(500, "sealing the client secret failed", "AES-GCM seal failed");
  StoreStatus st = TenantStore::activate_with_secret(s, slug, kServicesClientId, sealed);
  if (st != StoreStatus::kOk) return from_store(st, "storing the tenant-services secret");
  return Outcome{};
}

Outcome TenantSaga::roll_back(PgSession& s, const std::string& slug, bool realm_may_exist,
                              bool bury) {
  if (realm_may_exist) {
    KcResponse d = kc_.delete_realm(realm_name_for(slug));
    if (!d.ok() && d.error != KcError::kNotFound) {
      // Keep the row: it is the only trace of a realm that may exist.
      return from_kc(d, "rolling back realm " + realm_name_for(slug));
    }
  }
  StoreStatus st = bury ? TenantStore::bury(s, slug) : TenantStore::remove(s, slug);
  return st == StoreStatus::kOk ? Outcome{} : from_store(st, "removing the tenant row");
}

void TenantSaga::abandon(PgSession& s, const std::string& slug, bool realm_may_exist,
                         Outcome& why) {
  Outcome rb = roll_back(s, slug, realm_may_exist);
  metrics::saga_rollback("tenant", rb.ok());
  if (rb.ok()) {
    why.detail += "; nothing was left behind";
    return;
  }
  // Mark the intent: reconcile deletes 'failed' tenants (realm, then row)
  // instead of finishing them. If even this write fails the row stays
  // 'provisioning' and reconcile decides by the realm's existence.
  TenantStore::set_state(s, slug, TenantStatus::kFailed);
  why.detail += "; cleanup is pending and will be finished by reconcile";
  why.log += " | rollback: " + rb.log;
}

Outcome TenantSaga::settle(PgSession& s, const TenantRow& row, ReconcileReport& rep) {
  const std::string& slug = row.tenant_id;
  KcResponse g;
  RealmPresence realm = RealmPresence::kUnknown;
  if (row.status == TenantStatus::kProvisioning) {
    g = kc_.get_realm(row.realm_name);
    realm = g.ok()                          ? RealmPresence::kPresent
            : g.error == KcError::kNotFound ? RealmPresence::kAbsent
                                            : RealmPresence::kUnknown;
  }
  Outcome o;
  switch (recovery_for(row.status, realm)) {
    case Recovery::kNone:
      break;
    case Recovery::kWait:
      o = from_kc(g, "looking up realm " + row.realm_name);
      break;
    case Recovery::kFinish: {
      o = finish(s, slug);
      if (!o.ok()) break;
      rep.finished++;
      rep.settled.emplace_back(slug,
                               "finished: the realm existed; its secret was stored and the "
                               "tenant activated");
      TenantRow done;
      if (TenantStore::get(s, slug, done) == StoreStatus::kOk) {
        std::string error;
        if (!state_.forget_jwks(done.issuer_url, error))
          std::fprintf(stderr, "realm-sidecar: %s\n", error.c_str());
        publish(slug, tenant_info(done));
      }
      break;
    }
    case Recovery::kDropRow:
      o = roll_back(s, slug, false);
      if (o.ok()) {
        rep.rolled_back++;
        rep.settled.emplace_back(slug,
                                 "rolled back: no realm had been created; the row was removed");
      }
      break;
    case Recovery::kRollBack:
      o = roll_back(s, slug, true);
      if (o.ok()) {
        rep.rolled_back++;
        rep.settled.emplace_back(slug, "rolled back: the realm and the row were removed");
      }
      break;
    case Recovery::kDelete:
      o = roll_back(s, slug, true, true);
      if (o.ok()) {
        rep.deleted++;
        publish(slug, tenant_info(row));
      }
      break;
  }
  return o;
}

Outcome TenantSaga::create(const std::string& slug, const std::string& display_name,
                           const std::vector<std::string>& departments, TenantRow& out,
                           const AttemptRef* attempt, bool dpop_bound_tokens) {
  PgSession s = pg_.acquire();
  if (!s.healthy()) return fail(503, std::string(kPgDown) + "; nothing was created", "acquire");
  TenantLock lock(s, slug);
  if (!lock.held()) {
    return fail(409, "tenant '" + slug + "' is being provisioned by another request", "", "slug");
  }
  // A deleted slug lives again only after its quarantine: by then every
  // nginx has read the deletion, so none still holds the old incarnation's
  // record (tenant_state.h) when the new one becomes usable.
  int64_t since = 0;
  StoreStatus q = TenantStore::since_buried(s, slug, since);
  if (q == StoreStatus::kUnavailable) {
    return fail(503, std::string(kPgDown) + "; nothing was created", "since_buried");
  }
  if (q == StoreStatus::kOk && since < config_.slug_quarantine_s) {
    Outcome o = fail(409,
                     "tenant '" + slug + "' was deleted " + std::to_string(since) +
                         " s ago; a deleted slug can be created again after " +
                         std::to_string(config_.slug_quarantine_s) + " s",
                     "", "slug");
    o.retry_after_s = static_cast<int>(config_.slug_quarantine_s - since);
    return o;
  }
  TenantRow row;
  row.tenant_id = slug;
  row.realm_name = realm_name_for(slug);
  row.issuer_url = issuer_for(config_.keycloak_url, slug);
  row.display_name = display_name;
  row.departments = departments;
  row.dpop_bound_tokens = dpop_bound_tokens;
  StoreStatus st = TenantStore::insert(s, row, attempt);
  if (st == StoreStatus::kConflict) {
    return fail(409, "tenant '" + slug + "' already exists", "", "slug");
  }
  if (st != StoreStatus::kOk)
    return fail(503, std::string(kPgDown) + "; nothing was created", "insert");
  metrics::saga_step("tenant:row_inserted");
  crash_after("tenant:row_inserted");

  // Step 1: the realm, complete, in one request.
  RealmSpecInput spec{slug,
                      display_name,
                      departments,
                      config_.console_redirect_uris,
                      config_.console_password_grant,
                      logout_url(slug),
                      dpop_bound_tokens};
  JsonPtr rep = realm_representation(spec);
  KcResponse r = kc_.create_realm(rep.get());
  if (!r.ok()) {
    Outcome o = from_kc(r, "creating realm " + row.realm_name);
    if (r.error == KcError::kConflict) {
      // A realm we did not create: leave it alone, drop our row.
      TenantStore::remove(s, slug);
      return fail(409, "realm " + row.realm_name + " already exists in Keycloak", o.log, "slug");
    }
    // A timeout or a 5xx may hide a realm that was created after all; a
    // refused connection cannot.
    bool maybe = r.error == KcError::kUnreachable && !r.not_sent;
    abandon(s, slug, maybe, o);
    return o;
  }
  metrics::saga_step("tenant:realm_created");
  crash_after("tenant:realm_created");
  // Step 2: its confidential client's secret, sealed, and the row active.
  Outcome o = finish(s, slug);
  if (!o.ok()) {
    abandon(s, slug, true, o);
    return o;
  }
  metrics::saga_step("tenant:active");
  crash_after("tenant:active");
  st = TenantStore::get(s, slug, out);
  if (st != StoreStatus::kOk) return from_store(st, "reading the tenant");
  // A fetch that raced an earlier deletion may have put that realm's keys
  // back into Redis: drop them before the new incarnation is announced.
  std::string error;
  if (!state_.forget_jwks(out.issuer_url, error)) {
    std::fprintf(stderr, "realm-sidecar: %s\n", error.c_str());
  }
  publish(slug, tenant_info(out));
  return Outcome{201, "", "", ""};
}

Outcome TenantSaga::set_enabled(const std::string& tenant_id, bool enabled, TenantRow& out) {
  PgSession s = pg_.acquire();
  if (!s.healthy()) return fail(503, kPgDown);
  TenantLock lock(s, tenant_id);
  if (!lock.held()) return fail(409, "tenant '" + tenant_id + "' is busy; retry");
  StoreStatus st = TenantStore::get(s, tenant_id, out);
  if (st != StoreStatus::kOk) return from_store(st, "tenant '" + tenant_id + "'");
  if (!is_settled(out.status)) {
    return fail(409, "tenant '" + tenant_id + "' is " + to_string(out.status) +
                         "; only active or disabled tenants change state");
  }
  KcResponse r = kc_.set_realm_enabled(out.realm_name, enabled);
  if (!r.ok()) return from_kc(r, "updating realm " + out.realm_name);
  st = TenantStore::set_state(s, tenant_id,
                              enabled ? TenantStatus::kActive : TenantStatus::kDisabled);
  if (st != StoreStatus::kOk) {
    // Put Keycloak back so that the two stores agree.
    kc_.set_realm_enabled(out.realm_name, !enabled);
    return from_store(st, "recording the tenant state");
  }
  st = TenantStore::get(s, tenant_id, out);
  if (st != StoreStatus::kOk) return from_store(st, "reading the tenant");
  publish(tenant_id, tenant_info(out));
  return Outcome{};
}

Outcome TenantSaga::remove(const std::string& tenant_id) {
  PgSession s = pg_.acquire();
  if (!s.healthy()) return fail(503, kPgDown);
  TenantLock lock(s, tenant_id);
  if (!lock.held()) return fail(409, "tenant '" + tenant_id + "' is busy; retry");
  TenantRow row;
  StoreStatus st = TenantStore::get(s, tenant_id, row);
  if (st != StoreStatus::kOk) return from_store(st, "tenant '" + tenant_id + "'");
  if (row.status == TenantStatus::kProvisioning) {
    return fail(409, "tenant '" + tenant_id + "' is still being provisioned");
  }
  st = TenantStore::set_state(s, tenant_id, TenantStatus::kDeleting);
  if (st != StoreStatus::kOk) return from_store(st, "marking the tenant deleting");
  // Refuse its tokens (as deleted) right away; the realm may take a moment
  // to go.
  row.status = TenantStatus::kDeleting;
  const realm_auth::TenantRecordValue gone = tenant_info(row);
  publish(tenant_id, gone);
  Outcome o = roll_back(s, tenant_id, true, true);
  if (!o.ok()) {
    o.detail += "; the tenant is marked deleting and reconcile will finish the deletion";
    return o;
  }
  publish(tenant_id, gone);  // again: repairs a lost first write
  std::string error;
  if (!state_.forget_jwks(row.issuer_url, error)) {
    std::fprintf(stderr, "realm-sidecar: %s\n", error.c_str());
  }
  return Outcome{204, "", "", ""};
}

Outcome TenantSaga::rotate_services_secret(const std::string& tenant_id, TenantRow& out) {
  PgSession s = pg_.acquire();
  if (!s.healthy()) return fail(503, kPgDown);
  TenantLock lock(s, tenant_id);
  if (!lock.held()) return fail(409, "tenant '" + tenant_id + "' is busy; retry");
  StoreStatus st = TenantStore::get(s, tenant_id, out);
  if (st != StoreStatus::kOk) return from_store(st, "tenant '" + tenant_id + "'");
  if (!is_settled(out.status)) {
    return fail(409, "tenant '" + tenant_id + "' is " + to_string(out.status));
  }
  std::string uuid, secret, sealed;
  KcResponse r = kc_.client_uuid(nullptr, out.realm_name, kServicesClientId, uuid);
  if (r.ok()) r = kc_.regenerate_client_secret(nullptr, out.realm_name, uuid, secret);
  if (!r.ok()) return from_kc(r, "regenerating the tenant-services secret");
  bool sealed_ok = box_.seal(secret, secret_context(tenant_id), sealed);
  wipe(secret);
  if (!sealed_ok) return fail(500, "sealing the client secret failed");
  st = TenantStore::put_secret(s, tenant_id, kServicesClientId, sealed);
  if (st != StoreStatus::kOk) {
    return fail(503, "the secret was rotated in Keycloak but could not be stored; rotate again",
                "put_secret");
  }
  kc_.forget_token(out.realm_name, kServicesClientId);
  return Outcome{};
}

Outcome TenantSaga::services_credentials(const std::string& tenant_id, TenantRow& tenant,
                                         ClientCredentials& out) {
  PgSession s = pg_.acquire();
  if (!s.healthy()) return fail(503, kPgDown);
  StoreStatus st = TenantStore::get(s, tenant_id, tenant);
  if (st == StoreStatus::kNotFound) return fail(404, "no tenant '" + tenant_id + "'");
  if (st != StoreStatus::kOk) return from_store(st, "reading the tenant");
  if (tenant.status != TenantStatus::kActive) {
    return fail(409, "tenant '" + tenant_id + "' is " + to_string(tenant.status) +
                         "; users are managed in active tenants only");
  }
  std::string sealed;
  st = TenantStore::get_secret(s, tenant_id, kServicesClientId, sealed);
  if (st != StoreStatus::kOk) return from_store(st, "reading the tenant-services secret");
  out.realm = tenant.realm_name;
  out.client_id = kServicesClientId;
  if (!box_.open(sealed, secret_context(tenant_id), out.secret)) {
    return fail(500, "the stored tenant-services secret cannot be opened (wrong SECRET_KEY_FILE?)");
  }
  return Outcome{};
}

Outcome TenantSaga::upgrade_realm(const TenantRow& row, bool& changed) {
  changed = false;
  std::string uuid;
  KcResponse r = kc_.client_uuid(nullptr, row.realm_name, kConsoleClientId, uuid);
  if (!r.ok()) return from_kc(r, "looking up admin-console of " + row.realm_name);
  const std::string path = AdminClient::segment(row.realm_name) + "/clients" +
                           AdminClient::segment(uuid) + "/protocol-mappers/models";
  r = kc_.call(nullptr, "GET", path);
  if (!r.ok()) return from_kc(r, "reading the admin-console mappers of " + row.realm_name);
  JsonPtr list = json_parse(r.body);
  size_t i;
  json_t* m;
  bool has_audience = false;
  json_array_foreach(list.get(), i, m) {
    if (json_member_string(m, "name") == kSidecarAudienceMapperName) has_audience = true;
  }
  if (!has_audience) {
    JsonPtr mapper = sidecar_audience_mapper();
    r = kc_.call(nullptr, "POST", path, mapper.get());
    if (!r.ok()) return from_kc(r, "adding the realm-sidecar audience to " + row.realm_name);
    changed = true;
  }
  bool logout_changed = false;
  Outcome o = upgrade_console_logout(row, uuid, logout_changed);
  changed = changed || logout_changed;
  return o;
}

std::string TenantSaga::logout_url(const std::string& slug) const {
  return config_.backchannel_logout_base.empty()
             ? std::string()
             : backchannel_logout_url(config_.backchannel_logout_base, slug);
}

Outcome TenantSaga::upgrade_console_logout(const TenantRow& row, const std::string& console_uuid,
                                           bool& changed) {
  changed = false;
  const std::string url = logout_url(row.tenant_id);
  if (url.empty()) return Outcome{};
  const std::string path =
      AdminClient::segment(row.realm_name) + "/clients" + AdminClient::segment(console_uuid);
  KcResponse r = kc_.call(nullptr, "GET", path);
  if (!r.ok()) return from_kc(r, "reading admin-console of " + row.realm_name);
  JsonPtr client = json_parse(r.body);
  if (!json_is_object(client.get())) {
    return fail(502, "Keycloak answered admin-console of " + row.realm_name + " with no object");
  }
  json_t* attrs = json_object_get(client.get(), "attributes");
  if (!json_is_object(attrs)) {
    json_object_set_new(client.get(), "attributes", json_object());
    attrs = json_object_get(client.get(), "attributes");
  }
  bool differs = !json_is_false(json_object_get(client.get(), "frontchannelLogout"));
  for (const auto& kv : console_logout_attributes(url)) {
    differs = differs || json_member_string(attrs, kv.first.c_str()) != kv.second;
    json_set(attrs, kv.first.c_str(), kv.second);
  }
  if (!differs) return Outcome{};
  json_set(client.get(), "frontchannelLogout", false);
  // The whole representation back, changed only in these members.
  r = kc_.call(nullptr, "PUT", path, client.get());
  if (!r.ok()) return from_kc(r, "setting back-channel logout on " + row.realm_name);
  changed = true;
  return Outcome{};
}

ReconcileReport TenantSaga::reconcile() {
  ReconcileReport rep;
  PgSession s = pg_.acquire();
  if (!s.healthy()) {
    rep.errors.push_back(kPgDown);
    return rep;
  }
  std::vector<TenantRow> rows;
  if (TenantStore::list(s, {}, rows) != StoreStatus::kOk) {
    rep.errors.push_back("listing tenants failed");
    return rep;
  }
  for (const TenantRow& listed : rows) {
    const std::string& slug = listed.tenant_id;
    if (is_settled(listed.status)) {
      // Under the tenant's lock and from the row read under it: the list is
      // a snapshot, and a PATCH, DELETE or key change since (each holds the
      // lock while it changes Keycloak, then the row, then Redis) must not
      // be undone by publishing or "repairing" from the old row. A tenant
      // whose saga is running is left to it (the next pass sees it settled).
      TenantLock lock(s, slug);
      if (!lock.held()) {
        rep.skipped++;
        continue;
      }
      TenantRow row;
      if (TenantStore::get(s, slug, row) != StoreStatus::kOk || !is_settled(row.status)) {
        continue;
      }
      std::string error;
      if (state_.enabled() && state_.publish(slug, tenant_info(row), error)) rep.published++;
      KcResponse g = kc_.get_realm(row.realm_name);
      if (g.error == KcError::kNotFound) {
        // Not recreated: a new realm would have none of its users or keys.
        rep.unrepaired.push_back(slug + ": row " + to_string(row.status) + " without realm " +
                                 row.realm_name +
                                 ": not recreated (its users and keys are lost); delete the "
                                 "tenant or restore the realm");
        continue;
      }
      bool changed = false;
      Outcome up = upgrade_realm(row, changed);
      if (changed) rep.upgraded++;
      if (!up.ok())
        rep.errors.push_back(slug + ": " + up.detail + (up.log.empty() ? "" : " [" + up.log + "]"));
      // Realm-level settings (password policy, brute force), apart from the
      // client-level upgrade above.
      std::vector<std::string> drift;
      Outcome sec = upgrade_realm_settings(kc_, row.realm_name, changed, drift);
      if (changed) {
        rep.upgraded++;
        std::string keys;
        for (const auto& k : drift) keys += (keys.empty() ? "" : ",") + k;
        std::fprintf(stderr, "realm-sidecar: reconcile: %s security settings restored (%s)\n",
                     row.realm_name.c_str(), keys.c_str());
      }
      if (!sec.ok())
        rep.errors.push_back(slug + ": " + sec.detail +
                             (sec.log.empty() ? "" : " [" + sec.log + "]"));
      // Everything else the realm spec and the row say (tenant_drift.cc).
      repair_drift(row, rep);
      continue;
    }
    const TenantRow& row = listed;
    if (!row.status_known) {
      rep.unrepaired.push_back(slug + ": status unknown to this build: left alone");
      continue;
    }
    TenantLock lock(s, slug);
    if (!lock.held()) {
      rep.skipped++;  // a live saga owns it
      continue;
    }
    TenantRow now;
    // Re-read under the lock: the owner may have just finished.
    if (TenantStore::get(s, slug, now) != StoreStatus::kOk || now.status != row.status) continue;
    Outcome o = settle(s, now, rep);
    if (!o.ok()) {
      rep.skipped++;
      rep.errors.push_back(slug + ": " + o.detail + (o.log.empty() ? "" : " [" + o.log + "]"));
    }
  }
  // A realm no row claims may not be ours to delete: reported, left alone.
  std::vector<std::string> orphans;
  Outcome o = orphan_realms(s, orphans);
  if (!o.ok()) rep.errors.push_back(o.detail + " [" + o.log + "]");
  for (const auto& realm : orphans) {
    rep.unrepaired.push_back(realm +
                             ": realm without a tenant row: left alone (not known to be ours); "
                             "delete it in Keycloak if it is not wanted");
  }
  return rep;
}

}  // namespace realm_sidecar
