#!/usr/bin/env bash
# Redis for the local stack: start|stop|status.
# 127.0.0.1:REDIS_PORT only, no persistence (--save "", no AOF): it holds the
# shared JWKS tier and tenant state, both rebuilt from their sources.
#
# Redis is a trust boundary (docs/REDIS_TRUST.md): the default user is off;
# each client logs in as its own ACL user, allowed only its keys and
# commands (redis-acl.sh). Passwords are generated into
# .state/secrets/redis-<user>.password; the ACL file is written from them at
# every start (mode 600, .state/redis/users.acl).
set -euo pipefail
COMPONENT=redis
. "$(dirname "$0")/common.sh"

dir=$STATE_DIR/redis
pidfile=$dir/redis.pid
logfile=$dir/redis.log

command -v redis-server >/dev/null || die "redis-server not found (apt-get install redis-server)"

prefix=realm_auth:
aclfile=$dir/users.acl

# PONG within 3 s (a stopped server accepts the connection and never answers).
ping() {
  [[ -s $(secret_path redis-admin.password) ]] || return 1
  [[ $(REDISCLI_AUTH=$(read_secret redis-admin.password) \
    timeout 3 redis-cli --no-auth-warning -h 127.0.0.1 -p "$REDIS_PORT" --user admin ping 2>/dev/null) == PONG ]]
}

write_acl() {
  (
    umask 077
    "$(dirname "$0")/redis-acl.sh" "$SECRETS_DIR" "$prefix" >"$aclfile.tmp"
    mv "$aclfile.tmp" "$aclfile"
  )
}

# The server's process title (proc-title-template "{title} {listen-addr} ...").
pattern="127.0.0.1:$REDIS_PORT"

start() {
  if ping; then
    log "already running (pid $(pid_of "$pidfile" || echo '?'))"
  elif settle "$pidfile" "$pattern" redis "${REDIS_START_TIMEOUT:-10}" ping; then
    log "running (pid $(<"$pidfile"))"
  else
    port_busy "$REDIS_PORT" && die "port $REDIS_PORT is already in use; change REDIS_PORT in conf/stack.local.env"
    mkdir -p "$dir"
    stack_secrets_init
    write_acl
    log "starting on 127.0.0.1:$REDIS_PORT (ACL users nginx, sidecar, admin)"
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --protected-mode yes \
      --save "" --appendonly no --dir "$dir" --aclfile "$aclfile" \
      --daemonize yes --pidfile "$pidfile" --logfile "$logfile" ||
      die "redis-server failed to start; see $logfile"
  fi
  wait_for "${REDIS_START_TIMEOUT:-10}" ping ||
    die "redis did not become ready on 127.0.0.1:$REDIS_PORT within ${REDIS_START_TIMEOUT:-10}s; see $logfile"
  log "ready: redis://127.0.0.1:$REDIS_PORT"
}

status() {
  if ping; then
    printf '%-10s running  pid %-7s redis://127.0.0.1:%s\n' redis "$(pid_of "$pidfile" || echo '?')" "$REDIS_PORT"
    return 0
  fi
  printf '%-10s down     %s; PING unanswered on 127.0.0.1:%s\n' redis "$(describe_down "$pidfile" "$pattern")" "$REDIS_PORT"
  return 3
}

case ${1:-} in
  start) start ;;
  stop) stop_pid "$pidfile" redis 20 "$pattern" ;;
  status) status ;;
  *) die "usage: $0 start|stop|status" ;;
esac
