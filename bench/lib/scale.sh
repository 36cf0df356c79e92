# Shared by bench/parts/30-tenants.sh, 40-fleet.sh and 50-latency.sh
# (sourced): the module, the material cache, a static issuer, nginx
# instances of the part's own and their cleanup, status reads.
#   scale_init <name>   sets root, module, work (bench/work-<name>, emptied),
#                       cache ($REALM_AUTH_CACHE/bench), issuer_port
# Every process a part starts is stopped by the EXIT trap (pid files in $work).
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
module=${REALM_AUTH_MODULE:-$root/build/modules/ngx_http_realm_auth_module.so}
cache=${REALM_AUTH_CACHE:-$HOME/.cache/realm-auth}/bench
# Tokens carry the issuer's URL, port included: one port for the three
# parts (they run one after another), so their cached tokens stay valid.
issuer_port=${BENCH_ISSUER_PORT:-18890}
material=$root/bench/lib/tenant_material.py

scale_init() {
  work=$root/bench/work-$1
  [[ -f $module ]] || { echo "no module at $module (make build)" >&2; exit 1; }
  rm -rf "$work"
  mkdir -p "$work/html/cached" "$work/html/warm" "$work/logs"
  echo ok >"$work/html/cached/index.txt"
  echo ok >"$work/html/warm/index.txt"
  trap scale_cleanup EXIT
}

scale_pids=()
scale_cleanup() {
  local f
  for f in "$work"/*.pid; do [[ -f $f ]] && { kill "$(cat "$f")" 2>/dev/null || true; }; done
  for f in "${scale_pids[@]}"; do kill "$f" 2>/dev/null || true; done
  return 0
}

# wait_up URL: until it answers, whatever the status (10 s at most).
wait_up() {
  for _ in $(seq 100); do curl -sS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "$1 never answered" >&2
  return 1
}

# start_issuer PORT ROOT [LOG]: a plain nginx serving the JWKS documents
# under ROOT/realms/ (the tokens' issuer); LOG: its access log (one line per
# fetch: "<msec> <uri> <status>").
start_issuer() {
  local log=off
  [[ -n ${3:-} ]] && log="$3 fetches"
  cat >"$work/issuer-$1.conf" <<CONF
worker_processes 1;
error_log $work/logs/issuer-$1.log warn;
pid $work/issuer-$1.pid;
events { worker_connections 1024; }
http {
    log_format fetches '\$msec \$uri \$status';
    access_log $log;
    server { listen 127.0.0.1:$1; root $2;
             location /realms/ { default_type application/json; } }
}
CONF
  nginx -p "$work" -c "$work/issuer-$1.conf"
  wait_up "http://127.0.0.1:$1/realms/"
}

# start_nginx NAME: runs $work/NAME.conf (written by the caller; its pid file
# must be $work/NAME.pid).
start_nginx() {
  nginx -p "$work" -c "$work/$1.conf"
}

# status PORT JQ-FILTER: one value of the module's status document.
status() { curl -fsS "http://127.0.0.1:$1/status" | jq -r "$2"; }

# percentile P < numbers (one a line): the nearest-rank percentile.
percentile() { sort -n | awk -v p="$1" '{a[NR]=$1} END {i=int(NR*p/100+0.999999); if(i<1)i=1; print a[i]}'; }

median() { tr ' ' '\n' | grep -v '^$' | percentile 50; }

load_now() { cut -d' ' -f1-3 /proc/loadavg; }
