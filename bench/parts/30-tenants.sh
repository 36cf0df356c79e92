#!/usr/bin/env bash
# Many tenants (issue 13, item 2): 1, 1,000 and 10,000 issuers
# (…/realms/tenant-N), each with its own RSA-2048 key and JWKS, served by a
# local static nginx as the issuer. One module nginx per case (one worker
# pinned to CPU 0, the same 64 MiB zone), each serving the same number of
# reused tokens (10,000: 10,000 of one issuer, 10 per issuer, 1 per issuer):
#  1. every issuer's keys fetched, then every token verified once (the
#     zone's free pages before and after each step: bytes per issuer, per
#     cached token);
#  2. throughput: wrk -t1 -c64 on CPU 1, the tokens in a random order
#     (bench/lib/token-mix.lua), the three cases interleaved, medians;
#  3. the first request of a tenant never seen (its JWKS fetched from the
#     local issuer), 200 such tenants one after another on the 10,000-issuer
#     nginx, against requests with already cached tokens measured the same
#     way (curl's time_total).
# Writes its "## " section to $1; BENCH_QUICK=1: 1/100/1,000 issuers, short.
# First run: mints 30,200 tokens into $REALM_AUTH_CACHE/bench (about a minute).
set -euo pipefail
. "$(dirname "$0")/../lib/scale.sh"
out=${1:?usage: 30-tenants.sh <section.md>}
scale_init tenants
base=${BENCH_PORT_TENANTS:-18800}
if [[ -n ${BENCH_QUICK:-} ]]; then
  cases=(1 100 1000) tokens_total=1000 cold=20 secs=2 rounds=1
else
  cases=(1 1000 10000) tokens_total=10000 cold=200 secs=${TENANTS_SECS:-4} rounds=${TENANTS_ROUNDS:-5}
fi
largest=${cases[-1]}
cold_first=$((largest + 1)) cold_last=$((largest + cold))
zone_mb=64
load_before=$(load_now)
iss="http://127.0.0.1:$issuer_port"

echo "tenants: JWKS for $cold_last tenants, tokens (cached in $cache)" >&2
python3 "$material" jwks "$cache" "$work/html" 1 "$cold_last"
declare -A tokfile keyfile
for n in "${cases[@]}"; do
  tokfile[$n]=$(python3 "$material" tokens "$cache" "$iss" 1 "$n" $((tokens_total / n)))
  keyfile[$n]=$work/keys-$n.txt
  awk '!seen[$1]++' "${tokfile[$n]}" >"${keyfile[$n]}"  # one token per issuer
done
coldfile=$(python3 "$material" tokens "$cache" "$iss" "$cold_first" "$cold_last" 1)
start_issuer "$issuer_port" "$work/html"

conf() {  # name port
  cat >"$work/$1.conf" <<CONF
load_module $module;
worker_processes 1;
worker_cpu_affinity 01;
error_log $work/logs/$1.log warn;
pid $work/$1.pid;
events { worker_connections 4096; }
http {
    access_log off;
    auth_realm_zone realm_auth:${zone_mb}m;
    server {
        listen 127.0.0.1:$2 reuseport;
        root $work/html;
        location /warm/ {
            auth_realm on;
            auth_realm_issuer $iss/realms/tenant-*;
            auth_realm_audience tenant-services;
            auth_realm_token_cache off;
            auth_realm_identity_headers on;
        }
        location /cached/ {
            auth_realm on;
            auth_realm_issuer $iss/realms/tenant-*;
            auth_realm_audience tenant-services;
            auth_realm_identity_headers on;
        }
        location = /status { auth_realm_status; }
    }
}
CONF
}

# once PORT FILE PATH: every token of FILE sent once (8 connections).
once() {
  ONCE=1 TOKENS=$2 TOKEN_PATH=$3 taskset -c 1 wrk -t1 -c8 -d300s -s "$root/bench/lib/token-mix.lua" \
    "http://127.0.0.1:$1$3" >/dev/null
}

