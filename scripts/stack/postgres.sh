#!/usr/bin/env bash
# PostgreSQL for the local stack: start|stop|status.
#
# A private cluster in .state/postgres/data, listening on 127.0.0.1:POSTGRES_PORT
# and on a unix socket in .state/postgres/run (not the system's /var/run/postgresql,
# so it never clashes with a packaged cluster). Role and database POSTGRES_USER /
# POSTGRES_DB are created idempotently; the role's password is
# .state/secrets/postgres.password, and .state/secrets/pgpass (PGPASSFILE format)
# lets libpq clients connect without putting it on a command line.
set -euo pipefail
COMPONENT=postgres
. "$(dirname "$0")/common.sh"

dir=$STATE_DIR/postgres
data=$dir/data
sock=$dir/run
logfile=$dir/postgres.log
pidfile=$dir/postgres.pid

pg_bin=${POSTGRES_BIN:-}
if [[ -z $pg_bin ]]; then
  for pg_bin in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
    [[ -x $pg_bin/pg_ctl ]] && break
  done
fi
[[ -x $pg_bin/pg_ctl ]] || die "PostgreSQL server binaries not found (apt-get install postgresql-15, or set POSTGRES_BIN)"

# The server refuses to run as root: as root, everything runs as the
# `postgres` system user, which owns .state/postgres.
if [[ $(id -u) -eq 0 ]]; then
  pg_os_user=postgres
  id postgres >/dev/null 2>&1 || die "running as root needs the 'postgres' system user (installed by the postgresql package)"
else
  pg_os_user=$(id -un)
fi
# The cluster's superuser has the OS user's name, so local peer auth works.
pg_super=$pg_os_user

as_pg() {
  if [[ $(id -u) -eq 0 ]]; then
    (cd "$dir" && runuser -u postgres -- "$@")
  else
    (cd "$dir" && "$@")
  fi
}

# The postmaster's own lock file names it; its command line names our data
# directory. (`pg_ctl status` only does `kill -0`, which a zombie passes.)
lockfile=$data/postmaster.pid
pattern="-D $data"
running() { pid_alive "$lockfile" "$pattern"; }
accepting() { "$pg_bin/pg_isready" -q -h 127.0.0.1 -p "$POSTGRES_PORT" -t 2; }

init_cluster() {
  [[ -s $data/PG_VERSION ]] && return
  log "initdb in $data"
  mkdir -p "$data" "$sock"
  if [[ $(id -u) -eq 0 ]] && ! runuser -u postgres -- test -x "$STATE_DIR"; then
    die "user postgres cannot reach $STATE_DIR (a parent directory lacks o+x; umask 077?)"
  fi
  [[ $(id -u) -eq 0 ]] && chown -R postgres:postgres "$dir"
  chmod 700 "$dir" "$data"
  as_pg "$pg_bin/initdb" -D "$data" -U "$pg_super" -E UTF8 --locale=C.UTF-8 \
    --auth-local=peer --auth-host=scram-sha-256 >>"$logfile" 2>&1 ||
    die "initdb failed; see $logfile"
}

