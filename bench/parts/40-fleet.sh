#!/usr/bin/env bash
# The fleet (issue 13, item 3): 2 nginx instances × 2 workers, 200 issuers
# (each its own RSA-2048 key, served by a local static nginx whose access
# log counts the JWKS fetches), one private redis-server shared by both
# instances (auth_realm_redis: the JWKS tier and fleet lock, tenant states,
# the revocation stream). auth_realm_jwks_ttl is TTL (20 s) so the run spans
# three TTL windows:
#  1. warm-up: one token per issuer sent to both instances at once;
#  2. idle: IDLE seconds without requests (what Redis sees from timers alone);
#  3. load: both instances under wrk (1,000 tokens, 5 per issuer, random
#     order) until three TTL windows have passed since the first fetch.
# Counted: JWKS fetches at the issuer per TTL window (target 200, each
# issuer once), and Redis commands (redis MONITOR, by key kind) in the idle
# and the load phases: commands per request in the steady state, and what
# the requests add over the timers.
# Writes its "## " section to $1; BENCH_QUICK=1: 50 issuers, TTL 5 s.
set -euo pipefail
. "$(dirname "$0")/../lib/scale.sh"
out=${1:?usage: 40-fleet.sh <section.md>}
scale_init fleet
base=${BENCH_PORT_FLEET:-18820}
if [[ -n ${BENCH_QUICK:-} ]]; then
  issuers=50 ttl=5 idle=3
else
  issuers=${FLEET_ISSUERS:-200} ttl=${FLEET_TTL:-20} idle=${FLEET_IDLE:-10}
fi
state_interval=5
redis_port=$((base + 9))
iss="http://127.0.0.1:$issuer_port"
load_before=$(load_now)

python3 "$material" jwks "$cache" "$work/html" 1 "$issuers"
tokens=$(python3 "$material" tokens "$cache" "$iss" 1 "$issuers" 5)
awk '!seen[$1]++' "$tokens" >"$work/keys.txt"
start_issuer "$issuer_port" "$work/html" "$work/logs/fetches.log"
head -c 48 /dev/urandom | base64 | tr -d '/+=' | head -c 43 >"$work/hmac.key"

redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
  --pidfile "$work/redis.pid" --logfile "$work/logs/redis.log" --dir "$work" >/dev/null
for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
# The sidecar's tenant records are not written: each read is a miss, which
# costs Redis the same command as a hit.

ports=($((base + 1)) $((base + 2)))
for p in "${ports[@]}"; do
  cat >"$work/n$p.conf" <<CONF
load_module $module;
worker_processes 2;
error_log $work/logs/n$p.log warn;
pid $work/n$p.pid;
events { worker_connections 4096; }
http {
    access_log off;
    auth_realm_zone realm_auth:32m;
    auth_realm_redis 127.0.0.1:$redis_port hmac_key_file=$work/hmac.key;
    auth_realm_tenant_state_interval ${state_interval}s;
    server {
        listen 127.0.0.1:$p reuseport;
        root $work/html;
        location /cached/ {
            auth_realm on;
            auth_realm_issuer $iss/realms/tenant-*;
            auth_realm_audience tenant-services;
            auth_realm_jwks_ttl ${ttl}s;
            auth_realm_identity_headers on;
        }
        location = /status { auth_realm_status; }
    }
}
CONF
  start_nginx "n$p"
  wait_up "http://127.0.0.1:$p/status"
done

# Every command Redis runs, with its time and key.
redis-cli -p "$redis_port" monitor >"$work/monitor.log" &
scale_pids+=($!)
sleep 0.3
mark() { date +%s.%N; }

# --- 1. warm-up: both instances at once ----------------------------------------
t_warm=$(mark)
for p in "${ports[@]}"; do
  ONCE=1 TOKENS=$work/keys.txt wrk -t1 -c8 -d60s -s "$root/bench/lib/token-mix.lua" \
    "http://127.0.0.1:$p/cached/index.txt" >"$work/warm-$p.txt" &
