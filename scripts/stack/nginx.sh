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
  MODULE=$module STATE=$dir USER_DIRECTIVE=$user_directive BACKEND_PORT=$BACKEND_PORT \
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

running() { pid_alive "$pidfile"; }
ready() { [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$NGINX_PORT/tenants" || true) == 401 ]]; }

start() {
  if running; then
    log "already running (pid $(<"$pidfile"))"
    return 0
  fi
  port_busy "$NGINX_PORT" && die "port $NGINX_PORT is already in use; change NGINX_PORT in conf/stack.local.env"
  port_busy "$BACKEND_PORT" && die "port $BACKEND_PORT (sample backend) is already in use; set BACKEND_PORT"
  render
  nginx -t -q -p "$dir" -c "$conf" 2>>"$dir/error.log" || die "nginx -t failed for $conf; see $dir/error.log"
  log "starting on 127.0.0.1:$NGINX_PORT (config $conf)"
  nginx -p "$dir" -c "$conf" || die "nginx failed to start; see $dir/error.log"
  wait_for 10 ready || die "nginx did not answer on :$NGINX_PORT; see $dir/error.log"
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
    wait_for 10 eval '! pid_alive "$pidfile"' || true
  fi
  stop_pid "$pidfile" nginx 10
}

status() {
  if running && ready; then
    printf '%-10s running  pid %-7s http://localhost:%s\n' nginx "$(<"$pidfile")" "$NGINX_PORT"
    return 0
  fi
  printf '%-10s stopped\n' nginx
  return 3
}

case ${1:-} in
  start) start ;;
  stop) stop ;;
  reload) reload ;;
  status) status ;;
  *) die "usage: $0 start|stop|reload|status" ;;
esac