declare -A port per_issuer per_token doc_bytes
i=0
for n in "${cases[@]}"; do
  port[$n]=$((base + i))
  i=$((i + 1))
  conf "c$n" "${port[$n]}"
  start_nginx "c$n"
  wait_up "http://127.0.0.1:${port[$n]}/status"
  free0=$(status "${port[$n]}" .zone.free_pages)
  # Keys: one token per issuer through the location without the token
  # cache, until every issuer is cached (a pass may find the keyless-fetch
  # limit, 16 in flight, and be refused: the next pass retries).
  t0=$(date +%s.%N)
  for pass in 1 2 3 4 5; do
    once "${port[$n]}" "${keyfile[$n]}" /warm/index.txt
    have=$(status "${port[$n]}" .jwks.issuers_cached)
    [[ $have == "$n" ]] && break
    sleep 1.1  # the one-second back-off after a refused or failed fetch
  done
  [[ $have == "$n" ]] || { echo "tenants: $n issuers, only $have cached after 5 passes" >&2; exit 1; }
  echo "tenants: $n issuers cached in $(echo "$(date +%s.%N) - $t0" | bc | xargs printf '%.1f') s ($pass passes)" >&2
  free1=$(status "${port[$n]}" .zone.free_pages)
  # Twice: a token enters the shared zone once reused (worker_token_cache.h,
  # admission); the first pass leaves it in the worker's table only.
  for pass in 1 2 3 4 5; do
    once "${port[$n]}" "${tokfile[$n]}" /cached/index.txt
    entries=$(status "${port[$n]}" .token_cache.entries)
    [[ $entries == "$tokens_total" ]] && break
  done
  # A few may still be held by the worker's table only (admission); 95% is
  # enough for the measurement, and the bytes are divided by what the zone holds.
  ((entries * 100 >= tokens_total * 95)) || { echo "tenants: $n issuers: $entries cached tokens, want $tokens_total" >&2; exit 1; }
  free2=$(status "${port[$n]}" .zone.free_pages)
  per_issuer[$n]=$(((free0 - free1) * 4096 / n))
  per_token[$n]=$(((free1 - free2) * 4096 / entries))
  doc_bytes[$n]=$(stat -c %s "$work/html/realms/tenant-1/protocol/openid-connect/certs")
done
pages=$(status "${port[$largest]}" .zone.pages)
free_end=$(status "${port[$largest]}" .zone.free_pages)

# --- throughput, interleaved ------------------------------------------------
declare -A runs before_misses before_fetches
for n in "${cases[@]}"; do
  before_misses[$n]=$(status "${port[$n]}" .token_cache.misses)
  before_fetches[$n]=$(status "${port[$n]}" .jwks.http_fetches)
done
bad=0
# The worker's CPU time (utime + stime, clock ticks) from /proc: CPU per
# request is steadier than req/s on a shared machine (time other processes
# take from CPU 0 is not counted).
worker_pid() { pgrep -P "$(cat "$work/c$1.pid")" | head -n1; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
tick_us=$((1000000 / $(getconf CLK_TCK)))
measure() {  # n -> "req/s cpu-µs-per-request"
  local r w c0 c1
  w=$(worker_pid "$1")
  c0=$(cpu_ticks "$w")
  r=$(TOKENS=${tokfile[$1]} taskset -c 1 wrk -t1 -c64 -d"${secs}s" -s "$root/bench/lib/token-mix.lua" \
    "http://127.0.0.1:${port[$1]}/cached/index.txt")
  c1=$(cpu_ticks "$w")
  if grep -q 'Non-2xx' <<<"$r"; then
    echo "tenants: $1 issuers: $(grep Non-2xx <<<"$r")" >&2
    bad=1
  fi
  awk -v ticks=$((c1 - c0)) -v us="$tick_us" '/requests in/ {n = $1} /Requests\/sec/ {rps = $2}
    END {printf "%s %.2f\n", rps, ticks * us / n}' <<<"$r"
}
declare -A ratios cpu cpu_ratios
for ((r = 1; r <= rounds; r++)); do
  # Rotate which case goes first, so drift within a round favours none.
  order=("${cases[@]:$(((r - 1) % 3))}" "${cases[@]:0:$(((r - 1) % 3))}")
  declare -A got=() gotcpu=()
  for n in "${order[@]}"; do
    read -r got[$n] gotcpu[$n] < <(measure "$n")
    runs[$n]+="${got[$n]%.*} "
    cpu[$n]+="${gotcpu[$n]} "
    echo "tenants: round $r, $n issuers: ${got[$n]} req/s, ${gotcpu[$n]} µs CPU/request" >&2
  done
  for n in "${cases[@]}"; do
    ratios[$n]+="$(echo "${got[$n]} / ${got[${cases[0]}]}" | bc -l | xargs printf '%.3f') "
    cpu_ratios[$n]+="$(echo "${gotcpu[${cases[0]}]} / ${gotcpu[$n]}" | bc -l | xargs printf '%.3f') "
  done
done
misses=0 fetches=0
for n in "${cases[@]}"; do
  misses=$((misses + $(status "${port[$n]}" .token_cache.misses) - before_misses[$n]))
  fetches=$((fetches + $(status "${port[$n]}" .jwks.http_fetches) - before_fetches[$n]))
done

# --- the first request of a new tenant ----------------------------------------
# curl -K: one connection, requests one after another; time_total of each.
timed() {  # port file path -> one time in ms a line
  awk -v url="http://127.0.0.1:$1$3" '{if (NR > 1) print "next"; print "url = \"" url "\"";
       print "header = \"Authorization: Bearer " $2 "\""; print "output = /dev/null";
       print "write-out = \"%{http_code} %{time_total}\\n\""}' "$2" >"$work/curl.cfg"
  curl -sS -K "$work/curl.cfg" | awk '$1 != 200 {bad++} {printf "%.3f\n", $2 * 1000} END {if (bad) print "non-200: " bad > "/dev/stderr"}'
}
fetch0=$(status "${port[$largest]}" .jwks.http_fetches)
timed "${port[$largest]}" "$coldfile" /cached/index.txt >"$work/cold.ms"
fetch1=$(status "${port[$largest]}" .jwks.http_fetches)
head -n "$cold" "${tokfile[$largest]}" >"$work/warm-sample.txt"
timed "${port[$largest]}" "$work/warm-sample.txt" /cached/index.txt >"$work/warm.ms"
[[ $((fetch1 - fetch0)) == "$cold" ]] || echo "tenants: $((fetch1 - fetch0)) fetches for $cold new tenants" >&2

