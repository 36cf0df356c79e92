// `realm-sidecar migrate`: applies migrations/NNNN_name.sql in numeric
// order, each file and its schema_migrations row in one transaction, so a
// failing file leaves nothing behind and a rerun applies only what is
// missing. A session-level advisory lock serializes concurrent migrators
// (two sidecars starting at once).
#pragma once

#include <string>
#include <vector>

#include "store/pg.h"

namespace realm_sidecar {

struct MigrationFile {
  std::string version;  // "0001"
  std::string name;     // "0001_tenants.sql"
  std::string path;
};

// Files named ^[0-9]{4}_[A-Za-z0-9_-]+\.sql$ in `dir`, sorted by version.
// False with `error` when the directory is unreadable or two files share
// a version.
bool list_migrations(const std::string& dir, std::vector<MigrationFile>& out, std::string& error);

// Applies what schema_migrations lacks; `applied` lists the names applied
// now. False with `error` naming the failing file.
bool apply_migrations(PgPool& pool, const std::string& dir, std::vector<std::string>& applied,
                      std::string& error);

}  // namespace realm_sidecar