done
wait_jobs() { for j in $(jobs -p); do [[ " ${scale_pids[*]} " == *" $j "* ]] || wait "$j"; done; }
wait_jobs
for p in "${ports[@]}"; do
  have=$(status "$p" .jwks.issuers_cached)
  [[ $have == "$issuers" ]] || { echo "fleet: instance $p has $have of $issuers issuers" >&2; exit 1; }
done
first_fetch=$(awk '/\/certs / {print $1; exit}' "$work/logs/fetches.log")
echo "fleet: warm-up done, $(wc -l <"$work/logs/fetches.log") fetches at the issuer" >&2

# --- 2. idle ------------------------------------------------------------------------
sleep 1
t_idle0=$(mark)
sleep "$idle"
t_idle1=$(mark)

# --- 3. load until three TTL windows have passed ------------------------------------
end=$(echo "$first_fetch + 3 * $ttl + 1" | bc)
dur=$(echo "$end - $(mark)" | bc | xargs printf '%.0f')
((dur > 2)) || { echo "fleet: warm-up and idle took too long for TTL $ttl s" >&2; exit 1; }
verified0=0
for p in "${ports[@]}"; do verified0=$((verified0 + $(status "$p" .verified))); done
t_load0=$(mark)
for p in "${ports[@]}"; do
  TOKENS=$tokens wrk -t1 -c16 -d"${dur}s" -s "$root/bench/lib/token-mix.lua" \
    "http://127.0.0.1:$p/cached/index.txt" >"$work/load-$p.txt" &
done
wait_jobs
t_load1=$(mark)
verified1=0 refused=0 fetches_status=0 redis_hits=0
for p in "${ports[@]}"; do
  verified1=$((verified1 + $(status "$p" .verified)))
  refused=$((refused + $(status "$p" '[.refused[]] | add')))
  fetches_status=$((fetches_status + $(status "$p" .jwks.http_fetches)))
  redis_hits=$((redis_hits + $(status "$p" .jwks.redis_hits)))
done
requests=$((verified1 - verified0))
sleep 0.3
kill "${scale_pids[0]}" 2>/dev/null || true

