// PgAuditLedger against a real PostgreSQL (a throwaway cluster made by
// with_pg_cluster.sh; GOV_PG_HOST/PORT/SUPERUSER). The database gets two
// roles like a production install: ledger_owner runs the migrations
// (migrations/*.sql through store/migrate), ledger_app is what the sidecar
// connects as. Cases run in order on one database:
//   appends + tail + verify; the SQL re-implementation of the row hash;
//   50 threads × 4 appends, each thread its own connection → one chain
//   1..N without gaps; UPDATE/DELETE/TRUNCATE refused for the app role (grants)
//   and for the owner (grants, then the trigger); the app role cannot disable
//   the triggers; rows of before migration 0006 (plain SHA-256) verify as
//   the older form under keyed rows, which seal them; the owner, trigger
//   disabled, cutting off the tail or re-hashing a suffix with the database's
//   own function → verify names it (keyed chain + published head); a
//   superuser tampering with the trigger disabled → verify names the row;
//   PostgreSQL unreachable.
#include "pg_audit_ledger.h"

#include <libpq-fe.h>
#include <sys/stat.h>
#include <unistd.h>

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
std::string g_tmp;         // private temp dir (head file, legacy migrations)

// The ledger key the sidecar would read from AUDIT_HMAC_KEY_FILE.
const LedgerKeys& keys() {
  static const LedgerKeys k{realm_auth::make_seal_key("test-ledger-key-0123456789abcdef-32b")};
  return k;
}
std::string head_file() { return g_tmp + "/ledger-head"; }

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
  char tmpl[] = "/tmp/realm-ledger-test.XXXXXX";
  if (!mkdtemp(tmpl)) return -1;
  g_tmp = tmpl;
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

int teardown(void**) {
  if (!g_tmp.empty()) {
    for (const char* f : {"/ledger-head", "/ledger-head.lock"}) unlink((g_tmp + f).c_str());
    rmdir(g_tmp.c_str());
  }
  return 0;
}

