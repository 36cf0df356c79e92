#!/usr/bin/env bash
# realm-sidecar for the local stack: start|stop|status|restart.
#
# Applies the migrations as the database's owner (POSTGRES_USER, naming
# POSTGRES_APP_USER as realm_auth.app_role so they grant it its rights),
# then runs `realm-sidecar serve` on SIDECAR_HOST:SIDECAR_PORT (loopback) in
# its own session as POSTGRES_APP_USER, with the stack's PostgreSQL
# (passwords through PGPASSFILE), Redis, Keycloak and the secrets generated
# in .state/secrets. Logs to .state/sidecar/sidecar.log; publishes the
# ledger's head to .state/sidecar/ledger-head.
set -euo pipefail
COMPONENT=sidecar
. "$(dirname "$0")/common.sh"

dir=$STATE_DIR/sidecar
pidfile=$dir/sidecar.pid
logfile=$dir/sidecar.log
bin=${REALM_SIDECAR_BIN:-$STACK_ROOT/build/bin/realm-sidecar}

# The sidecar's configuration, derived from conf/stack.env. Only file paths
# of secrets are passed, never their values.
sidecar_env() {
  export REALM_SIDECAR_LISTEN=$SIDECAR_HOST:$SIDECAR_PORT
  export KEYCLOAK_URL PROVISIONER_CLIENT_ID
  export PROVISIONER_SECRET_FILE=$SECRETS_DIR/provisioner.secret
  export DATABASE_URL="host=127.0.0.1 port=$POSTGRES_PORT dbname=$POSTGRES_DB user=$POSTGRES_APP_USER"
  export PGPASSFILE=$SECRETS_DIR/pgpass
  export SECRET_KEY_FILE=$SECRETS_DIR/sidecar-aes.key
  export AUDIT_HMAC_KEY_FILE=$SECRETS_DIR/ledger-hmac.key
  # Overridable so that a private sidecar on its own database (t/e2e/074)
  # does not publish over the stack's head.
  export AUDIT_HEAD_FILE=${AUDIT_HEAD_FILE:-$STATE_DIR/sidecar/ledger-head}
  export REDIS_HOST=127.0.0.1 REDIS_PORT REDIS_PREFIX=realm_auth:
  export REDIS_USER=sidecar REDIS_PASSWORD_FILE=$SECRETS_DIR/redis-sidecar.password
  export REDIS_HMAC_KEY_FILE=$SECRETS_DIR/redis-hmac.key
  export REALM_SIDECAR_MIGRATIONS=$STACK_ROOT/migrations
  export TENANT_CONSOLE_REDIRECT_URIS="http://localhost:$NGINX_PORT/* http://localhost:3000/*"
  # No TENANT_CONSOLE_PASSWORD_GRANT: admin-console never allows the password
  # grant; scripts log in through Keycloak's pages (docs/LOGIN.md).
  unset TENANT_CONSOLE_PASSWORD_GRANT
  export POLICY_URL=${POLICY_URL:-}
  # Keycloak reaches the sidecar's back-channel logout through nginx.
  export BACKCHANNEL_LOGOUT_BASE_URL=${BACKCHANNEL_LOGOUT_BASE_URL:-http://127.0.0.1:$NGINX_PORT/backchannel-logout}
}

# The migrations run as the owner; realm_auth.app_role names the role they
# grant the sidecar's rights to.
migrate() {
  DATABASE_URL="host=127.0.0.1 port=$POSTGRES_PORT dbname=$POSTGRES_DB user=$POSTGRES_USER" \
    PGOPTIONS="-c realm_auth.app_role=$POSTGRES_APP_USER" "$bin" migrate
}

healthy() {
  [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://$SIDECAR_HOST:$SIDECAR_PORT/healthz" || true) == 200 ]]
}

# What the command line of our sidecar contains (a reused pid lacks it).
pattern="$bin serve"

start() {
  if healthy; then
    log "already running (pid $(pid_of "$pidfile" || echo '?'))"
    return 0
  fi
  # Not answering: a sidecar still starting gets until it is
  # SIDECAR_START_TIMEOUT seconds old; a wedged one is killed, a dead one
  # (even an unreaped zombie) is replaced.
  settle "$pidfile" "$pattern" sidecar "${SIDECAR_START_TIMEOUT:-15}" healthy && {
    log "running (pid $(<"$pidfile"))"
    return 0
  }
  [[ -x $bin ]] || die "$bin not built (run 'make build')"
  port_busy "$SIDECAR_PORT" && die "port $SIDECAR_PORT is already in use; change SIDECAR_PORT in conf/stack.local.env"
  stack_secrets_init
  mkdir -p "$dir"
  sidecar_env
  migrate >>"$logfile" 2>&1 || { tail -n 5 "$logfile" >&2; die "migrations failed; see $logfile"; }
  log "starting on $REALM_SIDECAR_LISTEN"
  printf '\n==== %s start ====\n' "$(date -Is)" >>"$logfile"
  setsid "$bin" serve >>"$logfile" 2>&1 </dev/null &
  echo $! >"$pidfile"
  if ! wait_for "${SIDECAR_START_TIMEOUT:-15}" healthy; then
    tail -n 20 "$logfile" >&2 || true
    die "sidecar did not answer on $REALM_SIDECAR_LISTEN; see $logfile"
  fi
  log "ready (pid $(<"$pidfile"), log $logfile)"
}

status() {
  if healthy; then
    printf '%-10s running  pid %-7s http://%s:%s\n' sidecar "$(pid_of "$pidfile" || echo '?')" "$SIDECAR_HOST" "$SIDECAR_PORT"
    return 0
  fi
  printf '%-10s down     %s; /healthz does not answer on %s:%s\n' sidecar \
    "$(describe_down "$pidfile" "$pattern")" "$SIDECAR_HOST" "$SIDECAR_PORT"
  return 3
}

# run ARGS...: a realm-sidecar command with the stack's configuration
# (e.g. `scripts/stack/sidecar.sh run audit verify`).
run() {
  sidecar_env
  exec "$bin" "$@"
}

case ${1:-} in
  start) start ;;
  stop) stop_pid "$pidfile" sidecar 30 "$pattern" ;;
  restart) stop_pid "$pidfile" sidecar 30 "$pattern"; start ;;
  status) status ;;
  migrate) stack_secrets_init; sidecar_env; migrate ;;
  run) shift; run "$@" ;;
  *) die "usage: $0 start|stop|restart|status|migrate|run ARGS..." ;;
esac
