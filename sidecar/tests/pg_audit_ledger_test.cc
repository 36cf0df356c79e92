// PgAuditLedger against a real PostgreSQL (a throwaway cluster made by
// with_pg_cluster.sh; GOV_PG_HOST/PORT/SUPERUSER). The database gets two
// roles like a production install: ledger_owner runs the migrations
// (migrations/*.sql through store/migrate), ledger_app is what the sidecar
// connects as. Cases run in order on one database:
//   appends + tail + verify; the SQL re-implementation of the row hash;
//   50 threads × 4 appends, each thread its own connection → one chain
//   1..N without gaps; UPDATE/DELETE/TRUNCATE refused for the app role (grants)
//   and for the owner (grants, then the trigger); a superuser tampering with
//   the trigger disabled → verify names the row; PostgreSQL unreachable.
#include "pg_audit_ledger.h"

#include <libpq-fe.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "governance_test.h"
#include "store/migrate.h"
#include "store/pg.h"

using namespace realm_sidecar;

namespace {

std::string g_base;        // host=… port=…
std::string g_super;       // superuser name
std::string g_migrations;  // migrations dir

std::string conninfo(const std::string& user, const std::string& db = "ledger",
                     const std::string& extra = "") {
  return g_base + " user=" + user + " dbname=" + db + (extra.empty() ? "" : " " + extra);
}

// A plain connection for administrative statements.
struct Conn {
  explicit Conn(const std::string& info) : c(PQconnectdb(info.c_str())) {
    if (PQstatus(c.get()) != CONNECTION_OK)
      fail_msg("connect %s: %s", info.c_str(), PQerrorMessage(c.get()));
  }
  // "" on success, else the SQLSTATE.
  std::string exec(const std::string& sql, std::string* value = nullptr) {
    PgResultPtr r(PQexec(c.get(), sql.c_str()));
    ExecStatusType st = PQresultStatus(r.get());
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
      if (value && PQntuples(r.get()) > 0) *value = PQgetvalue(r.get(), 0, 0);
      return "";
    }
    last_error = PQresultErrorMessage(r.get());
    const char* s = PQresultErrorField(r.get(), PG_DIAG_SQLSTATE);
    return s ? s : "?????";
  }
  void must(const std::string& sql, std::string* value = nullptr) {
    std::string st = exec(sql, value);
    if (!st.empty()) fail_msg("%s: %s %s", sql.c_str(), st.c_str(), last_error.c_str());
  }
  std::string value(const std::string& sql) {
    std::string v;
    must(sql, &v);
    return v;
  }
  PgConnPtr c;
  std::string last_error;
};

AuditEvent event(const std::string& type, const std::string& tenant, const std::string& req) {
  AuditEvent e;
  e.event_type = type;
  e.request_id = req;
  e.actor_id = "user-1";
  e.actor_realm = "platform";
  e.tenant_id = tenant;
  e.action = "tenant.create";
  e.purpose = "onboarding";
  if (type == "AUTHZ_DECISION") {
    e.decision = "allow";
    e.reason = "platform_admin of realm platform";
  }
  if (type == "USER_CREATED") {
    e.details_json = "{\"user_id\":\"u-1\",\"roles\":[\"officer\"],\"temporary_password\":\"pw\"}";
  }
  return e;
}

int setup(void**) {
  const char* host = getenv("GOV_PG_HOST");
  const char* port = getenv("GOV_PG_PORT");
  const char* super = getenv("GOV_PG_SUPERUSER");
  const char* mig = getenv("GOV_MIGRATIONS_DIR");
  if (!host || !port || !super || !mig) {
    print_error("run through with_pg_cluster.sh with GOV_MIGRATIONS_DIR set\n");
    return -1;
  }
  g_base = std::string("host=") + host + " port=" + port + " connect_timeout=10";
  g_super = super;
  g_migrations = mig;
  Conn su(conninfo(g_super, "postgres"));
  su.must("CREATE ROLE ledger_owner LOGIN");
  su.must("CREATE ROLE ledger_app LOGIN");
  su.must("CREATE DATABASE ledger OWNER ledger_owner");

  PgPool owner(conninfo("ledger_owner", "ledger", "options='-c realm_auth.app_role=ledger_app'"),
               1);
  std::vector<std::string> applied;
  std::string error;
  if (!apply_migrations(owner, g_migrations, applied, error)) {
    print_error("migrations: %s\n", error.c_str());
    return -1;
  }
  std::string names;
  for (const auto& a : applied) names += " " + a;
  print_message("applied as ledger_owner:%s\n", names.c_str());
  // A rerun applies nothing; the ledger file alone is idempotent too.
  applied.clear();
  if (!apply_migrations(owner, g_migrations, applied, error) || !applied.empty()) return -1;
  return 0;
}