# --- the section ----------------------------------------------------------------
fmt() { printf "%'d" "${1%.*}"; }
{
  echo "## Many tenants"
  echo
  echo "One nginx worker on CPU 0 per case, wrk -t1 -c64 on CPU 1, $tokens_total reused tokens per case in a random order, ${secs} s × $rounds interleaved rounds (medians). Each issuer has its own RSA-2048 key; all keys and tokens cached before the run. Load average before the part: $load_before; after: $(load_now)."
  echo
  echo "| issuers | tokens per issuer | req/s (rounds) | median | × 1 issuer (median of per-round ratios) | worker CPU µs per request (median) | × 1 issuer by CPU (1-issuer µs ÷ this) | zone bytes per issuer | zone bytes per cached token |"
  echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
  for n in "${cases[@]}"; do
    pi=$(fmt "${per_issuer[$n]}")
    ((n == 1)) && pi="(one page: $pi)"
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$(fmt "$n")" "$((tokens_total / n))" "${runs[$n]% }" \
      "$(fmt "$(median <<<"${runs[$n]}")")" "$(median <<<"${ratios[$n]}")" "$(median <<<"${cpu[$n]}")" \
      "$(median <<<"${cpu_ratios[$n]}")" "$pi" "$(fmt "${per_token[$n]}")"
  done
  echo
  echo "Signature checks and JWKS fetches during the throughput rounds: $misses and $fetches (0 would mean every request was a cache hit; a few are tokens the warm-up left in the worker table only); non-2xx answers: $([[ $bad == 0 ]] && echo none || echo SOME, see the log)."
  echo "Zone: ${zone_mb} MiB ($(fmt "$pages") pages); with $(fmt "$largest") issuers and $(fmt "$tokens_total") tokens $(fmt "$free_end") pages are still free."
  echo "Bytes per issuer: the zone's free pages before and after fetching every issuer's keys (through a location without the token cache), ÷ issuers; it includes the issuer's JWKS document as fetched (${doc_bytes[$largest]} bytes here: one RS256 key without x5c; a Keycloak realm's JWKS with its certificate chains and its RSA-OAEP key is about 3 KB and costs that much more). Bytes per cached token: the free pages before and after sending every token twice (a token enters the zone once reused), ÷ tokens. Both are what the zone's slab allocator hands out (power-of-two chunks: a cached token's entry takes 512 bytes; an issuer's record and its document about 768 together). With one issuer the figure is the page or two the first allocation takes, not a cost per issuer. Worker CPU per request: the worker's utime + stime from /proc over the run ÷ requests (clock ticks of $tick_us µs), less sensitive than req/s to other processes taking CPU 0."
  echo
  echo "| first request of … | requests | p50 ms | p99 ms | max ms |"
  echo "| --- | --- | --- | --- | --- |"
  printf '| a new tenant (JWKS fetched from the local issuer, then verified) | %s | %s | %s | %s |\n' "$(wc -l <"$work/cold.ms")" \
    "$(percentile 50 <"$work/cold.ms")" "$(percentile 99 <"$work/cold.ms")" "$(percentile 100 <"$work/cold.ms")"
  printf '| a cached token of a cached tenant (same method) | %s | %s | %s | %s |\n' "$(wc -l <"$work/warm.ms")" \
    "$(percentile 50 <"$work/warm.ms")" "$(percentile 99 <"$work/warm.ms")" "$(percentile 100 <"$work/warm.ms")"
  echo
  echo "One request at a time over one keep-alive connection (curl), on the $(fmt "$largest")-issuer nginx with everything above still cached; JWKS fetches counted: $((fetch1 - fetch0)) for $cold new tenants."
} >"$out"
cat "$out" >&2