void test_append_tail_verify(void**) {
  PgPool pool(conninfo("ledger_app"), 2);
  PgAuditLedger ledger(pool, keys());
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
  PgAuditLedger ledger(pool, keys());
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
  // Keyed (v3) whether or not the row has an incarnation.
  assert_true(ledger_canonical(rows[3]).rfind("20:realm-auth-ledger/v3,8:" + keys()[0].id, 0) == 0);
  assert_true(ledger_canonical(rows[2]).rfind("20:realm-auth-ledger/v3,", 0) == 0);
  assert_string_equal(rows[3].key_id.c_str(), keys()[0].id.c_str());

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

// The SQL function cannot compute a keyed row (the database has no key):
// NULL for every row here; the links still check in SQL. (Unkeyed rows:
// test_legacy_rows_under_keyed.)
void test_sql_hash_matches(void**) {
  Conn app(conninfo("ledger_app"));
  assert_string_equal(app.value("SELECT count(*) FROM audit_ledger a WHERE key_id = '' OR"
                                " audit_ledger_row_hash(a) IS NOT NULL")
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
  PgAuditLedger ledger(pool, keys());
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
      PgAuditLedger ledger(pool, keys());
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
  PgAuditLedger ledger(pool, keys());
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
  assert_string_equal(
      app.exec("ALTER TABLE audit_ledger DISABLE TRIGGER audit_ledger_no_update_delete").c_str(),
      "42501");
  assert_string_equal(app.exec("ALTER TABLE audit_ledger DISABLE TRIGGER ALL").c_str(), "42501");
  assert_string_equal(app.exec("DROP TRIGGER audit_ledger_no_truncate ON audit_ledger").c_str(),
                      "42501");
  assert_string_equal(
      app.exec("CREATE OR REPLACE FUNCTION audit_ledger_refuse_change() RETURNS trigger"
               " LANGUAGE plpgsql AS $$ BEGIN RETURN OLD; END $$")
          .c_str(),
      "42501");
  assert_string_equal(app.exec("SET session_replication_role = replica").c_str(), "42501");
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

// Owner-side helpers for the tampering cases: what whoever owns the table
// can do without the sidecar's key. The owner re-grants itself the
// privileges the migration revoked and disables the triggers (it owns the
// table), then changes rows; `undo` puts everything back.
void owner_unlocks(Conn& owner) {
  owner.must("GRANT UPDATE, DELETE ON audit_ledger TO ledger_owner");
  owner.must("ALTER TABLE audit_ledger DISABLE TRIGGER audit_ledger_no_update_delete");
}
void owner_relocks(Conn& owner) {
  owner.must("ALTER TABLE audit_ledger ENABLE TRIGGER audit_ledger_no_update_delete");
  owner.must("REVOKE UPDATE, DELETE ON audit_ledger FROM ledger_owner");
}

// Re-hashes rows seq >= from with the database's own function, as the
// owner would to hide a change: each row gets key_id '' (the only form the
// database can compute), the previous row's new hash and its own new hash.
const char kRehashSuffix[] = R"sql(
DO $$
DECLARE
  r audit_ledger;
  prev text;
BEGIN
  SELECT coalesce((SELECT row_hash FROM audit_ledger WHERE seq = %FROM% - 1), repeat('0', 64))
    INTO prev;
  FOR r IN SELECT * FROM audit_ledger WHERE seq >= %FROM% ORDER BY seq LOOP
    r.key_id := '';
    r.prev_hash := prev;
    IF r.seq = %FROM% THEN r.reason := 'nothing happened'; END IF;
    r.row_hash := audit_ledger_row_hash(r);
    UPDATE audit_ledger SET key_id = r.key_id, prev_hash = r.prev_hash, reason = r.reason,
                            row_hash = r.row_hash WHERE seq = r.seq;
    prev := r.row_hash;
  END LOOP;
END
$$)sql";

std::string rehash_from(int64_t from) {
  std::string sql = kRehashSuffix;
  const std::string tag = "%FROM%", v = std::to_string(from);
  for (size_t at; (at = sql.find(tag)) != std::string::npos;) sql.replace(at, tag.size(), v);
  return sql;
}

// A database migrated to 0005 with rows written by the sidecar of then
// (plain SHA-256, forms v1 and v2), then migrated to 0006: the old rows
// verify as the older form, new appends are keyed and continue the chain,
// the SQL function still checks the old rows, and re-hashing an old row
// with it is caught at the first keyed row, whose HMAC covers its prev_hash.
void test_legacy_rows_under_keyed(void**) {
  Conn su(conninfo(g_super, "postgres"));
  su.must("CREATE DATABASE ledger_legacy OWNER ledger_owner");
  const std::string old_dir = g_tmp + "/migrations-0005";
  assert_int_equal(mkdir(old_dir.c_str(), 0700), 0);
  std::vector<MigrationFile> files;
  std::string error;
  assert_true(list_migrations(g_migrations, files, error));
  for (const auto& f : files) {
    if (f.version > "0005") continue;
    assert_int_equal(symlink(f.path.c_str(), (old_dir + "/" + f.name).c_str()), 0);
  }
  const std::string owner_info =
      conninfo("ledger_owner", "ledger_legacy", "options='-c realm_auth.app_role=ledger_app'");
  {
    PgPool owner(owner_info, 1);
    std::vector<std::string> applied;
    assert_true(apply_migrations(owner, old_dir, applied, error));
    assert_int_equal(applied.size(), 5);
  }
  // Three rows as the sidecar of 0005 wrote them (v1, v2, v1).
  Conn owner(owner_info);
  std::string prev = kGenesisHash;
  for (int seq = 1; seq <= 3; ++seq) {
    AuditRow r;
    r.seq = seq;
    r.occurred_at = "2025-01-02T03:04:0" + std::to_string(seq) + ".123456Z";
    r.event = event("REQUEST", "legacy", "old-" + std::to_string(seq));
    r.event.details_json = "{}";
    if (seq == 2) r.event.tenant_incarnation = "aaaaaaaa-0000-4000-8000-000000000009";
    r.prev_hash = prev;
    r.row_hash = ledger_row_hash(r);
    owner.must(
        "INSERT INTO audit_ledger (seq, occurred_at, event_type, request_id, actor_id,"
        " actor_realm, tenant_id, action, purpose, decision, reason, details, prev_hash,"
        " row_hash, tenant_incarnation) VALUES (" +
        std::to_string(seq) + ", '" + r.occurred_at + "', 'REQUEST', '" + r.event.request_id +
        "', 'user-1', 'platform', 'legacy', 'tenant.create',"
        " 'onboarding', '', '', '{}', '" +
        r.prev_hash + "', '" + r.row_hash + "', '" + r.event.tenant_incarnation + "')");
    prev = r.row_hash;
  }
  for (int i = 0; i < 5; ++i) unlink((old_dir + "/" + files[i].name).c_str());
  rmdir(old_dir.c_str());
  {
    PgPool owner_pool(owner_info, 1);
    std::vector<std::string> applied;
    assert_true(apply_migrations(owner_pool, g_migrations, applied, error));
    assert_true(!applied.empty() && applied.front().rfind("0006", 0) == 0);
  }
  PgPool pool(conninfo("ledger_app", "ledger_legacy"), 1);
  PgAuditLedger ledger(pool, keys());
  assert_true(ledger.append(event("REQUEST", "legacy", "new-1")));
  assert_true(ledger.append(event("AUTHZ_DECISION", "legacy", "new-1")));
  ChainCheck check;
  assert_true(ledger.verify_chain(check, error));
  assert_true(check.ok);
  assert_int_equal(check.rows_checked, 5);
  assert_int_equal(check.keyed_rows, 2);
  assert_string_equal(
      owner.value("SELECT string_agg(key_id, ',' ORDER BY seq) FROM audit_ledger").c_str(),
      (",,," + keys()[0].id + "," + keys()[0].id).c_str());
  // The database's own check still covers the old rows, and only them.
  assert_string_equal(owner
                          .value("SELECT count(*) FROM audit_ledger a WHERE key_id = '' AND"
                                 " a.row_hash = audit_ledger_row_hash(a)")
                          .c_str(),
                      "3");
  // Without the key the keyed rows do not verify at all.
  PgAuditLedger keyless(pool, {});
  assert_true(keyless.verify_chain(check, error));
  assert_false(check.ok);
  assert_int_equal(check.first_broken_seq, 4);
  assert_non_null(strstr(check.why.c_str(), "not among the configured keys"));

  // The owner rewrites old row 2 and re-hashes rows 2..3 in SQL: the first
  // keyed row still links to the original row 3.
  owner_unlocks(owner);
  owner.must(
      "UPDATE audit_ledger a SET reason = 'nothing happened' WHERE seq = 2;"
      "UPDATE audit_ledger a SET row_hash = audit_ledger_row_hash(a) WHERE seq = 2;"
      "UPDATE audit_ledger SET prev_hash = (SELECT row_hash FROM audit_ledger WHERE seq = 2)"
      " WHERE seq = 3;"
      "UPDATE audit_ledger a SET row_hash = audit_ledger_row_hash(a) WHERE seq = 3");
  owner_relocks(owner);
  assert_true(ledger.verify_chain(check, error));
  assert_false(check.ok);
  assert_int_equal(check.first_broken_seq, 4);
  print_message("legacy rows 2..3 re-hashed in SQL: %s\n", check.why.c_str());
  assert_non_null(strstr(check.why.c_str(), "row 4: prev_hash mismatch"));
}

// The owner, trigger disabled, cuts rows off the tail. The keyed chain that
// is left is valid (as today's plain chain was: that is the hole), but it no
// longer reaches the head the sidecar published outside the database.
void test_owner_truncates_tail(void**) {
  PgPool pool(conninfo("ledger_app"), 1);
  PgAuditLedger ledger(pool, keys(), head_file());
  PgAuditLedger unanchored(pool, keys());  // no published head: today's check
  std::string error;
  ChainCheck check;
  // Before anything was published, verify fails closed.
  assert_false(ledger.verify_chain(check, error));
  assert_non_null(strstr(error.c_str(), "no published head"));

  assert_true(ledger.append(event("REQUEST", "tail", "t1")));
  HeadPublication p = ledger.publish_head();
  assert_int_equal(p.status, HeadPublication::kPublished);
  assert_true(ledger.append(event("AUTHZ_DECISION", "tail", "t1")));
  assert_true(ledger.append(event("TENANT_CREATED", "tail", "t1")));
  p = ledger.publish_head();
  assert_int_equal(p.status, HeadPublication::kPublished);
  const int64_t head = p.head.seq;
  assert_int_equal(ledger.publish_head().status, HeadPublication::kUnchanged);
  LedgerHead published;
  assert_true(ledger.verify_chain(check, error, &published));
  assert_true(check.ok);
  assert_int_equal(published.seq, head);
  assert_int_equal(check.head_seq, head);

  Conn owner(conninfo("ledger_owner"));
  owner_unlocks(owner);
  owner.must("CREATE TEMP TABLE cut AS SELECT * FROM audit_ledger WHERE seq > " +
             std::to_string(head - 3));
  owner.must("DELETE FROM audit_ledger WHERE seq > " + std::to_string(head - 3));
  owner_relocks(owner);

  assert_true(unanchored.verify_chain(check, error));
  assert_true(check.ok);  // a shorter chain is still a valid chain
  assert_true(ledger.verify_chain(check, error));
  assert_false(check.ok);
  assert_int_equal(check.first_broken_seq, head - 2);
  print_message("tail of 3 rows cut: %s\n", check.why.c_str());
  assert_non_null(strstr(check.why.c_str(), "published as its head"));
  int64_t rows = 0, broken = 0;
  std::string why;
  assert_false(ledger.verify(rows, broken, why));
  assert_int_equal(broken, head - 2);
  // The publisher refuses to move the head back, and says why.
  p = ledger.publish_head();
  assert_int_equal(p.status, HeadPublication::kTampered);
  assert_true(ledger.verify_chain(check, error, &published));
  assert_int_equal(published.seq, head);

  // Appending on top of the cut does not hide it: seq `head` exists
  // again, with another hash.
  for (int i = 0; i < 3; ++i) assert_true(ledger.append(event("REQUEST", "tail", "after-cut")));
  assert_true(ledger.verify_chain(check, error));
  assert_false(check.ok);
  assert_int_equal(check.first_broken_seq, head);
  assert_non_null(strstr(check.why.c_str(), "differs from the published head"));
  assert_int_equal(ledger.publish_head().status, HeadPublication::kTampered);

  // Putting the exact rows back restores the chain.
  owner_unlocks(owner);
  owner.must("DELETE FROM audit_ledger WHERE seq > " + std::to_string(head - 3));
  owner.must("INSERT INTO audit_ledger SELECT * FROM cut");
  owner_relocks(owner);
  assert_true(ledger.verify_chain(check, error));
  assert_true(check.ok);
}

// The owner, trigger disabled, changes a row and re-hashes it and every
// later row with the database's own function (today's complete forgery).
void test_owner_rehashes_suffix(void**) {
  PgPool pool(conninfo("ledger_app"), 1);
  PgAuditLedger ledger(pool, keys(), head_file());
  PgAuditLedger unanchored(pool, keys());
  std::string error;
  ChainCheck check;
  assert_true(ledger.append(event("REQUEST", "suffix", "s1")));
  assert_true(ledger.append(event("AUTHZ_DECISION", "suffix", "s1")));
  assert_int_equal(ledger.publish_head().status, HeadPublication::kPublished);
  assert_true(ledger.verify_chain(check, error));
  assert_true(check.ok);
  const int64_t head = check.head_seq;

  Conn owner(conninfo("ledger_owner"));
  owner_unlocks(owner);
  owner.must("CREATE TEMP TABLE saved AS SELECT * FROM audit_ledger");
  // A suffix after keyed rows: the re-hashed rows cannot be keyed.
  owner.must(rehash_from(head - 5));
  owner_relocks(owner);
  assert_true(unanchored.verify_chain(check, error));
  assert_false(check.ok);
  assert_int_equal(check.first_broken_seq, head - 5);
  print_message("suffix from %lld re-hashed in SQL: %s\n", static_cast<long long>(head - 5),
                check.why.c_str());
  assert_non_null(strstr(check.why.c_str(), "unkeyed row after keyed rows"));

  // The whole chain re-hashed from row 1: no keyed row is left to betray
  // it, but the published head is not in it.
  owner_unlocks(owner);
  owner.must(rehash_from(1));
  owner_relocks(owner);
  assert_true(unanchored.verify_chain(check, error));
  assert_true(check.ok);  // what the database alone can still tell: nothing
  assert_true(ledger.verify_chain(check, error));
  assert_false(check.ok);
  assert_int_equal(check.first_broken_seq, head);
  print_message("whole chain re-hashed in SQL: %s\n", check.why.c_str());
  assert_non_null(strstr(check.why.c_str(), "differs from the published head"));
  assert_int_equal(ledger.publish_head().status, HeadPublication::kTampered);

  owner_unlocks(owner);
  owner.must(
      "UPDATE audit_ledger a SET key_id = s.key_id, prev_hash = s.prev_hash, reason = s.reason,"
      " row_hash = s.row_hash FROM saved s WHERE a.seq = s.seq");
  owner_relocks(owner);
  assert_true(ledger.verify_chain(check, error));
  assert_true(check.ok);
}

// The head file is the sidecar host's, sealed with the ledger key: a file
// written without the key, or a head of another ledger, is refused.
void test_head_file_forged(void**) {
  PgPool pool(conninfo("ledger_app"), 1);
  PgAuditLedger ledger(pool, keys(), head_file());
  ChainCheck check;
  std::string error;
  LedgerHead good;
  assert_true(ledger.verify_chain(check, error, &good));
  assert_true(check.ok);
  // Sealed with another key: does not open.
  LedgerHead low = good;
  low.seq = 1;
  assert_true(write_ledger_head(head_file(), {realm_auth::make_seal_key(std::string(40, 'x'))}, low,
                                error));
  assert_false(ledger.verify_chain(check, error));
  assert_non_null(strstr(error.c_str(), "published head"));
  assert_int_equal(ledger.publish_head().status, HeadPublication::kTampered);
  // Not sealed at all.
  {
    FILE* f = fopen(head_file().c_str(), "w");
    assert_non_null(f);
    fprintf(f, "1 %s\n", kGenesisHash);
    fclose(f);
  }
  assert_false(ledger.verify_chain(check, error));
  // The real head back.
  assert_true(write_ledger_head(head_file(), keys(), good, error));
  assert_true(ledger.verify_chain(check, error));
  assert_true(check.ok);
}

// Without a key the ledger writes nothing (an unkeyed row is one the
// database's owner could forge).
void test_unkeyed_append_refused(void**) {
  PgPool pool(conninfo("ledger_app"), 1);
  PgAuditLedger ledger(pool, {});
  assert_false(ledger.append(event("REQUEST", "demo", "nokey")));
  assert_non_null(strstr(ledger.last_error().c_str(), "no ledger key"));
}

void test_tamper_named_by_verify(void**) {
  Conn su(conninfo(g_super));
  PgPool pool(conninfo("ledger_app"), 1);
  PgAuditLedger ledger(pool, keys());
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
  PgAuditLedger ledger(pool, keys());
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
      cmocka_unit_test(test_legacy_rows_under_keyed),
      cmocka_unit_test(test_owner_truncates_tail),
      cmocka_unit_test(test_owner_rehashes_suffix),
      cmocka_unit_test(test_head_file_forged),
      cmocka_unit_test(test_unkeyed_append_refused),
      cmocka_unit_test(test_tamper_named_by_verify),
      cmocka_unit_test(test_unreachable),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
