#!/usr/bin/env bash
# Requests/s of two builds of the module side by side, with never-seen
# tokens, in interleaved rounds (one worker on CPU 0, wrk -t1 -c64 on CPU 1,
# as bench/run.sh):
#   bench/hot-path-ab.sh OLD.so NEW.so [seconds] [rounds]
# TOKENS/JWKS: a pool from mint_tokens.pl for issuer
# http://127.0.0.1:$BENCH_PORT/realms/tenant-demo. Every never-seen-token
# run starts a fresh nginx (empty caches), so the pool is used from its
# start each time and no token repeats within a run; new-token.lua stops
# wrk ("tokens exhausted") rather than reuse one, and the run is then
# reported as failed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
old=$1 new=$2 secs=${3:-3} rounds=${4:-3}
port=${BENCH_PORT:-18950}
work=$(mktemp -d /tmp/hot-path-ab.XXXX)
chmod 755 "$work"
mkdir -p "$work"/html/{noauth,cached,verify} "$work/html/realms/tenant-demo/protocol/openid-connect"
for d in noauth cached verify; do echo ok >"$work/html/$d/index.txt"; done
cp "$JWKS" "$work/html/realms/tenant-demo/protocol/openid-connect/certs"
first=$(head -n1 "$TOKENS")
start() {  # module
  sed -e "s|@MODULE@|$1|" -e "s|@WORK@|$work|g" -e "s|@PORT@|$port|g" \
    "$root/bench/nginx.conf.in" >"$work/nginx.conf"
  nginx -p "$work" -c "$work/nginx.conf" -e "$work/error.log"
  sleep 0.3
  # JWKS fetched, first verification done, with the pool's first token
  # (skipped by the run).
  curl -fsS -o /dev/null -H "Authorization: Bearer $first" "http://127.0.0.1:$port/verify/index.txt"
  curl -fsS -o /dev/null -H "Authorization: Bearer $first" "http://127.0.0.1:$port/cached/index.txt"
}
stop() {
  nginx -p "$work" -c "$work/nginx.conf" -e "$work/error.log" -s stop 2>/dev/null || true
  while [[ -s $work/nginx.pid ]] && kill -0 "$(cat "$work/nginx.pid")" 2>/dev/null; do sleep 0.1; done
}
trap 'stop; rm -rf "$work"' EXIT
measure() {  # case -> req/s
  local out
  case $1 in
    new)
      out=$(TOKENS=$TOKENS TOKEN_SKIP=1 taskset -c 1 wrk -t1 -c64 -d"${secs}s" \
        -s "$root/bench/new-token.lua" "http://127.0.0.1:$port/cached/index.txt" 2>"$work/wrk.err")
      if grep -q "exhausted\|status" "$work/wrk.err"; then
        echo "FAILED($(tr '\n' ' ' <"$work/wrk.err"))"
        return
      fi
      echo "$out" | awk '/Requests\/sec/ {print $2}'
      ;;
    noauth) taskset -c 1 wrk -t1 -c64 -d"${secs}s" "http://127.0.0.1:$port/noauth/index.txt" |
      awk '/Requests\/sec/ {print $2}' ;;
    noauth+header | verify | cached)
      local path=${1%+header}
      taskset -c 1 wrk -t1 -c64 -d"${secs}s" -H "Authorization: Bearer $first" \
        "http://127.0.0.1:$port/$path/index.txt" | awk '/Requests\/sec/ {print $2}' ;;
  esac
}
declare -A runs
for ((i = 1; i <= rounds; i++)); do
  for m in old new; do
    so=$old
    [[ $m == old ]] || so=$new
    for c in noauth noauth+header new verify cached; do
      [[ $m == old || ($c != noauth && $c != noauth+header) ]] || continue
      start "$so"
      runs[$m:$c]+="$(measure "$c") "
      stop
    done
  done
done
median() { tr ' ' '\n' | grep -E '^[0-9.]+$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
base=$(median <<<"${runs[old:noauth]}")
hdr=$(median <<<"${runs[old:noauth+header]}")
rsa=$(taskset -c 1 openssl speed -seconds 2 rsa2048 2>/dev/null | awk '/^rsa 2048/ {printf "%.1f", 1e6 / $7}')
echo "| case | build | req/s (rounds) | median | × no auth | × header ignored |"
echo "| --- | --- | --- | --- | --- | --- |"
for key in old:noauth old:noauth+header old:new new:new old:verify new:verify old:cached new:cached; do
  m=$(median <<<"${runs[$key]}")
  printf '| %s | %s | %s| %s | %.3f | %.3f |\n' "${key#*:}" "${key%%:*}" "${runs[$key]}" "$m" \
    "$(echo "$m / $base" | bc -l)" "$(echo "$m / $hdr" | bc -l)"
done
printf '\nRSA-2048 verify alone (openssl speed, CPU 1): %s µs\n' "$rsa"
printf 'Limit for a never-seen token: 1 / (1/%s + %s µs) = %.0f req/s\n' "$hdr" "$rsa" \
  "$(echo "1 / (1 / $hdr + $rsa / 1000000)" | bc -l)"
for m in old new; do
  n=$(median <<<"${runs[$m:new]}")
  printf '%s: never-seen token at %.1f%% of the limit; non-RSA work per new token %.1f µs\n' "$m" \
    "$(echo "100 * $n * (1 / $hdr + $rsa / 1000000)" | bc -l)" \
    "$(echo "(1 / $n - 1 / $hdr) * 1000000 - $rsa" | bc -l)"
done