# SQL string literal.
sql_quote() { local s=${1//\'/\'\'}; printf "'%s'" "$s"; }

# Role, password and database; safe to rerun.
ensure_db() {
  local pw app_pw
  pw=$(read_secret postgres.password)
  app_pw=$(read_secret postgres-app.password)
  # Piped through stdin: the password never reaches a command line.
  {
    printf 'SET client_min_messages = warning;\n'
    printf "SELECT format('CREATE ROLE %%I LOGIN', %s) WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = %s)\\\\gexec\n" \
      "$(sql_quote "$POSTGRES_USER")" "$(sql_quote "$POSTGRES_USER")"
    printf "SELECT format('ALTER ROLE %%I LOGIN PASSWORD %%L', %s, %s)\\\\gexec\n" \
      "$(sql_quote "$POSTGRES_USER")" "$(sql_quote "$pw")"
    # The application role: a plain login, never an owner or superuser.
    printf "SELECT format('CREATE ROLE %%I LOGIN', %s) WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = %s)\\\\gexec\n" \
      "$(sql_quote "$POSTGRES_APP_USER")" "$(sql_quote "$POSTGRES_APP_USER")"
    printf "SELECT format('ALTER ROLE %%I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD %%L', %s, %s)\\\\gexec\n" \
      "$(sql_quote "$POSTGRES_APP_USER")" "$(sql_quote "$app_pw")"
    printf "SELECT format('CREATE DATABASE %%I OWNER %%I', %s, %s) WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = %s)\\\\gexec\n" \
      "$(sql_quote "$POSTGRES_DB")" "$(sql_quote "$POSTGRES_USER")" "$(sql_quote "$POSTGRES_DB")"
  } | as_pg "$pg_bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$sock" -p "$POSTGRES_PORT" -U "$pg_super" -d postgres >/dev/null ||
    die "creating role/database $POSTGRES_USER/$POSTGRES_DB failed"
  (
    umask 077
    # host:port:database:username:password (':' and '\' escaped)
    pgpass_line() {
      local esc=${2//\\/\\\\}
      esc=${esc//:/\\:}
      # Any database of this cluster: tests run private sidecars on their
      # own databases (t/e2e/074) with the same roles.
      printf '127.0.0.1:%s:*:%s:%s\n' "$POSTGRES_PORT" "$1" "$esc"
    }
    { pgpass_line "$POSTGRES_USER" "$pw" && pgpass_line "$POSTGRES_APP_USER" "$app_pw"; } >"$SECRETS_DIR/pgpass"
  )
}

# ensure-db DB ROLE SECRET: a database DB owned by login role ROLE whose
# password is .state/secrets/SECRET (Keycloak's, scripts/stack/keycloak.sh);
# safe to rerun. The role may not create roles or databases.
ensure_other_db() {
  local db=$1 role=$2 pw
  accepting || die "not running on 127.0.0.1:$POSTGRES_PORT"
  pw=$(read_secret "$3")
  {
    printf 'SET client_min_messages = warning;\n'
    printf "SELECT format('CREATE ROLE %%I LOGIN', %s) WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = %s)\\\\gexec\n" \
      "$(sql_quote "$role")" "$(sql_quote "$role")"
    printf "SELECT format('ALTER ROLE %%I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD %%L', %s, %s)\\\\gexec\n" \
      "$(sql_quote "$role")" "$(sql_quote "$pw")"
    printf "SELECT format('CREATE DATABASE %%I OWNER %%I', %s, %s) WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = %s)\\\\gexec\n" \
      "$(sql_quote "$db")" "$(sql_quote "$role")" "$(sql_quote "$db")"
  } | as_pg "$pg_bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$sock" -p "$POSTGRES_PORT" -U "$pg_super" -d postgres >/dev/null ||
    die "creating role/database $role/$db failed"
}

# drop-db DB: drops a database made by ensure-db (tests' throwaway clusters).
drop_other_db() {
  [[ $1 != "$POSTGRES_DB" ]] || die "refusing to drop the stack's database $1"
  printf 'DROP DATABASE IF EXISTS %s WITH (FORCE);\n' "\"${1//\"/}\"" |
    as_pg "$pg_bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$sock" -p "$POSTGRES_PORT" -U "$pg_super" -d postgres >/dev/null
}

start() {
  stack_secrets_init
  if accepting; then
    log "already running (pid $(pid_of "$lockfile"))"
  elif [[ -e $lockfile ]] && settle "$lockfile" "$pattern" postgres "${POSTGRES_START_TIMEOUT:-30}" accepting; then
    log "running (pid $(pid_of "$lockfile"))"
  else
    # settle removed a lock file naming a dead, zombie or foreign process
    # (the server itself refuses to start while its pid passes kill -0) or
    # killed a postmaster that did not answer.
    port_busy "$POSTGRES_PORT" && die "port $POSTGRES_PORT is already in use; change POSTGRES_PORT in conf/stack.local.env"
    init_cluster
    mkdir -p "$sock"
    [[ $(id -u) -eq 0 ]] && chown postgres:postgres "$sock" "$dir" && touch "$logfile" && chown postgres:postgres "$logfile"
    log "starting on 127.0.0.1:$POSTGRES_PORT (socket dir $sock)"
    # Listen address, port and socket are passed on each start so a changed
    # POSTGRES_PORT applies to an existing cluster.
    as_pg "$pg_bin/pg_ctl" -D "$data" -l "$logfile" -w -t "${POSTGRES_START_TIMEOUT:-30}" \
      -o "-c listen_addresses=127.0.0.1 -p $POSTGRES_PORT -c unix_socket_directories=$sock" start >/dev/null ||
      die "postgres did not become ready on 127.0.0.1:$POSTGRES_PORT within ${POSTGRES_START_TIMEOUT:-30}s; see $logfile"
  fi
  wait_for "${POSTGRES_START_TIMEOUT:-30}" accepting ||
    die "postgres did not accept connections on 127.0.0.1:$POSTGRES_PORT within ${POSTGRES_START_TIMEOUT:-30}s; see $logfile"
  pid_of "$lockfile" >"$pidfile"
  ensure_db
  log "ready: postgresql://$POSTGRES_USER@127.0.0.1:$POSTGRES_PORT/$POSTGRES_DB (PGPASSFILE=$SECRETS_DIR/pgpass)"
}

stop() {
  if running; then
    as_pg "$pg_bin/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null || die "pg_ctl stop failed; see $logfile"
    log "postgres stopped"
  else
    log "postgres not running"
  fi
  rm -f "$pidfile"
}

status() {
  if accepting; then
    printf '%-10s running  pid %-7s postgresql://%s@127.0.0.1:%s/%s\n' postgres \
      "$(pid_of "$lockfile")" "$POSTGRES_USER" "$POSTGRES_PORT" "$POSTGRES_DB"
    return 0
  fi
  printf '%-10s down     %s; pg_isready fails on 127.0.0.1:%s\n' postgres \
    "$(describe_down "$lockfile" "$pattern")" "$POSTGRES_PORT"
  return 3
}

case ${1:-} in
  start) start ;;
  stop) stop ;;
  status) status ;;
  ensure-db) [[ $# -eq 4 ]] || die "usage: $0 ensure-db DB ROLE SECRET"; ensure_other_db "$2" "$3" "$4" ;;
  drop-db) [[ $# -eq 2 ]] || die "usage: $0 drop-db DB"; drop_other_db "$2" ;;
  *) die "usage: $0 start|stop|status|ensure-db DB ROLE SECRET|drop-db DB" ;;
esac
