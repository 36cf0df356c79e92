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
# Besides requests/s, each run reads the worker's CPU time from
# /proc/<pid>/schedstat (nanoseconds on CPU) before and after: CPU µs per
# request, which another session's load on the machine moves far less
# than requests/s (the worker waits for the CPU, but is not charged).
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
wrk_run() {  # case -> wrk output
  case $1 in
    new) TOKENS=$TOKENS TOKEN_SKIP=1 taskset -c 1 wrk -t1 -c64 -d"${secs}s" \
      -s "$root/bench/new-token.lua" "http://127.0.0.1:$port/cached/index.txt" 2>"$work/wrk.err" ;;
    noauth) taskset -c 1 wrk -t1 -c64 -d"${secs}s" "http://127.0.0.1:$port/noauth/index.txt" ;;
    *) taskset -c 1 wrk -t1 -c64 -d"${secs}s" -H "Authorization: Bearer $first" \
      "http://127.0.0.1:$port/${1%+header}/index.txt" ;;
  esac
}
measure() {  # case -> "req/s cpu-µs-per-request"
  local out worker cpu0 cpu1 n
  : >"$work/wrk.err"
  worker=$(pgrep -P "$(cat "$work/nginx.pid")" | head -n1)
  cpu0=$(awk '{print $1}' "/proc/$worker/schedstat")
  out=$(wrk_run "$1") || true  # checked below: wrk.err, the request count
  cpu1=$(awk '{print $1}' "/proc/$worker/schedstat")
  if grep -q "exhausted\|status" "$work/wrk.err"; then
    echo "FAILED($(tr '\n' ' ' <"$work/wrk.err"))" >&2
    return
  fi
  n=$(echo "$out" | awk '/requests in/ {print $1}')
  [[ -n $n && $n -gt 0 ]] || { echo "FAILED(no requests)" >&2; return; }
  printf '%s %.2f' "$(echo "$out" | awk '/Requests\/sec/ {print $2}')" \
    "$(echo "($cpu1 - $cpu0) / 1000 / $n" | bc -l)"
}
declare -A runs cpu
for ((i = 1; i <= rounds; i++)); do
  for m in old new; do
    so=$old
    [[ $m == old ]] || so=$new
    for c in noauth noauth+header new verify cached; do
      [[ $m == old || ($c != noauth && $c != noauth+header) ]] || continue
      start "$so"
      read -r rps us < <(measure "$c"; echo)
      runs[$m:$c]+="$rps "
      cpu[$m:$c]+="$us "
      stop
    done
  done
done
median() { tr ' ' '\n' | grep -E '^[0-9.]+$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
base=$(median <<<"${runs[old:noauth]}")
hdr=$(median <<<"${runs[old:noauth+header]}")
hdr_us=$(median <<<"${cpu[old:noauth+header]}")
rsa=$(taskset -c 1 openssl speed -seconds 2 rsa2048 2>/dev/null | awk '/^rsa 2048/ {printf "%.1f", 1e6 / $7}')
echo "| case | build | req/s (rounds) | median req/s | × header ignored | worker CPU µs/request (rounds) | median µs | header-ignored µs ÷ this |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
for key in old:noauth old:noauth+header old:new new:new old:verify new:verify old:cached new:cached; do
  m=$(median <<<"${runs[$key]}")
  u=$(median <<<"${cpu[$key]}")
  printf '| %s | %s | %s| %s | %.3f | %s| %s | %.3f |\n' "${key#*:}" "${key%%:*}" "${runs[$key]}" "$m" \
    "$(echo "$m / $hdr" | bc -l)" "${cpu[$key]}" "$u" "$(echo "$hdr_us / $u" | bc -l)"
done
printf '\nRSA-2048 verify alone (openssl speed, CPU 1): %s µs\n' "$rsa"
printf 'Limit for a never-seen token, in worker CPU: %s + %s = %.1f µs a request\n' "$hdr_us" "$rsa" \
  "$(echo "$hdr_us + $rsa" | bc -l)"
for m in old new; do
  u=$(median <<<"${cpu[$m:new]}")
  printf '%s: never-seen token %.1f µs, %.1f%% of the limit; non-RSA work %.1f µs\n' "$m" "$u" \
    "$(echo "100 * ($hdr_us + $rsa) / $u" | bc -l)" "$(echo "$u - $hdr_us - $rsa" | bc -l)"
done
