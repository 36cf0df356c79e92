// A database of its own on the throwaway PostgreSQL cluster that
// with_pg_cluster.sh starts, migrated the way the stack does it: as its
// owner, naming the application role the sidecar runs as.
#pragma once

#include <cstdlib>
#include <string>
#include <vector>

#include "sidecar_test.h"
#include "store/migrate.h"
#include "store/pg.h"

namespace pg_test {

// "host=… port=… connect_timeout=10" of the cluster, once create_migrated_db ran.
inline std::string& base() {
  static std::string b;
  return b;
}

inline std::string conninfo(const std::string& user, const std::string& db,
                            const std::string& extra = "") {
  return base() + " user=" + user + " dbname=" + db + (extra.empty() ? "" : " " + extra);
}

inline void must(realm_sidecar::PgSession& s, const std::string& sql) {
  realm_sidecar::PgResult r = s.exec(sql);
  if (!r.ok) fail_msg("%s: %s %s", sql.c_str(), r.sqlstate.c_str(), r.error.c_str());
}

// Roles <name>_owner and <name>_app, database <name> owned by the first,
// every migration applied. False (with a message) outside with_pg_cluster.sh
// or when any step fails.
inline bool create_migrated_db(const std::string& name) {
  const char* host = getenv("GOV_PG_HOST");
  const char* port = getenv("GOV_PG_PORT");
  const char* super = getenv("GOV_PG_SUPERUSER");
  const char* mig = getenv("GOV_MIGRATIONS_DIR");
  if (!host || !port || !super || !mig) {
    print_error("run through with_pg_cluster.sh with GOV_MIGRATIONS_DIR set\n");
    return false;
  }
  base() = std::string("host=") + host + " port=" + port + " connect_timeout=10";
  {
    realm_sidecar::PgPool su(conninfo(super, "postgres"), 1);
    realm_sidecar::PgSession s = su.acquire();
    if (!s.healthy()) return false;
    must(s, "CREATE ROLE " + name + "_owner LOGIN");
    must(s, "CREATE ROLE " + name + "_app LOGIN");
    must(s, "CREATE DATABASE " + name + " OWNER " + name + "_owner");
  }
  realm_sidecar::PgPool owner(
      conninfo(name + "_owner", name, "options='-c realm_auth.app_role=" + name + "_app'"), 1);
  std::vector<std::string> applied;
  std::string error;
  if (!realm_sidecar::apply_migrations(owner, mig, applied, error)) {
    print_error("migrations: %s\n", error.c_str());
    return false;
  }
  return true;
}

}  // namespace pg_test