void test_append_tail_verify(void**) {
  PgPool pool(conninfo("ledger_app"), 2);
  PgAuditLedger ledger(pool);
  assert_true(ledger.append(event("REQUEST", "demo", "r1")));
  assert_true(ledger.append(event("AUTHZ_DECISION", "demo", "r1")));
  assert_true(ledger.append(event("TENANT_CREATED", "demo", "r1")));
  assert_true(ledger.append(event("REQUEST", "other", "r2")));
  assert_true(ledger.append(event("USER_CREATED", "demo", "r3")));

  std::vector<AuditRow> rows;
  assert_true(ledger.tail("demo", "", 10, rows));
  assert_int_equal(rows.size(), 4);
  assert_int_equal(rows.front().seq, 1);
  assert_int_equal(rows.back().seq, 5);
  assert_string_equal(rows[1].event.decision.c_str(), "allow");
  assert_string_equal(rows[1].event.reason.c_str(), "platform_admin of realm platform");
  assert_string_equal(rows[0].prev_hash.c_str(), kGenesisHash);
  assert_string_equal(rows[1].prev_hash.c_str(), rows[0].row_hash.c_str());
  // The password never reaches the table.
  assert_string_equal(
      rows.back().event.details_json.c_str(),
      "{\"user_id\":\"u-1\",\"roles\":[\"officer\"],\"temporary_password\":\"[REDACTED]\"}");
  std::regex ts("^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{6}Z$");
  for (const auto& r : rows) assert_true(std::regex_match(r.occurred_at, ts));
  assert_true(ledger.tail("", "", 2, rows));
  assert_int_equal(rows.size(), 2);
  assert_int_equal(rows[0].seq, 4);
  assert_true(ledger.tail("nobody", "", 5, rows));
  assert_int_equal(rows.size(), 0);

  int64_t checked = -1, broken = -1;
  std::string why;
  assert_true(ledger.verify(checked, broken, why));
  assert_int_equal(checked, 5);
  assert_int_equal(broken, 0);

  // An invalid details document is refused, nothing written.
  AuditEvent bad = event("REQUEST", "demo", "r4");
  bad.details_json = "[]";
  assert_false(ledger.append(bad));
  assert_true(ledger.verify(checked, broken, why));
  assert_int_equal(checked, 5);
}

