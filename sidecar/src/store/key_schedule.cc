#include "store/key_schedule.h"

#include <cstdlib>

namespace realm_sidecar {

namespace {

#define KS_TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

constexpr const char* kColumns =
    "id, tenant_id, incarnation_id::text, realm_name, kid, component_id, grace_seconds, " KS_TS(
        "retired_at") ", " KS_TS("remove_at") ", attempts, last_error, request_id, actor_id, "
                                              "actor_realm, purpose";

KeyRetirement row_at(const PgResult& r, int i) {
  KeyRetirement k;
  k.id = std::strtoll(r.get(i, 0).c_str(), nullptr, 10);
  k.tenant_id = r.get(i, 1);
  k.incarnation_id = r.get(i, 2);
  k.realm_name = r.get(i, 3);
  k.kid = r.get(i, 4);
  k.component_id = r.get(i, 5);
  k.grace_seconds = std::strtoll(r.get(i, 6).c_str(), nullptr, 10);
  k.retired_at = r.get(i, 7);
  k.remove_at = r.get(i, 8);
  k.attempts = std::atoi(r.get(i, 9).c_str());
  k.last_error = r.get(i, 10);
  k.request_id = r.get(i, 11);
  k.actor_id = r.get(i, 12);
  k.actor_realm = r.get(i, 13);
  k.purpose = r.get(i, 14);
  return k;
}

}  // namespace

StoreStatus KeySchedule::insert(PgSession& s, KeyRetirement& row) {
  PgResult r = s.exec(
      "INSERT INTO key_retirements (tenant_id, incarnation_id, realm_name, kid, component_id, "
      "grace_seconds, remove_at, request_id, actor_id, actor_realm, purpose) "
      "VALUES ($1, $2::uuid, $3, $4, $5, $6::bigint, now() + $6::bigint * interval '1 second', "
      "$7, $8, $9, $10) "
      "ON CONFLICT (tenant_id, incarnation_id, kid) DO NOTHING RETURNING " +
          std::string(kColumns),
      {row.tenant_id, row.incarnation_id, row.realm_name, row.kid, row.component_id,
       std::to_string(row.grace_seconds), row.request_id, row.actor_id, row.actor_realm,
       row.purpose});
  if (!r.ok) return store_status(r);
  if (r.rows() == 0) return StoreStatus::kConflict;
  row = row_at(r, 0);
  return StoreStatus::kOk;
}

StoreStatus KeySchedule::pending(PgSession& s, const std::string& tenant_id,
                                 const std::string& incarnation_id,
                                 std::vector<KeyRetirement>& out) {
  out.clear();
  PgResult r = s.exec("SELECT " + std::string(kColumns) +
                          " FROM key_retirements WHERE tenant_id = $1 AND incarnation_id = "
                          "$2::uuid AND removed_at IS NULL ORDER BY remove_at",
                      {tenant_id, incarnation_id});
  if (!r.ok) return store_status(r);
  for (int i = 0; i < r.rows(); i++) out.push_back(row_at(r, i));
  return StoreStatus::kOk;
}

StoreStatus KeySchedule::claim_due(PgSession& s, const std::vector<int64_t>& tried,
                                   KeyRetirement& out) {
  std::string ids = "{";
  for (size_t i = 0; i < tried.size(); i++) ids += (i ? "," : "") + std::to_string(tried[i]);
  ids += "}";
  PgResult r = s.exec("SELECT " + std::string(kColumns) +
                          " FROM key_retirements WHERE removed_at IS NULL AND remove_at <= now() "
                          "AND NOT (id = ANY ($1::bigint[])) "
                          "ORDER BY remove_at LIMIT 1 FOR UPDATE SKIP LOCKED",
                      {ids});
  if (!r.ok) return store_status(r);
  if (r.rows() == 0) return StoreStatus::kNotFound;
  out = row_at(r, 0);
  return StoreStatus::kOk;
}

StoreStatus KeySchedule::mark_removed(PgSession& s, int64_t id) {
  PgResult r = s.exec("UPDATE key_retirements SET removed_at = now() WHERE id = $1::bigint",
                      {std::to_string(id)});
  return r.ok ? StoreStatus::kOk : store_status(r);
}

StoreStatus KeySchedule::note_failure(PgSession& s, int64_t id, const std::string& error) {
  PgResult r = s.exec(
      "UPDATE key_retirements SET attempts = attempts + 1, last_error = left($2, 500) "
      "WHERE id = $1::bigint",
      {std::to_string(id), error});
  return r.ok ? StoreStatus::kOk : store_status(r);
}

}  // namespace realm_sidecar
