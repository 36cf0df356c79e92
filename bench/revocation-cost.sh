#!/usr/bin/env bash
# What the revocation check costs on the reused-token path, with an empty
# revocation table and with RECORDS (100,000) active records, side by side:
#   bench/revocation-cost.sh [records] [seconds-per-case] [rounds]
# (make bench-revocation-cost). Two nginx instances of the same build, each
# with the fleet's Redis configured (a private redis-server): one reads an
# empty stream, the other RECORDS sealed records (bench/revocation_records.pl;
# the token's tenant has a record, its user and session have none: three
# lookups, one found). Both serve the same Keycloak-shaped token (with sid)
# from the verified-token cache.
#  1. instructions (valgrind callgrind, repeatable on a shared machine): per
#     request, the access phase alone (where the check runs) and the whole
#     request, from the difference between 1,000 and 3,000 requests;
#  2. requests/s: one worker pinned to CPU 0, wrk -t1 -c64 on CPU 1, the two
#     instances in interleaved rounds, median.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
records=${1:-100000}
secs=${2:-5}
rounds=${3:-7}
module=${REALM_AUTH_MODULE:-$root/build/modules/ngx_http_realm_auth_module.so}
base=${BENCH_PORT:-18970}
redis_port=$((base + 9))
work=$root/bench/work-revocation
rm -rf "$work"
mkdir -p "$work/html/cached" "$work/html/realms/tenant-demo/protocol/openid-connect"
echo ok >"$work/html/cached/index.txt"
head -c 48 /dev/urandom | base64 | tr -d '/+=' | head -c 43 >"$work/hmac.key"

redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
  --pidfile "$work/redis.pid" --logfile "$work/redis.log" --dir "$work" >/dev/null
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for f in "$work"/nginx-*.pid; do [[ -f $f ]] && kill "$(cat "$f")" 2>/dev/null || true; done
  [[ -f $work/redis.pid ]] && kill "$(cat "$work/redis.pid")" 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
perl "$root/bench/revocation_records.pl" empty: "$work/hmac.key" 0 | redis-cli -p "$redis_port" --pipe >/dev/null
perl "$root/bench/revocation_records.pl" full: "$work/hmac.key" "$records" |
  redis-cli -p "$redis_port" --pipe >/dev/null
echo "stream full:revocations: $(redis-cli -p "$redis_port" xlen full:revocations) entries" >&2

issuer_port=$((base + 8))
token=$(perl "$root/bench/mint_token.pl" \
  "$work/html/realms/tenant-demo/protocol/openid-connect/certs" \
  "http://127.0.0.1:$issuer_port/realms/tenant-demo" 0f3e9a52-7c1d-4b8e-a6f2-5d9c8b7a6e41)
auth="Authorization: Bearer $token"

conf() {  # port prefix -> config file
  local f=$work/nginx-$1.conf
  sed -e "s|@MODULE@|$module|" -e "s|@WORK@|$work|g" -e "s|@PORT@|$1|g" -e "s|@PREFIX@|$2|" \
    -e "s|@REDIS_PORT@|$redis_port|" -e "s|@ISSUER_PORT@|$issuer_port|" \
    "$root/bench/nginx-revocation.conf.in" >"$f"
  echo "$f"
}
# The JWKS is served by a plain nginx on the issuer port (the token's iss).
cat >"$work/issuer.conf" <<CONF
worker_processes 1;
error_log $work/error-issuer.log warn;
pid $work/nginx-issuer.pid;
events { worker_connections 64; }
http { access_log off; server { listen 127.0.0.1:$issuer_port; root $work/html;
       location /realms/ { default_type application/json; } } }
CONF
nginx -p "$work" -c "$work/issuer.conf"

wait_loaded() {  # port want -> waits until the table holds `want` records
  for _ in $(seq 600); do
    n=$(curl -fsS "http://127.0.0.1:$1/status" 2>/dev/null | sed -n 's/.*"revocation":{"records":\([0-9]*\).*/\1/p')
    [[ ${n:-x} == "$2" ]] && return 0
    sleep 0.5
  done
  echo "port $1: the table never reached $2 records (last: ${n:-none})" >&2
  return 1
}

# --- 1. instructions per request --------------------------------------------
lua=$work/quota.lua
cat >"$lua" <<'LUA'
local n, quota = 0, tonumber(os.getenv("IR_N"))
function response()
  n = n + 1
  if n >= quota then io.write("done\n"); io.flush(); os.exit(0) end