// A slug that lives twice (migration 0003): every row carries the
// incarnation of its tenant when written (the outcome of a deletion the
// incarnation it deleted), rows hash in form v2, and a tenant's reader
// asking for its incarnation gets only that incarnation's rows.
void test_incarnation_rows(void**) {
  Conn owner(conninfo("ledger_owner"));
  const std::string inc1 = "aaaaaaaa-0000-4000-8000-000000000001";
  const std::string inc2 = "bbbbbbbb-0000-4000-8000-000000000002";
  owner.must(
      "INSERT INTO tenants (tenant_id, realm_name, issuer_url, display_name, status,"
      " incarnation_id, incarnation_started_at) VALUES ('twice', 'tenant-twice', 'x',"
      " 'Twice', 'active', '" +
      inc1 + "', floor(extract(epoch FROM now()))::bigint - 100)");
  PgPool pool(conninfo("ledger_app"), 1);
  PgAuditLedger ledger(pool);
  assert_true(ledger.append(event("USER_CREATED", "twice", "first-life")));
  // DELETE /tenants/twice: the saga tombstones the row, then the outcome.
  owner.must(
      "WITH gone AS (DELETE FROM tenants WHERE tenant_id = 'twice' RETURNING *)"
      " INSERT INTO tenant_tombstones (incarnation_id, tenant_id, incarnation_started_at)"
      " SELECT incarnation_id, tenant_id, incarnation_started_at FROM gone");
  assert_true(ledger.append(event("TENANT_DELETED", "twice", "the-end")));
  assert_true(ledger.append(event("REQUEST", "twice", "between-lives")));
  owner.must(
      "INSERT INTO tenants (tenant_id, realm_name, issuer_url, display_name, status,"
      " incarnation_id, incarnation_started_at) VALUES ('twice', 'tenant-twice', 'x',"
      " 'Twice', 'active', '" +
      inc2 + "', floor(extract(epoch FROM now()))::bigint)");
  assert_true(ledger.append(event("USER_CREATED", "twice", "second-life")));

  std::vector<AuditRow> rows;
  assert_true(ledger.tail("twice", "", 10, rows));
  assert_int_equal(rows.size(), 4);
  assert_string_equal(rows[0].event.tenant_incarnation.c_str(), inc1.c_str());
  assert_string_equal(rows[1].event.tenant_incarnation.c_str(), inc1.c_str());  // TENANT_DELETED
  assert_string_equal(rows[2].event.tenant_incarnation.c_str(), "");            // no tenant then
  assert_string_equal(rows[3].event.tenant_incarnation.c_str(), inc2.c_str());
  assert_true(ledger_canonical(rows[3]).rfind("20:realm-auth-ledger/v2,", 0) == 0);
  assert_true(ledger_canonical(rows[2]).rfind("20:realm-auth-ledger/v1,", 0) == 0);

  assert_true(ledger.tail("twice", inc2, 10, rows));
  assert_int_equal(rows.size(), 1);
  assert_string_equal(rows[0].event.request_id.c_str(), "second-life");
  assert_true(ledger.tail("twice", inc1, 10, rows));
  assert_int_equal(rows.size(), 2);  // the deleted incarnation's (for the platform's eyes)

  int64_t checked = 0, broken = -1;
  std::string why;
  assert_true(ledger.verify(checked, broken, why));
  assert_int_equal(broken, 0);
  // Changing a v2 row's incarnation breaks its hash.
  Conn su(conninfo(g_super));
  const std::string seq = su.value("SELECT max(seq) FROM audit_ledger");
  su.must("ALTER TABLE audit_ledger DISABLE TRIGGER audit_ledger_no_update_delete");
  su.must("UPDATE audit_ledger SET tenant_incarnation = '" + inc1 + "' WHERE seq = " + seq);
  assert_false(ledger.verify(checked, broken, why));
  assert_int_equal(broken, std::strtoll(seq.c_str(), nullptr, 10));
  su.must("UPDATE audit_ledger SET tenant_incarnation = '" + inc2 + "' WHERE seq = " + seq);
  su.must("ALTER TABLE audit_ledger ENABLE TRIGGER audit_ledger_no_update_delete");
  assert_true(ledger.verify(checked, broken, why));
}

// The SQL function from the migration computes the same hashes: the chain
// can be checked inside the database without the sidecar's code.
void test_sql_hash_matches(void**) {
  Conn app(conninfo("ledger_app"));
  assert_string_equal(
      app.value("SELECT count(*) FROM audit_ledger a WHERE a.row_hash <> audit_ledger_row_hash(a)")
          .c_str(),
      "0");
  assert_string_equal(
      app.value("SELECT count(*) FROM (SELECT seq, prev_hash, lag(row_hash, 1, repeat('0', 64)) "
                "OVER (ORDER BY seq) AS expected FROM audit_ledger) c WHERE prev_hash <> expected")
          .c_str(),
      "0");
}

void test_sequential_append_latency(void**) {
  PgPool pool(conninfo("ledger_app"), 1);
  PgAuditLedger ledger(pool);
  assert_true(ledger.append(event("REQUEST", "seq", "warm")));
  const int kAppends = 100;
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kAppends; ++i) assert_true(ledger.append(event("REQUEST", "seq", "s")));
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() -
                                                                  start)
                .count();
  print_message("%d sequential appends on one connection: %.0f us per append\n", kAppends,
                static_cast<double>(us) / kAppends);
}

