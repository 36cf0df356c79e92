#!/usr/bin/env bash
# Run once by the postgres image on an empty data directory (mounted into
# /docker-entrypoint-initdb.d). Like scripts/stack/postgres.sh for `make up`:
# the sidecar's role realm_auth is a plain LOGIN role (not a superuser) that
# owns the database realm_auth, and migrations run as that owner. The
# image's superuser (postgres, password POSTGRES_PASSWORD) is for operators
# with psql only. The password is read from the environment inside psql
# (\getenv, psql 15+), so it is on no command line.
set -eo pipefail
if [[ -z ${REALM_AUTH_DB_PASSWORD:-} ]]; then
  echo "10-realm-auth.sh: REALM_AUTH_DB_PASSWORD is empty (set it in docker/.env)" >&2
  exit 1
fi
psql -X -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname postgres <<'SQL'
\getenv realm_auth_password REALM_AUTH_DB_PASSWORD
CREATE ROLE realm_auth LOGIN PASSWORD :'realm_auth_password';
CREATE DATABASE realm_auth OWNER realm_auth;
SQL
