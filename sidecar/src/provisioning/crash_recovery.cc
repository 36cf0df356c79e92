#include "provisioning/crash_recovery.h"

#include <cstdlib>
#include <cstring>

#include "http_fetch.h"  // realm_auth::url_escape
#include "keycloak/realm_spec.h"
#include "metrics/sidecar_metrics.h"
#include "util/json_helpers.h"

namespace realm_sidecar {

AttemptEnd tenant_attempt_end(bool row_found, TenantStatus status, bool buried) {
  if (!row_found) return buried ? AttemptEnd::kCreated : AttemptEnd::kNotCreated;
  switch (status) {
    case TenantStatus::kActive:
    case TenantStatus::kDisabled:
    case TenantStatus::kDeleting:
      return AttemptEnd::kCreated;  // it lived; later events tell the rest
    case TenantStatus::kProvisioning:
    case TenantStatus::kFailed:
      return AttemptEnd::kUnsettled;  // the saga's recovery has not ended it yet
  }
  return AttemptEnd::kUnsettled;
}

bool keep_user(const std::string& recorded) { return recorded == "USER_CREATED"; }

namespace {

std::string details(std::initializer_list<std::pair<const char*, std::string>> members) {
  JsonPtr d(json_object());
  json_set(d.get(), "recovered", true);
  for (const auto& m : members) json_set(d.get(), m.first, m.second);
  return json_text(d.get());
}

// What the tenant saga's recovery did with `slug` in this pass ("" when it
// was settled earlier).
std::string settled_how(const ReconcileReport& rep, const std::string& slug) {
  for (const auto& s : rep.settled)
    if (s.first == slug) return s.second;
  return "";
}

}  // namespace

bool CrashRecovery::record(const Attempt& a, const char* event_type, const std::string& reason,
                           const std::string& details_json) {
  AuditEvent e;
  e.event_type = event_type;
  e.request_id = a.ref.request_id;
  e.actor_id = a.ref.actor_id;
  e.actor_realm = a.ref.actor_realm;
  e.tenant_id = a.tenant_id;
  e.action = a.kind == AttemptKind::kTenant ? "tenant.create" : "user.create";
  e.purpose = a.ref.purpose;
  e.reason = reason;
  e.details_json = details_json;
  metrics::crash_recovery(
      a.kind == AttemptKind::kTenant ? "tenant" : "user",
      std::strcmp(event_type, "PROVISIONING_FAILED") == 0 ? "failed" : "created");
  return ledger_.append(e);
}

Outcome CrashRecovery::settle_tenant(PgSession& s, const Attempt& a, const std::string& recorded,
                                     bool& done) {
  done = false;
  bool found = false, buried = false;
  std::string status_text;
  if (AttemptStore::incarnation_state(s, a.tenant_id, a.incarnation_id, found, status_text,
                                      buried) != StoreStatus::kOk)
    return fail(503, "PostgreSQL is unreachable (tenant of attempt " + a.ref.request_id + ")");
  TenantStatus status = TenantStatus::kFailed;
  if (found && !parse_tenant_status(status_text, status)) {
    return fail(500, "tenant " + a.tenant_id + " has status '" + status_text + "'");
  }
  const AttemptEnd end = tenant_attempt_end(found, status, buried);
  if (end == AttemptEnd::kUnsettled) return Outcome{};  // the next pass
  done = true;
  if (!recorded.empty()) return Outcome{};
  const std::string realm = realm_name_for(a.tenant_id);
  const std::string how = settled_how(*rep_, a.tenant_id);
  if (end == AttemptEnd::kCreated) {
    if (!record(a, "TENANT_CREATED", "",
                details({{"realm", realm},
                         {"status", found ? status_text : "deleted"},
                         {"recovery", how.empty() ? "the saga had finished" : how}})))
      done = false;
  } else {
    if (!record(a, "PROVISIONING_FAILED",
                "the sidecar stopped during provisioning; recovery: " +
                    (how.empty() ? std::string("no realm, no row") : how),
                details({{"realm", realm}, {"recovery", how}})))
      done = false;
  }
  return done ? Outcome{} : fail(503, "the audit ledger is unavailable");
}

Outcome CrashRecovery::remove_user(const Attempt& a, bool& removed) {
  removed = false;
  const std::string realm = AdminClient::segment(realm_name_for(a.tenant_id));
  std::string id = a.user_id;
  if (id.empty()) {
    // Step started: the POST may have made the user before the crash. Only
    // a user Keycloak created after the attempt began can be ours.
    KcResponse r = kc_.call(nullptr, "GET",
                            realm + "/users?exact=true&briefRepresentation=false&username=" +
                                realm_auth::url_escape(a.username));
    if (r.error == KcError::kNotFound) return Outcome{};  // the realm is gone: so is the user
    if (!r.ok()) return fail(503, "looking up user " + a.username, r.message);
    JsonPtr list = json_parse(r.body);
    size_t i;
    json_t* u;
    json_array_foreach(list.get(), i, u) {
      json_t* created = json_object_get(u, "createdTimestamp");
      if (json_member_string(u, "username") == a.username && json_is_integer(created) &&
          json_integer_value(created) >= a.started_ms)
        id = json_member_string(u, "id");
    }
    if (id.empty()) return Outcome{};  // never made
  }
  KcResponse d = kc_.call(nullptr, "DELETE", realm + "/users" + AdminClient::segment(id));
  if (d.ok()) removed = true;
  if (d.ok() || d.error == KcError::kNotFound) return Outcome{};
  return fail(503, "deleting user " + id + " of " + a.tenant_id, d.message);
}

Outcome CrashRecovery::settle_user(PgSession&, const Attempt& a, const std::string& recorded) {
  if (keep_user(recorded)) return Outcome{};
  bool removed = false;
  Outcome o = remove_user(a, removed);
  if (!o.ok()) return o;
  if (!recorded.empty()) return Outcome{};
  const std::string reason =
      std::string("the sidecar stopped during user creation (last recorded step ") +
      to_string(a.step) + "); recovery " +
      (removed ? "deleted the half-made user" : "found no user to delete") +
      ": its one-time password reached nobody";
  if (!record(a, "PROVISIONING_FAILED", reason,
              details({{"username", a.username},
                       {"user_id", a.user_id},
                       {"last_step", to_string(a.step)}})))
    return fail(503, "the audit ledger is unavailable");
  return Outcome{};
}

std::vector<std::string> CrashRecovery::unsettled(std::vector<std::string>& errors) {
  std::vector<std::string> found;
  PgSession s = pg_.acquire();
  std::vector<Attempt> attempts;
  if (!s.healthy() || AttemptStore::list(s, attempts) != StoreStatus::kOk) {
    errors.emplace_back("listing provisioning attempts failed");
    return found;
  }
  for (const Attempt& a : attempts) {
    if (!OwnerLease::owner_gone(s, a.ref.owner)) continue;
    found.push_back(
        a.tenant_id + ": " +
        (a.kind == AttemptKind::kTenant ? std::string("tenant") : "user '" + a.username + "'") +
        " creation " + a.ref.request_id +
        " interrupted by a crash, not yet settled: reconcile settles it");
  }
  return found;
}

void CrashRecovery::run(ReconcileReport& rep) {
  rep_ = &rep;
  PgSession s = pg_.acquire();
  if (!s.healthy()) {
    rep.errors.push_back("recovery: PostgreSQL is unreachable");
    return;
  }
  std::vector<Attempt> attempts;
  if (AttemptStore::list(s, attempts) != StoreStatus::kOk) {
    rep.errors.push_back("recovery: listing provisioning attempts failed");
    return;
  }
  for (const Attempt& a : attempts) {
    if (!OwnerLease::owner_gone(s, a.ref.owner)) continue;  // its sidecar is still at it
    std::string recorded;
    if (AttemptStore::recorded_outcome(s, a.ref.request_id, recorded) != StoreStatus::kOk) {
      rep.errors.push_back("recovery: reading the ledger failed");
      return;
    }
    bool done = true;
    Outcome o = a.kind == AttemptKind::kTenant ? settle_tenant(s, a, recorded, done)
                                               : settle_user(s, a, recorded);
    if (!o.ok()) {
      rep.errors.push_back("recovery: " + a.ref.request_id + " (" + a.tenant_id + "): " + o.detail +
                           (o.log.empty() ? "" : " [" + o.log + "]"));
      continue;
    }
    if (!done) continue;
    if (AttemptStore::finish(s, a.ref.request_id) == StoreStatus::kOk) rep.recovered++;
  }
}

}  // namespace realm_sidecar