void test_concurrent_appends(void**) {
  Conn app(conninfo("ledger_app"));
  const int before = std::atoi(app.value("SELECT count(*) FROM audit_ledger").c_str());
  const int kThreads = 50, kEach = 4;
  std::atomic<int> ready{0}, failures{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  auto start = std::chrono::steady_clock::now();
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      PgPool pool(conninfo("ledger_app"), 1);  // this thread's own connection
      PgAuditLedger ledger(pool);
      { PgSession warm = pool.acquire(); }  // connect before the race starts
      ++ready;
      while (!go) std::this_thread::yield();
      for (int i = 0; i < kEach; ++i) {
        AuditEvent e = event(i % 2 ? "AUTHZ_DECISION" : "REQUEST", "t" + std::to_string(t),
                             "req-" + std::to_string(t) + "-" + std::to_string(i / 2));
        if (!ledger.append(e)) {
          ++failures;
          print_error("append failed: %s\n", ledger.last_error().c_str());
        }
      }
    });
  }
  while (ready < kThreads) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  auto raced = std::chrono::steady_clock::now();
  go = true;
  for (auto& th : threads) th.join();
  auto end = std::chrono::steady_clock::now();
  assert_int_equal(failures.load(), 0);

  const int n = before + kThreads * kEach;
  std::string stats = app.value(
      "SELECT count(*) || ' ' || min(seq) || ' ' || max(seq) || ' ' || count(DISTINCT prev_hash) "
      "FROM audit_ledger");
  std::string want = std::to_string(n) + " 1 " + std::to_string(n) + " " + std::to_string(n);
  assert_string_equal(stats.c_str(), want.c_str());

  PgPool pool(conninfo("ledger_app"), 1);
  PgAuditLedger ledger(pool);
  int64_t checked = 0, broken = 0;
  std::string why;
  auto vstart = std::chrono::steady_clock::now();
  assert_true(ledger.verify(checked, broken, why));
  auto vend = std::chrono::steady_clock::now();
  assert_int_equal(checked, n);
  using ms = std::chrono::milliseconds;
  print_message(
      "%d threads x %d appends (own connections): %lld ms (%lld ms incl. connecting), "
      "chain 1..%d verified in %lld ms\n",
      kThreads, kEach, static_cast<long long>(std::chrono::duration_cast<ms>(end - raced).count()),
      static_cast<long long>(std::chrono::duration_cast<ms>(end - start).count()), n,
      static_cast<long long>(std::chrono::duration_cast<ms>(vend - vstart).count()));
}

void test_app_role_cannot_change_rows(void**) {
  Conn app(conninfo("ledger_app"));
  assert_string_equal(app.exec("UPDATE audit_ledger SET reason = 'x' WHERE seq = 1").c_str(),
                      "42501");
  assert_string_equal(app.exec("DELETE FROM audit_ledger WHERE seq = 1").c_str(), "42501");
  assert_string_equal(app.exec("TRUNCATE audit_ledger").c_str(), "42501");
  assert_string_equal(app.exec("ALTER TABLE audit_ledger DISABLE TRIGGER USER").c_str(), "42501");
  // Granting itself the privilege is a no-op (PostgreSQL only warns).
  app.exec("SET client_min_messages = error");
  assert_string_equal(app.exec("GRANT UPDATE ON audit_ledger TO ledger_app").c_str(), "");
  assert_string_equal(app.exec("UPDATE audit_ledger SET reason = 'x' WHERE seq = 1").c_str(),
                      "42501");
}

void test_owner_cannot_change_rows(void**) {
  Conn owner(conninfo("ledger_owner"));
  // The migration revoked UPDATE/DELETE/TRUNCATE from the owner too …
  assert_string_equal(owner.exec("UPDATE audit_ledger SET reason = 'x' WHERE seq = 1").c_str(),
                      "42501");
  assert_string_equal(owner.exec("DELETE FROM audit_ledger WHERE seq = 1").c_str(), "42501");
  // … and granting them back is not enough: the triggers refuse.
  owner.must("GRANT UPDATE, DELETE, TRUNCATE ON audit_ledger TO ledger_owner");
  assert_string_equal(owner.exec("UPDATE audit_ledger SET reason = 'x' WHERE seq = 1").c_str(),
                      "P0001");
  assert_non_null(strstr(owner.last_error.c_str(), "append-only"));
  assert_string_equal(owner.exec("DELETE FROM audit_ledger WHERE seq = 1").c_str(), "P0001");
  assert_string_equal(owner.exec("TRUNCATE audit_ledger").c_str(), "P0001");
  owner.must("REVOKE UPDATE, DELETE, TRUNCATE ON audit_ledger FROM ledger_owner");
  // Inserting a row that breaks the chain is refused by constraints.
  assert_string_equal(
      owner
          .exec(
              "INSERT INTO audit_ledger SELECT seq + 100000, occurred_at, event_type, request_id, "
              "actor_id, actor_realm, tenant_id, action, purpose, decision, reason, details, "
              "prev_hash, repeat('a', 64) FROM audit_ledger WHERE seq = 2")
          .c_str(),
      "23505");  // prev_hash is UNIQUE: no fork
}

