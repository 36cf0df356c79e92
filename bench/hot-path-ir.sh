#!/usr/bin/env bash
# Instructions per request (valgrind callgrind: repeatable on a shared,
# noisy machine, unlike requests/s) for the reused-token path and its
# baseline, for one or more builds of the module side by side:
#   bench/hot-path-ir.sh OLD.so NEW.so ...
# Each case serves 1,000 and then 3,000 requests from one nginx process
# under callgrind; the difference divided by 2,000 is the cost of one
# request, start-up and warm-up excluded. Cases: noauth+header (the bench
# server's static file, the same 1 KB bearer header sent and ignored) and
# cached (auth_realm on, the verified-token cache hit).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
port=${BENCH_PORT:-18990}
lua=$(mktemp /tmp/hot-path-ir.XXXX.lua)
trap 'rm -f "$lua"' EXIT
cat >"$lua" <<'LUA'
local n, quota = 0, tonumber(os.getenv("IR_N"))
function response()
  n = n + 1
  if n >= quota then io.write("done\n"); io.flush(); os.exit(0) end
end
LUA

total_ir() {  # module case n -> instructions of the whole run
  local module=$1 path=${2%+header} n=$3 work vg token
  work=$(mktemp -d /tmp/hot-path-ir.XXXX)
  mkdir -p "$work"/html/{noauth,cached} "$work/html/realms/tenant-demo/protocol/openid-connect"
  echo ok >"$work/html/noauth/index.txt"
  echo ok >"$work/html/cached/index.txt"
  token=$(perl "$root/bench/mint_token.pl" \
    "$work/html/realms/tenant-demo/protocol/openid-connect/certs" \
    "http://127.0.0.1:$port/realms/tenant-demo")
  sed -e "s|@MODULE@|$module|" -e "s|@WORK@|$work|g" -e "s|@PORT@|$port|g" \
    -e '/^worker_cpu_affinity/d' "$root/bench/nginx.conf.in" >"$work/nginx.conf"
  valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" \
    nginx -p "$work" -c "$work/nginx.conf" -g 'daemon off; master_process off;' 2>"$work/vg.log" &
  vg=$!
  for _ in $(seq 100); do
    curl -fsS -o /dev/null "http://127.0.0.1:$port/noauth/index.txt" 2>/dev/null && break
    sleep 0.3
  done
  curl -fsS -o /dev/null -H "Authorization: Bearer $token" "http://127.0.0.1:$port/cached/index.txt"
  IR_N=$n wrk -t1 -c4 -d600s -s "$lua" -H "Authorization: Bearer $token" \
    "http://127.0.0.1:$port/$path/index.txt" >/dev/null
  kill -TERM "$vg"
  wait "$vg" || true
  awk '/^(summary|totals):/ {print $2; exit}' "$work/cg.out"
  rm -rf "$work"
}

printf '| module | noauth+header Ir/request | cached Ir/request | ratio |\n|---|---|---|---|\n'
for module in "$@"; do
  declare -A per=()
  for c in noauth+header cached; do
    a=$(total_ir "$module" "$c" 1000)
    b=$(total_ir "$module" "$c" 3000)
    per[$c]=$(((b - a) / 2000))
  done
  printf '| %s | %d | %d | %.3f |\n' "$module" "${per[noauth+header]}" "${per[cached]}" \
    "$(echo "${per[noauth+header]} / ${per[cached]}" | bc -l)"
done
