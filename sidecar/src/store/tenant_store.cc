#include "store/tenant_store.h"

#include <cstdlib>

#include "util/json_helpers.h"

namespace realm_sidecar {

namespace {

constexpr const char* kColumns =
    "tenant_id, realm_name, issuer_url, display_name, array_to_json(departments)::text, status,"
    " to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
    " to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
    " incarnation_id::text, incarnation_started_at, dpop_bound_tokens";

TenantRow row_at(const PgResult& r, int i) {
  TenantRow t;
  t.tenant_id = r.get(i, 0);
  t.realm_name = r.get(i, 1);
  t.issuer_url = r.get(i, 2);
  t.display_name = r.get(i, 3);
  JsonPtr deps = json_parse(r.get(i, 4));
  size_t k;
  json_t* v;
  json_array_foreach(deps.get(), k, v) {
    if (json_is_string(v)) t.departments.emplace_back(json_string_value(v));
  }
  if (!parse_tenant_status(r.get(i, 5), t.status)) {
    t.status = TenantStatus::kFailed;  // nothing treats it as usable
    t.status_known = false;
  }
  t.created_at = r.get(i, 6);
  t.updated_at = r.get(i, 7);
  t.incarnation_id = r.get(i, 8);
  t.incarnation_started_at = std::strtoll(r.get(i, 9).c_str(), nullptr, 10);
  t.dpop_bound_tokens = r.get(i, 10) == "t";
  return t;
}

// bytea in text format: "\x" + hex, both ways.
std::string to_bytea_hex(const std::string& bytes) {
  static const char kHex[] = "0123456789abcdef";
  std::string s = "\\x";
  for (unsigned char c : bytes) {
    s += kHex[c >> 4];
    s += kHex[c & 15];
  }
  return s;
}

bool from_bytea_hex(const std::string& text, std::string& bytes) {
  if (text.size() < 2 || text[0] != '\\' || text[1] != 'x' || text.size() % 2 != 0) return false;
  auto nib = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  bytes.clear();
  for (size_t i = 2; i < text.size(); i += 2) {
    int hi = nib(text[i]), lo = nib(text[i + 1]);
    if (hi < 0 || lo < 0) return false;
    bytes += static_cast<char>(hi << 4 | lo);
  }
  return true;
}

}  // namespace

realm_auth::TenantRecordValue tenant_info(const TenantRow& row) {
  realm_auth::TenantRecordValue info;
  if (row.status == TenantStatus::kDisabled) {
    info.state = realm_auth::TenantRecord::kDisabled;
  } else if (row.status == TenantStatus::kDeleting || row.status == TenantStatus::kFailed) {
    info.state = realm_auth::TenantRecord::kDeleted;
  } else {
    info.state = realm_auth::TenantRecord::kActive;
  }
  info.incarnation_start = row.incarnation_started_at;
  info.incarnation_id = row.incarnation_id;
  return info;
}

StoreStatus store_status(const PgResult& r) {
  if (r.ok) return StoreStatus::kOk;
  if (r.sqlstate == "23505") return StoreStatus::kConflict;
  return StoreStatus::kUnavailable;
}

StoreStatus TenantStore::insert(PgSession& s, const TenantRow& row, const AttemptRef* attempt) {
  JsonPtr deps = json_string_array(row.departments);
  const std::string tenant =
      "INSERT INTO tenants (tenant_id, realm_name, issuer_url, display_name, departments,"
      " status, dpop_bound_tokens) SELECT $1, $2, $3, $4,"
      " ARRAY(SELECT json_array_elements_text($5::json)), 'provisioning', $6::boolean";
  const std::string dpop = row.dpop_bound_tokens ? "true" : "false";
  if (attempt == nullptr) {
    return store_status(s.exec(tenant, {row.tenant_id, row.realm_name, row.issuer_url,
                                        row.display_name, json_text(deps.get()), dpop}));
  }
  // One statement: a tenant row made by an attempt always has its attempt.
  PgResult r = s.exec(
      "WITH t AS (" + tenant +
          " RETURNING incarnation_id::text AS inc)"
          " INSERT INTO provisioning_attempts (request_id, kind, tenant_id, incarnation_id, step,"
          " owner, actor_id, actor_realm, purpose)"
          " SELECT $7, 'tenant', $1, inc, 'tenant_saga', $8::int, $9, $10, $11 FROM t",
      {row.tenant_id, row.realm_name, row.issuer_url, row.display_name, json_text(deps.get()), dpop,
       attempt->request_id, std::to_string(attempt->owner), attempt->actor_id, attempt->actor_realm,
       attempt->purpose});
  return store_status(r);
}

StoreStatus TenantStore::get(PgSession& s, const std::string& tenant_id, TenantRow& out) {
  PgResult r =
      s.exec(std::string("SELECT ") + kColumns + " FROM tenants WHERE tenant_id = $1", {tenant_id});
  if (!r.ok) return store_status(r);
  if (r.rows() == 0) return StoreStatus::kNotFound;
  out = row_at(r, 0);
  return StoreStatus::kOk;
}

StoreStatus TenantStore::list(PgSession& s, const std::vector<std::string>& statuses,
                              std::vector<TenantRow>& out) {
  JsonPtr st = json_string_array(statuses);
  PgResult r = s.exec(std::string("SELECT ") + kColumns +
                          " FROM tenants WHERE $1::text = '[]' OR status IN"
                          " (SELECT json_array_elements_text($1::json)) ORDER BY tenant_id",
                      {json_text(st.get())});
  if (!r.ok) return store_status(r);
  out.clear();
  for (int i = 0; i < r.rows(); i++) out.push_back(row_at(r, i));
  return StoreStatus::kOk;
}

StoreStatus TenantStore::set_state(PgSession& s, const std::string& tenant_id,
                                   TenantStatus status) {
  PgResult r = s.exec("UPDATE tenants SET status = $2, updated_at = now() WHERE tenant_id = $1",
                      {tenant_id, to_string(status)});
  if (!r.ok) return store_status(r);
  return std::string(PQcmdTuples(r.res.get())) == "0" ? StoreStatus::kNotFound : StoreStatus::kOk;
}

StoreStatus TenantStore::remove(PgSession& s, const std::string& tenant_id) {
  PgResult r = s.exec("DELETE FROM tenants WHERE tenant_id = $1", {tenant_id});
  return store_status(r);
}

StoreStatus TenantStore::bury(PgSession& s, const std::string& tenant_id) {
  PgResult r = s.exec(
      "WITH gone AS (DELETE FROM tenants WHERE tenant_id = $1"
      " RETURNING tenant_id, incarnation_id, incarnation_started_at)"
      " INSERT INTO tenant_tombstones (incarnation_id, tenant_id, incarnation_started_at)"
      " SELECT incarnation_id, tenant_id, incarnation_started_at FROM gone"
      " ON CONFLICT (incarnation_id) DO NOTHING",
      {tenant_id});
  return store_status(r);
}

StoreStatus TenantStore::since_buried(PgSession& s, const std::string& tenant_id,
                                      int64_t& seconds) {
  PgResult r = s.exec(
      "SELECT floor(extract(epoch FROM now() - max(deleted_at)))::bigint FROM tenant_tombstones"
      " WHERE tenant_id = $1",
      {tenant_id});
  if (!r.ok) return store_status(r);
  if (r.rows() != 1 || r.is_null(0, 0)) return StoreStatus::kNotFound;
  seconds = std::strtoll(r.get(0, 0).c_str(), nullptr, 10);
  return StoreStatus::kOk;
}

StoreStatus TenantStore::record(PgSession& s, const std::string& tenant_id,
                                realm_auth::TenantRecordValue& out) {
  TenantRow row;
  StoreStatus st = get(s, tenant_id, row);
  if (st == StoreStatus::kOk) {
    out = tenant_info(row);
    return st;
  }
  if (st != StoreStatus::kNotFound) return st;
  int64_t seconds = 0;
  st = since_buried(s, tenant_id, seconds);
  if (st == StoreStatus::kUnavailable) return st;
  out = realm_auth::TenantRecordValue{};
  if (st == StoreStatus::kOk) out.state = realm_auth::TenantRecord::kDeleted;
  return StoreStatus::kOk;
}

StoreStatus TenantStore::put_secret(PgSession& s, const std::string& tenant_id,
                                    const std::string& client_id, const std::string& sealed) {
  PgResult r = s.exec(
      "INSERT INTO tenant_secrets (tenant_id, client_id, sealed) VALUES ($1, $2, $3::bytea)"
      " ON CONFLICT (tenant_id, client_id) DO UPDATE SET sealed = EXCLUDED.sealed,"
      " rotated_at = now()",
      {tenant_id, client_id, to_bytea_hex(sealed)});
  return store_status(r);
}

StoreStatus TenantStore::get_secret(PgSession& s, const std::string& tenant_id,
                                    const std::string& client_id, std::string& sealed) {
  PgResult r = s.exec("SELECT sealed FROM tenant_secrets WHERE tenant_id = $1 AND client_id = $2",
                      {tenant_id, client_id});
  if (!r.ok) return store_status(r);
  if (r.rows() == 0) return StoreStatus::kNotFound;
  return from_bytea_hex(r.get(0, 0), sealed) ? StoreStatus::kOk : StoreStatus::kUnavailable;
}

StoreStatus TenantStore::activate_with_secret(PgSession& s, const std::string& tenant_id,
                                              const std::string& client_id,
                                              const std::string& sealed) {
  PgResult b = s.exec("BEGIN");
  if (!b.ok) return store_status(b);
  StoreStatus st = put_secret(s, tenant_id, client_id, sealed);
  if (st == StoreStatus::kOk) st = set_state(s, tenant_id, TenantStatus::kActive);
  PgResult end = s.exec(st == StoreStatus::kOk ? "COMMIT" : "ROLLBACK");
  if (st == StoreStatus::kOk && !end.ok) return store_status(end);
  return st;
}

bool TenantStore::try_lock(PgSession& s, const std::string& tenant_id) {
  // hashtext() folds the id into the advisory lock's int key; the class id
  // 7412002 keeps these locks apart from the migrator's.
  PgResult r = s.exec("SELECT pg_try_advisory_lock(7412002, hashtext($1))", {tenant_id});
  return r.ok && r.rows() == 1 && r.get(0, 0) == "t";
}

void TenantStore::unlock(PgSession& s, const std::string& tenant_id) noexcept {
  const char* params[] = {tenant_id.c_str()};
  PgResultPtr r(PQexecParams(s.raw(), "SELECT pg_advisory_unlock(7412002, hashtext($1))", 1,
                             nullptr, params, nullptr, nullptr, 0));
}

}  // namespace realm_sidecar
