#!/usr/bin/env bash
# Throughput of one nginx worker with and without realm_auth, measured side
# by side in one run (shared, noisy machines: only ratios mean something).
# Rounds interleave the cases; the median of each is reported. Two
# baselines: no auth and no token at all, and no auth but the same ~1 KB
# Authorization header sent (and ignored) — the difference is what merely
# carrying a bearer token costs nginx and the kernel, before any module.
# With OSS_JWT_MODULE=<path to ngx_http_auth_jwt_module.so> a fifth case
# runs the open-source kjdev/nginx-auth-jwt on the same token (README.md).
# Usage: bench/run.sh [seconds-per-case] [rounds]   (make bench)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-8}
rounds=${2:-3}
port=${BENCH_PORT:-18950}
module=${REALM_AUTH_MODULE:-$root/build/modules/ngx_http_realm_auth_module.so}
work=$root/bench/work
rm -rf "$work"
oss_module=${OSS_JWT_MODULE:-}
oss_port=$((port + 1))
mkdir -p "$work"/{html/noauth,html/verify,html/cached,html/oss,html/realms/tenant-demo/protocol/openid-connect}
for d in noauth verify cached oss; do printf 'ok\n' >"$work/html/$d/index.txt"; done
cases=(noauth noauth+header verify cached)
[[ -z $oss_module ]] || cases+=(oss)

token=$(perl "$root/bench/mint_token.pl" \
  "$work/html/realms/tenant-demo/protocol/openid-connect/certs" \
  "http://127.0.0.1:$port/realms/tenant-demo")
sed -e "s|@MODULE@|$module|" -e "s|@WORK@|$work|g" -e "s|@PORT@|$port|g" \
  "$root/bench/nginx.conf.in" >"$work/nginx.conf"
nginx -p "$work" -c "$work/nginx.conf" -e "$work/error.log"
stop_all() {
  nginx -p "$work" -c "$work/nginx.conf" -e "$work/error.log" -s stop 2>/dev/null || true
  [[ -z $oss_module ]] || nginx -p "$work" -c "$work/nginx-oss.conf" -e "$work/error-oss.log" -s stop 2>/dev/null || true
}
trap stop_all EXIT
if [[ -n $oss_module ]]; then
  sed -e "s|@OSS_MODULE@|$oss_module|" -e "s|@WORK@|$work|g" -e "s|@PORT@|$port|g" \
    -e "s|@OSS_PORT@|$oss_port|g" "$root/bench/nginx-oss.conf.in" >"$work/nginx-oss.conf"
  nginx -p "$work" -c "$work/nginx-oss.conf" -e "$work/error-oss.log"
fi
sleep 0.5

auth="Authorization: Bearer $token"
# Warm up: JWKS fetched once, first verification done.
curl -fsS -H "$auth" "http://127.0.0.1:$port/verify/index.txt" >/dev/null
curl -fsS -H "$auth" "http://127.0.0.1:$port/cached/index.txt" >/dev/null
[[ -z $oss_module ]] || curl -fsS -H "$auth" "http://127.0.0.1:$oss_port/oss/index.txt" >/dev/null

measure() {  # case → requests/s
  local path=${1%+header} hdr=() p=$port
  [[ $1 == noauth ]] || hdr=(-H "$auth")
  [[ $1 != oss ]] || p=$oss_port
  taskset -c 1 wrk -t1 -c64 -d"${secs}s" "${hdr[@]}" "http://127.0.0.1:$p/$path/index.txt" |
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
  if [[ -n $oss_module ]]; then
    row "kjdev/nginx-auth-jwt, verify every request" "${runs[oss]}" "$(median <<<"${runs[oss]}")"
    echo
    echo "kjdev/nginx-auth-jwt: $oss_module (RS256 signature, exp, iss pattern, aud; no"
    echo "identity headers, JWKS read from a file at start). realm_auth ÷ kjdev on the"
    printf 'verify-every-request case: %.2f\n' "$(echo "$verify / $(median <<<"${runs[oss]}")" | bc -l)"
  fi
} | tee "$root/bench/results/latest-throughput.md"
[[ $status == up ]]
