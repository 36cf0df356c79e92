#include "store/owner_lease.h"

#include "util/random.h"

namespace realm_sidecar {

namespace {

constexpr const char* kLockClass = "7412003";

int32_t random_owner_id() {
  uint32_t v = 0;
  random_bytes(reinterpret_cast<unsigned char*>(&v), sizeof v);
  v &= 0x7fffffffu;
  return static_cast<int32_t>(v == 0 ? 1 : v);  // 0: "no owner" (the reconcile CLI)
}

bool one_true(PGconn* c, const char* sql, const std::string& id, std::string* error) {
  const char* params[] = {kLockClass, id.c_str()};
  PgResultPtr r(PQexecParams(c, sql, 2, nullptr, params, nullptr, nullptr, 0));
  const bool ok = PQresultStatus(r.get()) == PGRES_TUPLES_OK && PQntuples(r.get()) == 1 &&
                  std::string(PQgetvalue(r.get(), 0, 0)) == "t";
  if (!ok && error != nullptr) *error = PQerrorMessage(c);
  return ok;
}

}  // namespace

OwnerLease::OwnerLease(std::string conninfo)
    : conninfo_(std::move(conninfo)), id_(random_owner_id()) {}

bool OwnerLease::hold(std::string& error) {
  std::lock_guard<std::mutex> lock(mu_);
  if (conn_ && PQstatus(conn_.get()) == CONNECTION_OK) {
    // Still ours? (A server restart behind an unnoticed reconnect would
    // have dropped it.) pg_locks is per database, cheap.
    const std::string id = std::to_string(id_);
    if (one_true(conn_.get(),
                 "SELECT count(*) = 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND"
                 " pid = pg_backend_pid() AND objsubid = 2 AND classid = $1::int::oid AND objid = "
                 "$2::int::oid",
                 id, nullptr))
      return true;
  }
  conn_.reset(PQconnectdb(conninfo_.c_str()));
  if (PQstatus(conn_.get()) != CONNECTION_OK) {
    error = "owner lease: PostgreSQL is unreachable";
    conn_.reset();
    return false;
  }
  if (!one_true(conn_.get(), "SELECT pg_try_advisory_lock($1::int, $2::int)", std::to_string(id_),
                &error)) {
    error = "owner lease: lock not taken: " + error;
    conn_.reset();
    return false;
  }
  return true;
}

bool OwnerLease::owner_gone(PgSession& s, int32_t id) {
  PgResult r = s.exec(
      // CASE: the unlock runs only after a lock was taken (AND has no order).
      "SELECT CASE WHEN pg_try_advisory_lock($1::int, $2::int)"
      " THEN pg_advisory_unlock($1::int, $2::int) ELSE false END",
      {kLockClass, std::to_string(id)});
  return r.ok && r.rows() == 1 && r.get(0, 0) == "t";
}

}  // namespace realm_sidecar