void test_tamper_named_by_verify(void**) {
  Conn su(conninfo(g_super));
  PgPool pool(conninfo("ledger_app"), 1);
  PgAuditLedger ledger(pool);
  int64_t checked = 0, broken = 0;
  std::string why;
  assert_true(ledger.verify(checked, broken, why));
  const int64_t total = checked;

  std::string original = su.value("SELECT reason FROM audit_ledger WHERE seq = 37");
  su.must("ALTER TABLE audit_ledger DISABLE TRIGGER audit_ledger_no_update_delete");
  su.must("UPDATE audit_ledger SET reason = 'nothing happened' WHERE seq = 37");
  su.must("ALTER TABLE audit_ledger ENABLE TRIGGER audit_ledger_no_update_delete");
  assert_false(ledger.verify(checked, broken, why));
  assert_int_equal(broken, 37);
  assert_int_equal(checked, 36);
  print_message("after UPDATE of row 37: %s\n", why.c_str());
  assert_non_null(strstr(why.c_str(), "row 37: content hash mismatch"));
  ChainCheck check;
  std::string db_error;
  assert_true(ledger.verify_chain(check, db_error));
  assert_int_equal(check.head_seq, 36);
  // The SQL check names the same row.
  assert_string_equal(su.value("SELECT string_agg(seq::text, ',') FROM audit_ledger a "
                               "WHERE a.row_hash <> audit_ledger_row_hash(a)")
                          .c_str(),
                      "37");

  // Putting the exact bytes back restores the chain: the hash covers content.
  su.must("ALTER TABLE audit_ledger DISABLE TRIGGER audit_ledger_no_update_delete");
  su.must("UPDATE audit_ledger SET reason = '" + original + "' WHERE seq = 37");
  // Shifting the stored time by a microsecond is caught too.
  su.must(
      "UPDATE audit_ledger SET occurred_at = occurred_at + interval '1 microsecond' WHERE seq = "
      "12");
  su.must("ALTER TABLE audit_ledger ENABLE TRIGGER audit_ledger_no_update_delete");
  assert_false(ledger.verify(checked, broken, why));
  assert_int_equal(broken, 12);
  su.must("ALTER TABLE audit_ledger DISABLE TRIGGER audit_ledger_no_update_delete");
  su.must(
      "UPDATE audit_ledger SET occurred_at = occurred_at - interval '1 microsecond' WHERE seq = "
      "12");
  su.must("ALTER TABLE audit_ledger ENABLE TRIGGER audit_ledger_no_update_delete");
  assert_true(ledger.verify(checked, broken, why));
  assert_int_equal(checked, total);

  // Deleting a row: the gap is named at the row after it.
  su.must("ALTER TABLE audit_ledger DISABLE TRIGGER audit_ledger_no_update_delete");
  su.must("DELETE FROM audit_ledger WHERE seq = 20");
  su.must("ALTER TABLE audit_ledger ENABLE TRIGGER audit_ledger_no_update_delete");
  assert_false(ledger.verify(checked, broken, why));
  assert_int_equal(broken, 21);
  print_message("after DELETE of row 20: %s\n", why.c_str());
  assert_non_null(strstr(why.c_str(), "gap in seq: expected 20, found 21"));

  // Appends go on (the chain head is intact); verify still names row 21.
  assert_true(ledger.append(event("PROVISIONING_FAILED", "demo", "r9")));
  assert_false(ledger.verify(checked, broken, why));
  assert_int_equal(broken, 21);
}

void test_unreachable(void**) {
  PgPool pool("host=/nonexistent-dir port=1 user=x dbname=x connect_timeout=2", 1);
  PgAuditLedger ledger(pool);
  assert_false(ledger.append(event("REQUEST", "demo", "r1")));
  assert_non_null(strstr(ledger.last_error().c_str(), "unreachable"));
  std::vector<AuditRow> rows;
  assert_false(ledger.tail("demo", "", 5, rows));
  int64_t checked = 0, broken = -1;
  std::string why;
  assert_false(ledger.verify(checked, broken, why));
  assert_int_equal(broken, 0);
  assert_false(why.empty());
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_append_tail_verify),
      cmocka_unit_test(test_incarnation_rows),
      cmocka_unit_test(test_sql_hash_matches),
      cmocka_unit_test(test_sequential_append_latency),
      cmocka_unit_test(test_concurrent_appends),
      cmocka_unit_test(test_app_role_cannot_change_rows),
      cmocka_unit_test(test_owner_cannot_change_rows),
      cmocka_unit_test(test_tamper_named_by_verify),
      cmocka_unit_test(test_unreachable),
  };
  return cmocka_run_group_tests(tests, setup, nullptr);
}
