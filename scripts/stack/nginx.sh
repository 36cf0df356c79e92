#!/usr/bin/env bash
# nginx with the realm_auth module for the local stack: start|stop|status|reload.
#
# Renders conf/nginx/realm-auth.conf.in into .state/nginx/nginx.conf with
# the ports of conf/stack.env, tests it (nginx -t) and starts Debian's
# nginx with that file and prefix .state/nginx, so it never touches
# /etc/nginx or the system's nginx service.
set -euo pipefail
COMPONENT=nginx
. "$(dirname "$0")/common.sh"

dir=$STATE_DIR/nginx
conf=$dir/nginx.conf
pidfile=$dir/nginx.pid
module=${REALM_AUTH_MODULE:-$STACK_ROOT/build/modules/ngx_http_realm_auth_module.so}
: "${BACKEND_PORT:=8001}"
template=$STACK_ROOT/conf/nginx/realm-auth.conf.in

command -v nginx >/dev/null || die "nginx not found (apt-get install nginx)"

render() {
  [[ -f $module ]] || die "module $module not built (run 'make build')"
  mkdir -p "$dir"/tmp/{client_body,proxy,fastcgi,uwsgi,scgi} "$dir/empty"
  local user_directive=""
  if [[ $(id -u) -eq 0 ]]; then
    # Workers drop root; they only write temp files under .state/nginx/tmp.
    local u=www-data
    id "$u" >/dev/null 2>&1 || u=nobody
    user_directive="user $u;"
    chown -R "$u" "$dir/tmp"
  fi
  MODULE=$module STATE=$dir CONSOLE_DIR=$STACK_ROOT/console USER_DIRECTIVE=$user_directive BACKEND_PORT=$BACKEND_PORT \
    python3 - "$template" "$conf.tmp" <<'PY'
import os, re, sys
text = open(sys.argv[1]).read()
def sub(m):
    v = os.environ.get(m.group(1))
    if v is None:
        sys.exit("nginx.sh: no value for @%s@" % m.group(1))
    return v
open(sys.argv[2], "w").write(re.sub(r"@([A-Z_]+)@", sub, text))
PY
  mv "$conf.tmp" "$conf"
}

# The master's command line names our config (a reused pid does not).
pattern="-c $conf"
running() { pid_alive "$pidfile" "$pattern"; }
ready() { [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$NGINX_PORT/tenants" || true) == 401 ]]; }
# nginx is up when its master lives (without it nothing reloads, reopens
# logs or replaces a dying worker) and it answers.
up() { running && ready; }

# Workers outlive a SIGKILLed master and keep serving: they share its process
# group (the master is its session leader), so they are found by that group
# as long as one of them holds the group's id. Only for a master that is
# gone or a zombie: a pid reused by another program is never signalled.
kill_orphans() {
  local pid state
  state=$(pid_state "$pidfile" "$pattern")
  [[ $state == gone || $state == zombie ]] || return 0
  pid=$(pid_of "$pidfile")
  if kill -0 -- "-$pid" 2>/dev/null; then
    log "master (pid $pid) is $state; killing the workers it left (process group $pid)"
    kill -KILL -- "-$pid" 2>/dev/null || true
    wait_for 10 eval '! port_busy "$NGINX_PORT"' || true
  fi
}

start() {
  if up; then
    log "already running (pid $(<"$pidfile"))"
    return 0
  fi
  kill_orphans
  settle "$pidfile" "$pattern" nginx 10 ready && {
    log "running (pid $(<"$pidfile"))"
    return 0
  }
  port_busy "$NGINX_PORT" && die "port $NGINX_PORT is already in use; change NGINX_PORT in conf/stack.local.env"
  port_busy "$BACKEND_PORT" && die "port $BACKEND_PORT (sample backend) is already in use; set BACKEND_PORT"
  render
  nginx -t -q -p "$dir" -c "$conf" 2>>"$dir/error.log" || die "nginx -t failed for $conf; see $dir/error.log"
  log "starting on 127.0.0.1:$NGINX_PORT (config $conf)"
  nginx -p "$dir" -c "$conf" || die "nginx failed to start; see $dir/error.log"
  wait_for 10 up || die "nginx did not answer on :$NGINX_PORT; see $dir/error.log"
  log "ready: http://localhost:$NGINX_PORT/tenants (sidecar), /api/ (sample backend)"
}

reload() {
  running || die "not running"
  render
  nginx -t -q -p "$dir" -c "$conf" || die "nginx -t failed for $conf"
  nginx -p "$dir" -c "$conf" -s reload
  log "reloaded"
}

stop() {
  if running; then
    nginx -p "$dir" -c "$conf" -s quit 2>/dev/null || true
    wait_for 10 eval '! running' || true
  fi
  kill_orphans
  stop_pid "$pidfile" nginx 10 "$pattern"
}

status() {
  if up; then
    printf '%-10s running  pid %-7s http://localhost:%s\n' nginx "$(<"$pidfile")" "$NGINX_PORT"
    return 0
  fi
  local why
  why=$(describe_down "$pidfile" "$pattern")
  if running; then
    why="$why on :$NGINX_PORT"
  elif ready; then
    why="master: $why; orphaned workers still answer on :$NGINX_PORT"
  else
    why="$why; nothing answers on :$NGINX_PORT"
  fi
  printf '%-10s down     %s\n' nginx "$why"
  return 3
}

case ${1:-} in
  start) start ;;
  stop) stop ;;
  reload) reload ;;
  status) status ;;
  *) die "usage: $0 start|stop|reload|status" ;;
esac
