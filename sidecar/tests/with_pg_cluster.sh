#!/usr/bin/env bash
# with_pg_cluster.sh COMMAND...: runs COMMAND against a throwaway PostgreSQL
# cluster and removes the cluster afterwards, whatever COMMAND does.
#
# initdb into a fresh temp dir; the server listens only on a unix socket in
# that dir (mode 700) on a free port number, so nothing else can reach it and
# it never clashes with another cluster. Local connections are trusted
# (nobody but the owner of the dir can reach the socket). As root, the
# server runs as the `postgres` OS user (runuser), which also names the
# superuser; otherwise as the calling user.
# COMMAND gets GOV_PG_HOST (socket dir), GOV_PG_PORT, GOV_PG_SUPERUSER.
# Exit 77 (CTest: skipped) when PostgreSQL's server binaries are missing,
# unless REALM_AUTH_REQUIRE_PG=1, which makes that a failure.
set -euo pipefail

pg_bin=${POSTGRES_BIN:-}
if [[ -z $pg_bin ]]; then
  for pg_bin in /usr/lib/postgresql/15/bin $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -rV); do
    [[ -x $pg_bin/pg_ctl ]] && break
  done
fi
if [[ ! -x $pg_bin/pg_ctl || ! -x $pg_bin/initdb ]]; then
  echo "with_pg_cluster: PostgreSQL server binaries not found (apt-get install postgresql-15 or set POSTGRES_BIN)" >&2
  [[ ${REALM_AUTH_REQUIRE_PG:-0} == 1 ]] && exit 1
  exit 77
fi

if [[ $(id -u) -eq 0 ]]; then
  super=postgres
  as_pg() { runuser -u postgres -- "$@"; }
else
  super=$(id -un)
  as_pg() { "$@"; }
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/realm-gov-pg.XXXXXX")
chmod 700 "$dir"
[[ $(id -u) -eq 0 ]] && chown postgres:postgres "$dir"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
started=0

cleanup() {
  local rc=$?
  if [[ $started == 1 ]]; then
    as_pg "$pg_bin/pg_ctl" -D "$dir/data" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
  fi
  if [[ $rc -ne 0 && $rc -ne 77 && -s $dir/postgres.log ]]; then
    echo "--- postgres log (last 40 lines) ---" >&2
    tail -n 40 "$dir/postgres.log" >&2
  fi
  rm -rf "$dir"
  exit $rc
}
trap cleanup EXIT

# cwd: the server's user must be able to stat it.
cd "$dir"
as_pg "$pg_bin/initdb" -D "$dir/data" -U "$super" -E UTF8 --locale=C.UTF-8 \
  --auth-local=trust --auth-host=reject --no-sync >"$dir/initdb.log" 2>&1 || {
  cat "$dir/initdb.log" >&2
  exit 1
}
as_pg "$pg_bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
  -o "-c listen_addresses='' -p $port -c unix_socket_directories=$dir -c fsync=off -c max_connections=200" \
  start >/dev/null
started=1

GOV_PG_HOST=$dir GOV_PG_PORT=$port GOV_PG_SUPERUSER=$super "$@"