end
LUA
ir() {  # prefix want n -> "<total Ir> <access phase Ir>"
  local port=$((base + 1)) out=$work/cg-$1$3.out f vg
  f=$(conf "$port" "$1")
  sed -i '/^worker_cpu_affinity/d' "$f"
  valgrind --tool=callgrind --callgrind-out-file="$out" \
    nginx -p "$work" -c "$f" -g 'daemon off; master_process off;' 2>"$work/vg.log" &
  vg=$!
  for _ in $(seq 100); do curl -fsS -o /dev/null "http://127.0.0.1:$port/status" 2>/dev/null && break; sleep 0.3; done
  wait_loaded "$port" "$2"
  curl -fsS -o /dev/null -H "$auth" "http://127.0.0.1:$port/cached/index.txt"
  IR_N=$3 wrk -t1 -c4 -d600s -s "$lua" -H "$auth" "http://127.0.0.1:$port/cached/index.txt" >/dev/null
  kill -TERM "$vg"
  wait "$vg" || true
  local total access poller
  total=$(awk '/^(summary|totals):/ {print $2; exit}' "$out")
  callgrind_annotate --inclusive=yes --threshold=100 "$out" >"$out.txt" 2>/dev/null || true
  # inclusive Ir of the first function whose line contains the text
  num() { awk -v text="$1" 'index($0, text) && !done {gsub(",", "", $1); print $1; done = 1}
                            END {if (!done) print 0}' "$out.txt"; }
  access=$(num 'realm_auth::guard::access_phase(')
  # The poller's work runs on time, not per request (its timer, the thread
  # task reading Redis, the completion applying records): left out of the
  # whole request's count.
  poller=$(($(num 'guard::event<&realm_auth::RevocationPoller::on_timer>') +
    $(num 'RevocationPoller::run(') + $(num 'guard::event<&realm_auth::RevocationPoller::done>')))
  echo "$((total - poller)) ${access:-0}"
}
declare -A total access
for c in empty full; do
  want=0
  [[ $c == full ]] && want=$records
  read -r t1 a1 < <(ir "$c:" "$want" 1000)
  read -r t3 a3 < <(ir "$c:" "$want" 3000)
  total[$c]=$(((t3 - t1) / 2000))
  access[$c]=$(((a3 - a1) / 2000))
done

# --- 2. requests per second, interleaved ------------------------------------
pa=$((base + 2))
pb=$((base + 3))
nginx -p "$work" -c "$(conf "$pa" empty:)"
nginx -p "$work" -c "$(conf "$pb" full:)"
wait_loaded "$pa" 0
wait_loaded "$pb" "$records"
curl -fsS -o /dev/null -H "$auth" "http://127.0.0.1:$pa/cached/index.txt"
curl -fsS -o /dev/null -H "$auth" "http://127.0.0.1:$pb/cached/index.txt"
measure() {
  taskset -c 1 wrk -t1 -c64 -d"${secs}s" -H "$auth" "http://127.0.0.1:$1/cached/index.txt" |
    awk '/Requests\/sec/ {print $2}'
}
declare -A runs
ratios=""
for ((i = 1; i <= rounds; i++)); do
  e=$(measure "$pa")
  f=$(measure "$pb")
  runs[empty]+="$e "
  runs[full]+="$f "
  ratios+="$(echo "$f / $e" | bc -l | xargs printf '%.3f') "
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
me=$(median <<<"${runs[empty]}")
mf=$(median <<<"${runs[full]}")
mr=$(median <<<"$ratios")
refused=$(curl -fsS "http://127.0.0.1:$pb/status" | sed -n 's/.*"token_revoked":\([0-9]*\).*/\1/p')

echo "# Revocation check on the reused-token path, $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)."
echo "nginx $(nginx -v 2>&1 | cut -d/ -f2); module $(git -C "$root" rev-parse --short HEAD)."
echo "Token: Keycloak-shaped RS256 with sid (${#token} bytes), served from the verified-token cache."
echo "Table: 131,072 records capacity; 0 vs $records active records (the token's tenant has one)."
echo
echo "| records | access phase Ir/request | whole request Ir/request (poller's timed work excluded) |"
echo "| --- | --- | --- |"
echo "| 0 | ${access[empty]} | ${total[empty]} |"
echo "| $records | ${access[full]} | ${total[full]} |"
printf '\nThe check with %s records costs %d instructions more per request: %.2f%% of the whole request.\n' \
  "$records" "$((access[full] - access[empty]))" \
  "$(echo "100 * (${access[full]} - ${access[empty]}) / ${total[empty]}" | bc -l)"
echo
echo "| records | req/s (runs, interleaved) | median | ratio |"
echo "| --- | --- | --- | --- |"
echo "| 0 | ${runs[empty]} | $me | 1.000 |"
printf '| %s | %s | %s | %.3f |\n' "$records" "${runs[full]}" "$mf" "$(echo "$mf / $me" | bc -l)"
echo
echo "Per round (the two cases back to back), records ÷ empty: $ratios; median $mr."
echo
echo "Tokens refused on the $records-record instance during the run: ${refused:-0} (must be 0)."
