#!/usr/bin/env bash
# In-situ time profile of one case (perf, cpu-clock sampling: this VM has
# no hardware counters): the bench server (one worker on CPU 0), wrk on
# CPU 1, `perf record -g` on the worker for the run. Self time only:
# Debian's nginx and libcrypto have no frame pointers, so call chains break.
#   bench/hot-path-perf.sh MODULE.so CASE SECONDS OUT.txt
# CASE: new (TOKENS=file of never-seen tokens, JWKS=their key set, from
# mint_tokens.pl for issuer http://127.0.0.1:$BENCH_PORT/realms/tenant-demo),
# verify or cached (the first token of TOKENS), noauth+header, noauth+new
# (the never-seen tokens sent to the location without the module).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
module=$1 case=$2 secs=$3 out=$4
port=${BENCH_PORT:-18950}
work=$(mktemp -d /tmp/hot-path-perf.XXXX)
chmod 755 "$work"  # the worker (nobody) reads the JWKS file
mkdir -p "$work"/html/{noauth,cached,verify} "$work/html/realms/tenant-demo/protocol/openid-connect"
for d in noauth cached verify; do echo ok >"$work/html/$d/index.txt"; done
cp "$JWKS" "$work/html/realms/tenant-demo/protocol/openid-connect/certs"
sed -e "s|@MODULE@|$module|" -e "s|@WORK@|$work|g" -e "s|@PORT@|$port|g" \
  "$root/bench/nginx.conf.in" >"$work/nginx.conf"
nginx -p "$work" -c "$work/nginx.conf" -e "$work/error.log"
trap 'nginx -p "$work" -c "$work/nginx.conf" -e "$work/error.log" -s stop; sleep 0.3; [[ -n ${KEEP:-} ]] || rm -rf "$work"' EXIT
sleep 0.5
first=$(head -n1 "$TOKENS")
curl -fsS -o /dev/null -H "Authorization: Bearer $first" "http://127.0.0.1:$port/verify/index.txt"
curl -fsS -o /dev/null -H "Authorization: Bearer $first" "http://127.0.0.1:$port/cached/index.txt"
worker=$(pgrep -P "$(cat "$work/nginx.pid")" | head -n1)
path=${case%+header}
path=${path%+new}
[[ $path != new ]] || path=cached
perf record -e cpu-clock -F 4999 -g -p "$worker" -o "$work/perf.data" -- sleep "$secs" 2>/dev/null &
rec=$!
if [[ $case == new || $case == *+new ]]; then
  TOKENS=$TOKENS TOKEN_SKIP=1 taskset -c 1 wrk -t1 -c64 -d"${secs}s" -s "$root/bench/new-token.lua" \
    "http://127.0.0.1:$port/$path/index.txt" >"$work/wrk.txt" 2>"$work/wrk.err" || true
else
  taskset -c 1 wrk -t1 -c64 -d"${secs}s" -H "Authorization: Bearer $first" \
    "http://127.0.0.1:$port/$path/index.txt" >"$work/wrk.txt"
fi
wait "$rec" || true
{
  echo "# $case, $(basename "$module"), ${secs}s: $(awk '/Requests\/sec/ {print $2}' "$work/wrk.txt") req/s"
  cat "$work/wrk.err" 2>/dev/null || true
  echo "## by object"
  perf report -i "$work/perf.data" --no-children --sort dso --stdio -g none 2>/dev/null | grep -E '^ +[0-9.]+%' || true
  echo "## self"
  perf report -i "$work/perf.data" --no-children --sort dso,symbol --stdio -g none 2>/dev/null | cut -c1-160 |
    grep -E '^ +[0-9.]+%' | sed -n 1,45p || true
} >"$out"
