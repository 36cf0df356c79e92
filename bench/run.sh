#!/usr/bin/env bash
# Throughput of one nginx worker with and without realm_auth, measured side
# by side in one run (shared, noisy machines: only ratios mean something).
# Rounds interleave the cases; the median of each is reported. Two
# baselines: no auth and no token at all, and no auth but the same ~1 KB
# Authorization header sent (and ignored) — the difference is what merely
# carrying a bearer token costs nginx and the kernel, before any module.
# Usage: bench/run.sh [seconds-per-case] [rounds]   (make bench)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-8}
rounds=${2:-3}
port=${BENCH_PORT:-18950}
module=${REALM_AUTH_MODULE:-$root/build/modules/ngx_http_realm_auth_module.so}
work=$root/bench/work
rm -rf "$work"
mkdir -p "$work"/{html/noauth,html/verify,html/cached,html/realms/tenant-demo/protocol/openid-connect}
for d in noauth verify cached; do printf 'ok\n' >"$work/html/$d/index.txt"; done
cases=(noauth noauth+header verify cached)

token=$(perl "$root/bench/mint_token.pl" \
  "$work/html/realms/tenant-demo/protocol/openid-connect/certs" \
  "http://127.0.0.1:$port/realms/tenant-demo")
sed -e "s|@MODULE@|$module|" -e "s|@WORK@|$work|g" -e "s|@PORT@|$port|g" \
  "$root/bench/nginx.conf.in" >"$work/nginx.conf"
nginx -p "$work" -c "$work/nginx.conf" -e "$work/error.log"
trap 'nginx -p "$work" -c "$work/nginx.conf" -e "$work/error.log" -s stop 2>/dev/null || true' EXIT
sleep 0.5

auth="Authorization: Bearer $token"
# Warm up: JWKS fetched once, first verification done.
curl -fsS -H "$auth" "http://127.0.0.1:$port/verify/index.txt" >/dev/null
curl -fsS -H "$auth" "http://127.0.0.1:$port/cached/index.txt" >/dev/null

measure() {  # case → requests/s
  local path=${1%+header} hdr=()
  [[ $1 == noauth ]] || hdr=(-H "$auth")
  taskset -c 1 wrk -t1 -c64 -d"${secs}s" "${hdr[@]}" "http://127.0.0.1:$port/$path/index.txt" |
    awk '/Requests\/sec/ {print $2}'
}

declare -A runs
for ((i = 1; i <= rounds; i++)); do
  for c in "${cases[@]}"; do runs[$c]+="$(measure "$c") "; done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
noauth=$(median <<<"${runs[noauth]}")
noauth_hdr=$(median <<<"${runs[noauth+header]}")
verify=$(median <<<"${runs[verify]}")
cached=$(median <<<"${runs[cached]}")
status=$(curl -fsS "http://127.0.0.1:$port/noauth/index.txt" >/dev/null && echo up)

{
  echo "# realm_auth benchmark, $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)."
  echo "nginx $(nginx -v 2>&1 | cut -d/ -f2), 1 worker on CPU 0; wrk -t1 -c64 on CPU 1;"
  echo "${secs}s per case, $rounds interleaved rounds, median shown. RS256, 2048-bit key,"
  echo "Keycloak-shaped token ($(( ${#token} )) bytes), audience and identity headers on."
  echo
  echo "| case | req/s (runs) | median | ratio to no auth | ratio to no auth + header |"
  echo "| --- | --- | --- | --- | --- |"
  row() {
    printf '| %s | %s | %s | %.2f | %.2f |\n' "$1" "$2" "$3" "$(echo "$3 / $noauth" | bc -l)" \
      "$(echo "$3 / $noauth_hdr" | bc -l)"
  }
  row "no auth, no token" "${runs[noauth]}" "$noauth"
  row "no auth, token header sent and ignored" "${runs[noauth+header]}" "$noauth_hdr"
  row "verify every request (token cache off)" "${runs[verify]}" "$verify"
  row "reused token (verified-token cache)" "${runs[cached]}" "$cached"
} | tee "$root/bench/results/latest.md"
[[ $status == up ]]
