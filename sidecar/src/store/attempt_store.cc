#include "store/attempt_store.h"

#include <cstdlib>

namespace realm_sidecar {

const char* to_string(UserStep s) {
  switch (s) {
    case UserStep::kStarted:
      return "started";
    case UserStep::kUserCreated:
      return "user_created";
    case UserStep::kUnknown:
      break;
  }
  return "unknown";
}

UserStep parse_user_step(const std::string& text) {
  if (text == "started") return UserStep::kStarted;
  if (text == "user_created") return UserStep::kUserCreated;
  return UserStep::kUnknown;
}

StoreStatus AttemptStore::begin_user(PgSession& s, const AttemptRef& ref,
                                     const std::string& tenant_id, const std::string& username) {
  PgResult r = s.exec(
      "INSERT INTO provisioning_attempts (request_id, kind, tenant_id, username, step, owner,"
      " actor_id, actor_realm, purpose) VALUES ($1, 'user', $2, $3, 'started', $4::int, $5, $6, "
      "$7)",
      {ref.request_id, tenant_id, username, std::to_string(ref.owner), ref.actor_id,
       ref.actor_realm, ref.purpose});
  return store_status(r);
}

StoreStatus AttemptStore::user_created(PgSession& s, const std::string& request_id,
                                       const std::string& user_id) {
  PgResult r = s.exec(
      "UPDATE provisioning_attempts SET step = 'user_created', user_id = $2, updated_at = now()"
      " WHERE request_id = $1",
      {request_id, user_id});
  return store_status(r);
}

StoreStatus AttemptStore::finish(PgSession& s, const std::string& request_id) {
  PgResult r = s.exec("DELETE FROM provisioning_attempts WHERE request_id = $1", {request_id});
  return store_status(r);
}

StoreStatus AttemptStore::list(PgSession& s, std::vector<Attempt>& out) {
  PgResult r = s.exec(
      "SELECT request_id, kind, tenant_id, incarnation_id, username, user_id, step, owner,"
      " actor_id, actor_realm, purpose, floor(extract(epoch FROM started_at) * 1000)::bigint"
      " FROM provisioning_attempts ORDER BY started_at");
  if (!r.ok) return store_status(r);
  out.clear();
  for (int i = 0; i < r.rows(); i++) {
    Attempt a;
    a.ref.request_id = r.get(i, 0);
    a.kind = r.get(i, 1) == "user" ? AttemptKind::kUser : AttemptKind::kTenant;
    a.tenant_id = r.get(i, 2);
    a.incarnation_id = r.get(i, 3);
    a.username = r.get(i, 4);
    a.user_id = r.get(i, 5);
    a.step = parse_user_step(r.get(i, 6));
    a.ref.owner = static_cast<int32_t>(std::strtol(r.get(i, 7).c_str(), nullptr, 10));
    a.ref.actor_id = r.get(i, 8);
    a.ref.actor_realm = r.get(i, 9);
    a.ref.purpose = r.get(i, 10);
    a.started_ms = std::strtoll(r.get(i, 11).c_str(), nullptr, 10);
    out.push_back(std::move(a));
  }
  return StoreStatus::kOk;
}

StoreStatus AttemptStore::incarnation_state(PgSession& s, const std::string& tenant_id,
                                            const std::string& incarnation_id, bool& found,
                                            std::string& status, bool& buried) {
  PgResult r = s.exec(
      "SELECT (SELECT status FROM tenants WHERE tenant_id = $1 AND incarnation_id::text = $2),"
      " EXISTS (SELECT FROM tenant_tombstones WHERE incarnation_id::text = $2)",
      {tenant_id, incarnation_id});
  if (!r.ok) return store_status(r);
  found = !r.is_null(0, 0);
  status = r.get(0, 0);
  buried = r.get(0, 1) == "t";
  return StoreStatus::kOk;
}

StoreStatus AttemptStore::recorded_outcome(PgSession& s, const std::string& request_id,
                                           std::string& event_type) {
  PgResult r = s.exec(
      "SELECT event_type FROM audit_ledger WHERE request_id = $1"
      " AND event_type NOT IN ('REQUEST', 'AUTHZ_DECISION') ORDER BY seq LIMIT 1",
      {request_id});
  if (!r.ok) return store_status(r);
  event_type = r.rows() == 1 ? r.get(0, 0) : "";
  return StoreStatus::kOk;
}

}  // namespace realm_sidecar
