#include "store/migrate.h"

#include <dirent.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>

namespace realm_sidecar {

namespace {

// Arbitrary constant shared by every sidecar: "realm-sidecar migrate".
constexpr const char* kMigrateLock = "SELECT pg_advisory_lock(7412001)";
constexpr const char* kMigrateUnlock = "SELECT pg_advisory_unlock(7412001)";

bool valid_name(const std::string& n) {
  if (n.size() < 10 || n.compare(n.size() - 4, 4, ".sql") != 0 || n[4] != '_') return false;
  for (size_t i = 0; i < 4; i++) {
    if (!std::isdigit(static_cast<unsigned char>(n[i]))) return false;
  }
  for (size_t i = 5; i < n.size() - 4; i++) {
    char c = n[i];
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') return false;
  }
  return true;
}

// Runs a whole file (several statements) as one simple query: PQexec is
// the only libpq call that accepts multiple statements, and migration
// files are trusted repository content, not input.
bool exec_script(PgSession& s, const std::string& sql, std::string& error) {
  PgResultPtr r(PQexec(s.raw(), sql.c_str()));
  ExecStatusType st = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return true;
  error = r ? PQresultErrorMessage(r.get()) : PQerrorMessage(s.raw());
  while (!error.empty() && error.back() == '\n') error.pop_back();
  return false;
}

}  // namespace

bool list_migrations(const std::string& dir, std::vector<MigrationFile>& out, std::string& error) {
  std::unique_ptr<DIR, int (*)(DIR*)> d(opendir(dir.c_str()), &closedir);
  if (!d) {
    error = "cannot read migrations directory " + dir;
    return false;
  }
  out.clear();
  while (struct dirent* e = readdir(d.get())) {
    std::string name = e->d_name;
    if (!valid_name(name)) continue;
    out.push_back({name.substr(0, 4), name, dir + "/" + name});
  }
  std::sort(out.begin(), out.end(),
            [](const MigrationFile& a, const MigrationFile& b) { return a.name < b.name; });
  for (size_t i = 1; i < out.size(); i++) {
    if (out[i].version == out[i - 1].version) {
      error = "two migrations share version " + out[i].version + ": " + out[i - 1].name + " and " +
              out[i].name;
      return false;
    }
  }
  return true;
}

bool apply_migrations(PgPool& pool, const std::string& dir, std::vector<std::string>& applied,
                      std::string& error) {
  std::vector<MigrationFile> files;
  if (!list_migrations(dir, files, error)) return false;
  PgSession s = pool.acquire();
  if (!s.healthy()) {
    error = "PostgreSQL is unreachable";
    return false;
  }
  if (!exec_script(s, kMigrateLock, error)) return false;
  // Unlock on every exit path; the lock is also dropped with the connection.
  struct Unlock {
    PgSession& s;
    ~Unlock() { PgResultPtr r(PQexec(s.raw(), kMigrateUnlock)); }
  } unlock{s};

  if (!exec_script(s,
                   "SET client_min_messages = warning;"
                   "CREATE TABLE IF NOT EXISTS schema_migrations (version text PRIMARY KEY,"
                   " name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
                   error)) {
    return false;
  }
  PgResult done = s.exec("SELECT version FROM schema_migrations");
  if (!done.ok) {
    error = "reading schema_migrations: " + done.error;
    return false;
  }
  std::set<std::string> have;
  for (int i = 0; i < done.rows(); i++) have.insert(done.get(i, 0));

  for (const MigrationFile& f : files) {
    if (have.count(f.version)) continue;
    std::ifstream in(f.path);
    std::stringstream sql;
    sql << in.rdbuf();
    if (!in) {
      error = "cannot read " + f.path;
      return false;
    }
    std::string why;
    bool ok = exec_script(s, "BEGIN", why) && exec_script(s, sql.str(), why);
    if (ok) {
      PgResult r = s.exec("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                          {f.version, f.name});
      ok = r.ok;
      if (!ok) why = r.error;
    }
    if (ok) ok = exec_script(s, "COMMIT", why);
    if (!ok) {
      std::string ignored;
      exec_script(s, "ROLLBACK", ignored);
      error = f.name + ": " + why;
      return false;
    }
    applied.push_back(f.name);
  }
  return true;
}

}  // namespace realm_sidecar
