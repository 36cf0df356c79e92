#!/usr/bin/env bash
# Where a request's instructions go, per case, for one or more builds of
# the module (valgrind callgrind: repeatable on a shared, noisy machine):
#   bench/hot-path-profile.sh OUTDIR OLD.so NEW.so ...
# One nginx process (no master, one worker) per build and case, under
# callgrind; after start-up and a warm-up request the counters are zeroed
# (callgrind_control -z), IR_N requests are served, and the profile is
# written to OUTDIR/<build>-<case>.cg (callgrind_annotate reads it) with a
# table of instructions per request on stdout. Cases:
#   noauth+header  the static file, the 1 KB bearer header sent and ignored
#   new            a token never seen before on every request (distinct
#                  tokens from mint_tokens.pl, cache on)
#   verify         auth_realm_token_cache off, one token
#   cached         a verified-token cache hit
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$1
shift
port=${BENCH_PORT:-18990}
n=${IR_N:-2000}
cases=${IR_CASES:-noauth+header new verify cached}
mkdir -p "$out"
tokens=$out/tokens
jwks=$out/jwks.json
issuer="http://127.0.0.1:$port/realms/tenant-demo"
if [[ ! -s $tokens ]] || (($(wc -l <"$tokens") < n + 50)); then
  perl "$root/bench/mint_tokens.pl" "$jwks" "$issuer" $((n + 50)) >"$tokens"
fi
lua=$out/quota.lua
cat >"$lua" <<'LUA'
local n, quota = 0, tonumber(os.getenv("IR_N"))
function response()
  n = n + 1
  if n >= quota then io.write("done\n"); io.flush(); os.exit(0) end
end
LUA

profile() {  # module case name -> Ir per request
  local module=$1 c=$2 name=$3 path=${2%+header} work vg warm
  [[ $path != new ]] || path=cached
  work=$(mktemp -d /tmp/hot-path-profile.XXXX)
  mkdir -p "$work"/html/{noauth,cached,verify} "$work/html/realms/tenant-demo/protocol/openid-connect"
  for d in noauth cached verify; do echo ok >"$work/html/$d/index.txt"; done
  cp "$jwks" "$work/html/realms/tenant-demo/protocol/openid-connect/certs"
  sed -e "s|@MODULE@|$module|" -e "s|@WORK@|$work|g" -e "s|@PORT@|$port|g" \
    -e '/^worker_cpu_affinity/d' "$root/bench/nginx.conf.in" >"$work/nginx.conf"
  valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" --dump-instr=no \
    nginx -p "$work" -c "$work/nginx.conf" -g 'daemon off; master_process off;' 2>"$work/vg.log" &
  vg=$!
  for _ in $(seq 100); do
    curl -fsS -o /dev/null "http://127.0.0.1:$port/noauth/index.txt" 2>/dev/null && break
    sleep 0.3
  done
  # Warm up with the pool's last token: the JWKS fetched, the first
  # verification done, nothing the run will send.
  warm=$(tail -n1 "$tokens")
  curl -fsS -o /dev/null -H "Authorization: Bearer $warm" "http://127.0.0.1:$port/cached/index.txt"
  curl -fsS -o /dev/null -H "Authorization: Bearer $warm" "http://127.0.0.1:$port/verify/index.txt"
  callgrind_control -z "$vg" >/dev/null
  if [[ $c == new ]]; then
    TOKENS=$tokens IR_N=$n wrk -t1 -c4 -d600s -s "$root/bench/new-token.lua" \
      "http://127.0.0.1:$port/$path/index.txt" >/dev/null 2>"$work/wrk.err"
  else
    IR_N=$n wrk -t1 -c4 -d600s -s "$lua" -H "Authorization: Bearer $warm" \
      "http://127.0.0.1:$port/$path/index.txt" >/dev/null
  fi
  kill -TERM "$vg"
  wait "$vg" || true
  cp "$work/cg.out" "$out/$name-$c.cg"
  awk -v n="$n" '/^(summary|totals):/ {printf "%d", $2 / n; exit}' "$work/cg.out"
  rm -rf "$work"
}

printf '| build | %s |\n' "$(echo "$cases" | sed 's/ / Ir\/request | /g') Ir/request"
for module in "$@"; do
  name=$(basename "$module" .so)
  row="| $name |"
  for c in $cases; do row+=" $(profile "$module" "$c" "$name") |"; done
  echo "$row"
done
