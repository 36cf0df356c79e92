#!/usr/bin/env bash
# What DPoP costs (issue 12, item 6): one nginx worker, a Bearer token
# against a DPoP-bound token with a fresh ES256 proof on every request,
# for a reused token (verified-token cache on) and a new one (cache off:
# full verification every request). Side by side, interleaved rounds,
# medians (shared machines: only ratios mean something). A DPoP request
# also pays the proof's signature check, the replay cache and the header
# removal; a reused DPoP token still pays the proof every time.
# Usage: bench/dpop-cost.sh [seconds-per-case] [rounds]   (make bench-dpop)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-5}
rounds=${2:-3}
port=${BENCH_PORT:-18960}
module=${REALM_AUTH_MODULE:-$root/build/modules/ngx_http_realm_auth_module.so}
work=$root/bench/work-dpop
rm -rf "$work"
cases=(bearer-cached bearer-verify dpop-cached dpop-verify)
mkdir -p "$work"/html/realms/tenant-demo/protocol/openid-connect
for c in "${cases[@]}"; do mkdir -p "$work/html/$c"; printf 'ok\n' >"$work/html/$c/index.txt"; done
# Proofs for every DPoP run (each is accepted once): rate × seconds, with room.
per_run=${DPOP_PROOFS_PER_RUN:-60000}
specs=()
for c in dpop-cached dpop-verify; do
  for ((i = 1; i <= rounds; i++)); do specs+=("http://127.0.0.1:$port/$c/index.txt=$work/proofs-$c-$i"); done
done
{ read -r bearer; read -r bound; } < <(perl "$root/bench/dpop_material.pl" \
  "$work/html/realms/tenant-demo/protocol/openid-connect/certs" \
  "http://127.0.0.1:$port/realms/tenant-demo" "$per_run" "${specs[@]}")
sed -e "s|@MODULE@|$module|" -e "s|@WORK@|$work|g" -e "s|@PORT@|$port|g" \
  "$root/bench/nginx-dpop.conf.in" >"$work/nginx.conf"
nginx -p "$work" -c "$work/nginx.conf" -e "$work/error.log"
trap 'nginx -p "$work" -c "$work/nginx.conf" -e "$work/error.log" -s stop 2>/dev/null || true' EXIT
sleep 0.5

measure() {  # case round → requests/s (non-2xx make the run fail)
  local c=$1 i=$2 out
  if [[ $c == bearer-* ]]; then
    out=$(taskset -c 1 wrk -t1 -c64 -d"${secs}s" -H "Authorization: Bearer $bearer" \
      "http://127.0.0.1:$port/$c/index.txt")
  else
    out=$(PROOFS=$work/proofs-$c-$i TOKEN=$bound taskset -c 1 wrk -t1 -c64 \
      -d"${secs}s" -s "$root/bench/dpop-next-proof.lua" "http://127.0.0.1:$port/$c/index.txt")
  fi
  if grep -q 'Non-2xx' <<<"$out"; then echo "$c: $(grep Non-2xx <<<"$out")" >&2; fi
  awk '/Requests\/sec/ {print $2}' <<<"$out"
}

# Warm up: JWKS fetched once (a warm-up proof of its own).
curl -fsS -H "Authorization: Bearer $bearer" "http://127.0.0.1:$port/bearer-cached/index.txt" >/dev/null

declare -A runs
for ((i = 1; i <= rounds; i++)); do
  for c in "${cases[@]}"; do runs[$c]+="$(measure "$c" "$i") "; done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
declare -A med
for c in "${cases[@]}"; do med[$c]=$(median <<<"${runs[$c]}"); done

{
  echo "# realm_auth DPoP cost, $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)."
  echo "nginx $(nginx -v 2>&1 | cut -d/ -f2), 1 worker on CPU 0; wrk -t1 -c64 on CPU 1;"
  echo "${secs}s per case, $rounds interleaved rounds, median shown. RS256 2048-bit access"
  echo "token (audience and identity headers on); DPoP: ES256 proof (P-256 key), a new"
  echo "jti every request, replay cache in the zone (no Redis)."
  echo
  echo "| case | req/s (runs) | median | ratio to Bearer, same cache setting |"
  echo "| --- | --- | --- | --- |"
  row() { printf '| %s | %s | %s | %.2f |\n' "$1" "${runs[$2]}" "${med[$2]}" "$(echo "${med[$2]} / ${med[$3]}" | bc -l)"; }
  row "Bearer, reused token (verified-token cache)" bearer-cached bearer-cached
  row "DPoP, reused token (cache on; proof checked every request)" dpop-cached bearer-cached
  row "Bearer, new token (cache off: full verification)" bearer-verify bearer-verify
  row "DPoP, new token (cache off: token and proof verified)" dpop-verify bearer-verify
} | tee "$root/bench/results/latest-dpop.md"