# --- counting --------------------------------------------------------------------------
# Fetches per TTL window (from the first fetch): count and distinct issuers.
windows=$(awk -v t0="$first_fetch" -v ttl="$ttl" '!/\/certs / {next}
  
  { w = int(($1 - t0) / ttl); n[w]++; if (!seen[w, $2]++) d[w]++; if (w > max) max = w }
  END { for (w = 0; w <= max; w++) printf "%d %d %d\n", w, n[w], d[w] }' "$work/logs/fetches.log")
# Redis commands in [a, b), by kind (command and key kind).
commands() {
  awk -v a="$1" -v b="$2" '
    $1 + 0 >= a && $1 + 0 < b && $2 ~ /^\[/ {
      cmd = $4; gsub(/"/, "", cmd); key = $5; gsub(/"/, "", key)
      sub(/^realm_auth:/, "", key); sub(/:.*/, "", key)
      if (cmd == "EVAL") key = "lock"  # the lock release (compare and delete)
      k[cmd " " key]++; total++ }
    END { for (x in k) print x, k[x]; print "TOTAL -", total + 0 }' "$work/monitor.log" | sort
}
commands "$t_idle0" "$t_idle1" >"$work/cmd-idle.txt"
commands "$t_load0" "$t_load1" >"$work/cmd-load.txt"
idle_s=$(echo "$t_idle1 - $t_idle0" | bc)
load_s=$(echo "$t_load1 - $t_load0" | bc)
total_of() { awk '$1 == "TOTAL" {print $3}' "$1"; }
jwks_of() { awk '$2 == "jwks" || $2 == "lock" {s += $3} END {print s + 0}' "$1"; }
idle_total=$(total_of "$work/cmd-idle.txt")
load_total=$(total_of "$work/cmd-load.txt")
load_jwks=$(jwks_of "$work/cmd-load.txt")
rate_idle=$(echo "$idle_total / $idle_s" | bc -l)
rate_load=$(echo "$load_total / $load_s" | bc -l)
# Every command has one of three drivers: timers (tenant-state reads:
# each worker re-reads the tenants it has seen every interval; the
# revocation poll), the JWKS refresh (jwks and lock keys, once per issuer
# per TTL window) or a request. Anything not of the first two kinds is a
# request's.
kind_of() { awk -v k="$2" '$2 == k {s += $3} END {print s + 0}' "$1"; }
load_tenant=$(kind_of "$work/cmd-load.txt" tenant)
load_revoc=$(kind_of "$work/cmd-load.txt" revocations)
extra=$((load_total - load_jwks - load_tenant - load_revoc))
tenant_expected=$((4 * issuers / state_interval))

{
  echo "## Fleet: 2 instances × 2 workers, $issuers issuers, one Redis"
  echo
  echo "Both instances share one private redis-server (JWKS tier and fleet lock, tenant states every ${state_interval} s, the revocation stream every 250 ms); auth_realm_jwks_ttl ${ttl} s. Warm-up: one token per issuer sent to both instances at once; then ${idle} s without requests; then wrk -c16 on each instance for $(printf '%.0f' "$load_s") s (1,000 tokens, 5 per issuer, random order) until three TTL windows had passed since the first fetch. Load average before the part: $load_before; after: $(load_now)."
  echo
  echo "| TTL window (from the first fetch) | JWKS fetches at the issuer | distinct issuers | target |"
  echo "| --- | --- | --- | --- |"
  while read -r w n d; do echo "| $w ($((w * ttl))–$(((w + 1) * ttl)) s) | $n | $d | $issuers |"; done <<<"$windows"
  echo
  echo "Fetches the instances counted (status \`jwks.http_fetches\`, both): $fetches_status; keys taken from Redis instead (\`jwks.redis_hits\`): $redis_hits."
  echo
  echo "| phase | seconds | requests | Redis commands | commands/s | commands per request |"
  echo "| --- | --- | --- | --- | --- | --- |"
  printf '| idle (no requests) | %.1f | 0 | %d | %.1f | – |\n' "$idle_s" "$idle_total" "$rate_idle"
  printf '| load | %.1f | %d | %d | %.1f | %.5f |\n' "$load_s" "$requests" "$load_total" "$rate_load" \
    "$(echo "$load_total / $requests" | bc -l)"
  echo
  printf 'Commands a request caused (load phase less the %d JWKS refresh commands, %d tenant-state reads and %d revocation polls): **%d, %.5f per request** (target 0). Requests refused: %d.\n' \
    "$load_jwks" "$load_tenant" "$load_revoc" "$extra" "$(echo "$extra / $requests" | bc -l)" "$refused"
  echo
  printf 'The rest is paced by time, not by requests: tenant-state reads %.0f/s under load (4 workers × %d tenants ÷ %d s = %d/s; idle, fewer, as each worker reads only the tenants it has seen, and after the warm-up each had seen about half), revocation polls %.1f/s (2 instances × 4/s), JWKS refreshes %.1f commands per issuer per TTL window.\n' \
    "$(echo "$load_tenant / $load_s" | bc -l)" "$issuers" "$state_interval" "$tenant_expected" \
    "$(echo "$load_revoc / $load_s" | bc -l)" "$(echo "$load_jwks / ($issuers * $load_s / $ttl)" | bc -l)"
  echo
  echo "Commands by kind (command, key kind; from redis MONITOR):"
  echo
  echo "| command | key | idle | load |"
  echo "| --- | --- | --- | --- |"
  join -a1 -a2 -e0 -o '0,1.2,2.2' <(awk '$1 != "TOTAL" {print $1 "/" $2, $3}' "$work/cmd-idle.txt" | sort) \
    <(awk '$1 != "TOTAL" {print $1 "/" $2, $3}' "$work/cmd-load.txt" | sort) |
    awk '{split($1, a, "/"); printf "| %s | %s | %s | %s |\n", a[1], a[2], $2, $3}'
} >"$out"
cat "$out" >&2
