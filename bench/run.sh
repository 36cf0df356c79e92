#!/usr/bin/env bash
# realm_auth against what users run instead, side by side in one run, on the
# same keys and the same Keycloak-shaped tokens (bench/README.md).
#
#   bench/run.sh [seconds-per-case] [rounds] [output.md]   (make bench: part 20)
#
# Every server runs on CPU 0 (one nginx worker; oauth2-proxy with
# GOMAXPROCS=1 behind an nginx on the same CPU; one Apache child), wrk on
# CPU 1, one connection pool of 64. Rounds interleave the cases; medians.
# Before anything is measured each contender must accept a valid token and
# refuse a tampered, a wrong-audience, a wrong-issuer and an expired one;
# otherwise the run stops. A "never-seen" case walks a pool of tokens that
# no request of the run has sent to that server before: wrk counts the
# tokens it hands out, the run fails if a pool runs short, and for this
# module the verified-token cache must count no hit during those cases.
# Installs what it needs: apache2 + libapache2-mod-auth-openidc (Debian,
# scripts/deps/apt-packages-bench.txt, no service started), oauth2-proxy
# (scripts/install-oauth2-proxy.sh). kjdev/nginx-auth-jwt runs when
# OSS_JWT_MODULE=<path to ngx_http_auth_jwt_module.so> is set.
# Knobs: BENCH_CONTENDERS_PORT (18960: the first of seven ports),
# BENCH_FRESH_<ALG> (never-seen pool sizes), REALM_AUTH_MODULE.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
here=$root/bench/contenders
secs=${1:-3}
rounds=${2:-3}
out=${3:-$root/bench/results/$(date -u +%Y-%m-%d)-contenders.md}
base=${BENCH_CONTENDERS_PORT:-18960}
iss_port=$base mod_port=$((base + 1)) front_port=$((base + 2)) o2p_port=$((base + 3))
apache_port=$((base + 4)) kjdev_port=$((base + 5)) iss_tls_port=$((base + 6))
issuer=http://127.0.0.1:$iss_port/realms/tenant-demo
module=${REALM_AUTH_MODULE:-$root/build/modules/ngx_http_realm_auth_module.so}
oss_module=${OSS_JWT_MODULE:-}
cache=${REALM_AUTH_CACHE:-$HOME/.cache/realm-auth}/bench/pool-$iss_port
work=$root/bench/work/contenders
algs=(RS256 PS256 ES256 EdDSA)
reuse_tokens=1000
log() { printf 'contenders: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }
fmt() { printf '%d' "$1" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'; } # 12345 → 12,345
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
[[ -f $module ]] || die "$module: not built (make build)"

# --- what the contenders need ------------------------------------------------
REALM_AUTH_APT_LIST=$root/scripts/deps/apt-packages-bench.txt "$root/scripts/install-deps.sh" >&2
o2p_bin=$("$root/scripts/install-oauth2-proxy.sh")

# --- keys and token pools (cached; pools only grow) --------------------------
# A never-seen pool must last one round of its fastest server; after each
# round, pools that would not last the remaining rounds at the rate just
# seen (+25%) grow before the next one (minting between rounds, never
# during a measurement), so the cache ends up sized for this machine.
declare -A rate_guess=([RS256]=30000 [PS256]=28000 [ES256]=16000 [EdDSA]=12000)
mkdir -p "$cache"
mint() { # ALG:FRESH:REUSE …
  (
    flock 9 # another checkout may be minting into the same cache
    /usr/bin/python3 "$here/mint_pool.py" "$cache" "$issuer" "$@"
  ) 9>"$cache/.lock"
}
specs=()
for a in "${algs[@]}"; do
  v=BENCH_FRESH_${a^^}
  specs+=("$a:${!v:-$((rate_guess[$a] * secs * rounds))}:$reuse_tokens")
done
mint "${specs[@]}"
pool_lines() { echo $(($(wc -l <"$1") - 1)); }

# --- servers ----------------------------------------------------------------
rm -rf "$work"
mkdir -p "$work"/{module,plain,kjdev,apache,o2p} "$work/issuer/realms/tenant-demo/protocol/openid-connect" \
  "$work/issuer/realms/tenant-demo/.well-known"
for d in noauth fresh cached verify o2p apache kjdev; do mkdir -p "$work/html/$d" && echo ok >"$work/html/$d/index.txt"; done
certs=$work/issuer/realms/tenant-demo/protocol/openid-connect/certs
cp "$cache/jwks.json" "$certs"
cp "$cache/jwks-rs256.json" "$certs-rs256"
cat >"$work/issuer/realms/tenant-demo/.well-known/openid-configuration" <<EOF
{"issuer":"$issuer","authorization_endpoint":"$issuer/protocol/openid-connect/auth",
 "token_endpoint":"$issuer/protocol/openid-connect/token","userinfo_endpoint":"$issuer/protocol/openid-connect/userinfo",
 "jwks_uri":"$issuer/protocol/openid-connect/certs","response_types_supported":["code"],
 "subject_types_supported":["public"],"id_token_signing_alg_values_supported":["RS256","PS256","ES256","EdDSA"]}
EOF
subst() {
  sed -e "s|@MODULE@|$module|" -e "s|@OSS_MODULE@|$oss_module|" -e "s|@WORK@|$work|g" \
    -e "s|@PORT@|$mod_port|g" -e "s|@ISSUER_PORT@|$iss_port|g" -e "s|@O2P_PORT@|$o2p_port|g" \
    -e "s|@O2P_FRONT_PORT@|$front_port|g" -e "s|@APACHE_PORT@|$apache_port|g" \
    -e "s|@KJDEV_PORT@|$kjdev_port|g" -e "s|@ISSUER_TLS_PORT@|$iss_tls_port|g" -e "s|@PASSPHRASE@|$(openssl rand -hex 16)|" "$1"
}
nginx_ctl() { nginx -p "$work/$1" -c "$work/$1/nginx.conf" -e "$work/$1/error.log" "${@:2}"; }
pids=()
stop_all() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in module plain kjdev; do [[ -f $work/$p/nginx.pid ]] && nginx_ctl "$p" -s stop 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap stop_all EXIT
wait_port() { # port what
  local i
  for ((i = 0; i < 100; i++)); do
    curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0
    sleep 0.2
  done
  die "$2 does not answer on port $1 (logs in $work)"
}
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$work/plain/issuer.key" -out "$work/plain/issuer.crt" 2>/dev/null
subst "$here/nginx-plain.conf.in" >"$work/plain/nginx.conf"
subst "$here/nginx-module.conf.in" >"$work/module/nginx.conf"
taskset -c 0 nginx -p "$work/plain" -c "$work/plain/nginx.conf" -e "$work/plain/error.log"
taskset -c 0 nginx -p "$work/module" -c "$work/module/nginx.conf" -e "$work/module/error.log"
wait_port "$iss_port" "the issuer (nginx)"
wait_port "$mod_port" "nginx with realm_auth"
if [[ -n $oss_module ]]; then
  subst "$here/nginx-kjdev.conf.in" >"$work/kjdev/nginx.conf"
  taskset -c 0 nginx -p "$work/kjdev" -c "$work/kjdev/nginx.conf" -e "$work/kjdev/error.log"
  wait_port "$kjdev_port" "nginx with kjdev/nginx-auth-jwt"
fi
# oauth2-proxy as a JWT resource-server check (Kubernetes: ingress-nginx
# auth-url to /oauth2/auth): OIDC discovery against the issuer, bearer JWTs
# verified (signature, iss, aud = client id, exp) instead of a session
# cookie, identity returned in X-Auth-Request-* headers. Access and auth
# logs off, as nginx's access_log is.
GOMAXPROCS=1 taskset -c 0 "$o2p_bin" --http-address="127.0.0.1:$o2p_port" --provider=oidc \
  --oidc-issuer-url="$issuer" --client-id=tenant-services --client-secret=bench-unused \
  --cookie-secret="$(openssl rand -hex 16)" --email-domain='*' --upstream=static://202 \
  --skip-jwt-bearer-tokens=true --set-xauthrequest=true --reverse-proxy=true --trusted-proxy-ip=127.0.0.1/32 \
  --request-logging=false --auth-logging=false >"$work/o2p/log" 2>&1 &
o2p_pid=$!
pids+=($!)
subst "$here/httpd.conf.in" >"$work/apache/httpd.conf"
taskset -c 0 /usr/sbin/apache2 -d "$work/apache" -f "$work/apache/httpd.conf" -DFOREGROUND \
  >>"$work/apache/error.log" 2>&1 &
apache_pid=$!
pids+=($!)
wait_port "$o2p_port" oauth2-proxy
wait_port "$front_port" "nginx in front of oauth2-proxy"
wait_port "$apache_port" "Apache httpd"

# --- every contender accepts a valid token and refuses bad ones --------------
declare -A url=(
  [module]=http://127.0.0.1:$mod_port/verify/index.txt
  [o2p]=http://127.0.0.1:$front_port/o2p/index.txt
  [apache]=http://127.0.0.1:$apache_port/apache/index.txt
)
contenders=(o2p apache)
[[ -z $oss_module ]] || { url[kjdev]=http://127.0.0.1:$kjdev_port/kjdev/index.txt; contenders=(kjdev "${contenders[@]}"); }
status_of() { curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $2" "$1"; }
checks_line=()
check() { # who alg
  local name tok code want summary=""
  while read -r name tok; do
    code=$(status_of "${url[$1]}" "$tok")
    if [[ $name == valid ]]; then want=200; [[ $code == 200 ]]; else want=401/403; [[ $code == 401 || $code == 403 ]]; fi ||
      die "$1 answered $code to a $name $2 token (expected $want): not measured"
    summary+="$name $code, "
  done <"$cache/checks-$2.txt"
  checks_line+=("$1 $2: ${summary%, }")
}
for a in "${algs[@]}"; do check module "$a"; done
for c in "${contenders[@]}"; do check "$c" RS256; done
log "checks passed: ${checks_line[*]}"

# --- cases ------------------------------------------------------------------
# case → "port path pool mode"; pools: '-' none, reuse-* cycled, fresh-* once
declare -A spec label
spec[noauth]="$mod_port /noauth/index.txt - cycle"
label[noauth]="nginx alone, no token"
spec[header]="$mod_port /noauth/index.txt reuse-RS256 cycle"
label[header]="nginx alone, the same token header sent and ignored"
cases=(noauth header)
for a in "${algs[@]}"; do
  spec[fresh-$a]="$mod_port /fresh/index.txt fresh-$a once"
  label[fresh-$a]="realm_auth $a, a never-seen token on every request"
  spec[verify-$a]="$mod_port /verify/index.txt reuse-$a cycle"
  label[verify-$a]="realm_auth $a, verify every request (cache off, $(fmt $reuse_tokens) tokens)"
  spec[cached-$a]="$mod_port /cached/index.txt reuse-$a cycle"
  label[cached-$a]="realm_auth $a, $(fmt $reuse_tokens) reused tokens"
  cases+=("fresh-$a" "verify-$a" "cached-$a")
done
if [[ -n $oss_module ]]; then
  spec[kjdev]="$kjdev_port /kjdev/index.txt fresh-RS256 once"
  label[kjdev]="kjdev/nginx-auth-jwt RS256, never-seen tokens"
  cases+=(kjdev)
fi
spec[o2p]="$front_port /o2p/index.txt fresh-RS256 once"
o2p_ver=$("$o2p_bin" --version | awk '{print $2}')
label[o2p]="nginx auth_request → oauth2-proxy $o2p_ver RS256, never-seen tokens"
spec[apache]="$apache_port /apache/index.txt fresh-RS256 once"
apache_ver=$(/usr/sbin/apache2 -v | sed -n 's|^Server version: Apache/\([^ ]*\).*|\1|p')
oidc_ver=$(dpkg-query -W -f='${Version}' libapache2-mod-auth-openidc)
label[apache]="Apache $apache_ver + mod_auth_openidc ${oidc_ver%%-*} RS256, never-seen tokens"
cases+=(o2p apache)
# The processes whose CPU time a case costs (all on CPU 0).
declare -A servers
for c in "${cases[@]}"; do servers[$c]=$(cat "$work/module/nginx.pid"); done
[[ -z $oss_module ]] || servers[kjdev]=$(cat "$work/kjdev/nginx.pid")
servers[o2p]="$(cat "$work/plain/nginx.pid") $o2p_pid"
servers[apache]=$apache_pid
tck=$(getconf CLK_TCK)
cpu_ticks() { # pid … → user + system ticks of them and their children
  local p t=0
  for p in $1 $(for q in $1; do pgrep -P "$q"; done); do
    t=$((t + $(sed 's/^.*) //' "/proc/$p/stat" | awk '{print $12 + $13}')))
  done
  echo "$t"
}

cache_counters() { # "hits misses" of realm_auth's verified-token cache
  curl -fsS "http://127.0.0.1:$mod_port/status" |
    /usr/bin/python3 -c 'import json,sys; c=json.load(sys.stdin)["token_cache"]; print(c["hits"], c["misses"])'
}
declare -A runs cpu cursor last_used server_of
failures=()
measure() { # case
  local port path pool mode args start r requests duration_us used exhausted errors status_errors connect read write timeout h0 m0 h1 m1 t0 t1
  read -r port path pool mode <<<"${spec[$1]}"
  args=(-)
  if [[ $pool != - ]]; then
    args=("$cache/$pool.pool" "$mode")
    if [[ $mode == once ]]; then start=${cursor[$port:$pool]:-0}; args+=("$start"); fi
  fi
  [[ $1 != fresh-* ]] || read -r h0 m0 < <(cache_counters)
  t0=$(cpu_ticks "${servers[$1]}")
  r=$(taskset -c 1 wrk -t1 -c64 -d"${secs}s" --timeout 10s -s "$here/pool.lua" \
    "http://127.0.0.1:$port$path" -- "${args[@]}" | sed -n 's/^RESULT //p')
  t1=$(cpu_ticks "${servers[$1]}")
  eval "$(tr ' ' '\n' <<<"$r" | grep -E '^[a-z_]+=[0-9]+$')" # requests= duration_us= …
  [[ -n ${requests:-} ]] || { failures+=("$1: no result from wrk"); return; }
  ((errors == 0 && status_errors == 0)) ||
    failures+=("$1: $status_errors refusals, socket errors: $connect connect, $read read, $write write, $timeout timeout")
  ((exhausted == 0)) || failures+=("$1: the pool $pool ran out (raise BENCH_FRESH_${pool#fresh-})")
  if [[ $mode == once ]]; then
    cursor[$port:$pool]=$((start + used)) last_used[$port:$pool]=$used server_of[$1]=$port:$pool
  fi
  if [[ $1 == fresh-* ]]; then
    read -r h1 m1 < <(cache_counters)
    ((h1 == h0 && m1 - m0 >= requests)) ||
      failures+=("$1: the token cache counted $((h1 - h0)) hits, $((m1 - m0)) misses for $requests never-seen tokens")
  fi
  runs[$1]+="$(echo "scale=0; $requests * 1000000 / $duration_us" | bc) "
  cpu[$1]+="$(echo "scale=2; ($t1 - $t0) * 1000000 / $tck / $requests" | bc) "
}
log "$((${#cases[@]})) cases × $rounds rounds × ${secs}s"
for ((i = 1; i <= rounds; i++)); do
  for c in "${cases[@]}"; do measure "$c"; done
  log "round $i done"
  ((i < rounds)) || break
  grow=()
  for a in "${algs[@]}"; do
    need=0
    for k in "${!cursor[@]}"; do
      [[ $k == *:fresh-$a ]] || continue
      n=$((cursor[$k] + last_used[$k] * 5 / 4 * (rounds - i)))
      ((n <= need)) || need=$n
    done
    ((need <= $(pool_lines "$cache/fresh-$a.pool"))) || grow+=("$a:$need:$reuse_tokens")
  done
  ((${#grow[@]} == 0)) || mint "${grow[@]}"
done
for c in "${!server_of[@]}"; do
  p=${server_of[$c]#*:}
  ((cursor[${server_of[$c]}] <= $(pool_lines "$cache/$p.pool"))) || failures+=("$c: more tokens sent than $p holds")
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# Standalone verify costs on the servers' CPU, in CPU time (openssl speed's
# default), as the servers' CPU µs per request are.
speed() { # openssl speed args → µs per verify
  taskset -c 0 openssl speed -seconds 1 "$@" 2>/dev/null | awk '/verify\/s/ {getline; print 1000000 / $NF; exit}'
}
rsa_us=$(speed rsa2048)
ecdsa_us=$(speed ecdsap256)
ed_us=$(speed ed25519)

# --- report -----------------------------------------------------------------
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
declare -A med cmed
for c in "${cases[@]}"; do med[$c]=$(median <<<"${runs[$c]}") cmed[$c]=$(median <<<"${cpu[$c]}"); done
noauth=${med[noauth]} header=${med[header]} header_cpu=${cmed[header]}
declare -A verify_us=([RS256]=$rsa_us [PS256]=$rsa_us [ES256]=$ecdsa_us [EdDSA]=$ed_us)
calc() { echo "$*" | bc -l; }
{
  echo "## Contenders: new, verified and reused tokens side by side"
  echo
  echo "Servers on CPU 0 (one nginx worker; oauth2-proxy GOMAXPROCS=1 behind an nginx"
  echo "on the same CPU; one Apache event-MPM child, 128 threads), wrk -t1 -c64 on CPU 1;"
  echo "${secs} s per case, $rounds interleaved rounds, medians (every round in brackets)."
  echo "Keycloak-shaped tokens ($(($(head -1 "$cache/reuse-RS256.pool" | wc -c) + $(sed -n 2p "$cache/reuse-RS256.pool" | wc -c) - 2)) bytes for RS256), 2048-bit RSA,"
  echo "P-256, Ed25519 keys in one JWKS; signature, exp, issuer and audience checked by all."
  echo "Load average before $load_before, after $load_after (2 cores shared with other work:"
  echo "req/s move with it; the servers' CPU time per request much less)."
  echo
  echo "| case | req/s | × no auth | × with header | server CPU µs/request | × no auth, by CPU | CPU µs over header |"
  echo "| --- | --- | --- | --- | --- | --- | --- |"
  for c in "${cases[@]}"; do
    m=${med[$c]}
    printf '| %s | %s (%s) | %.3f | %.3f | %.1f | %.3f | %s |\n' "${label[$c]}" "$(fmt "$m")" \
      "$(for v in ${runs[$c]}; do fmt "$v"; echo -n ' '; done | sed 's/ $//')" \
      "$(calc "$m / $noauth")" "$(calc "$m / $header")" "${cmed[$c]}" "$(calc "${cmed[noauth]} / ${cmed[$c]}")" \
      "$(if [[ $c == noauth || $c == header ]]; then echo —; else printf '%.1f' "$(calc "${cmed[$c]} - $header_cpu")"; fi)"
  done
  echo
  echo "server CPU µs/request: user + system time of the case's server processes (nginx"
  echo "workers; nginx in front + oauth2-proxy; Apache) over the requests answered, the"
  echo "cost a dedicated core would pay; \"by CPU\" ratios are what req/s would show there."
  echo
  printf 'Verify alone (`openssl speed`, CPU 0, CPU time): RSA-2048 %.1f µs, ECDSA P-256 %.1f µs, Ed25519 %.1f µs.\n' \
    "$rsa_us" "$ecdsa_us" "$ed_us"
  echo "A never-seen token cannot cost less than nginx receiving the header plus one verify"
  echo "(PS256: the RSA figure):"
  for a in "${algs[@]}"; do
    lim=$(calc "$header_cpu + ${verify_us[$a]}")
    f=${cmed[fresh-$a]}
    printf -- '- %s: limit %.1f µs; never-seen %.1f µs = %.0f%% of the limit, %.1f µs of other work per token (by req/s: %.0f%% of %s)\n' \
      "$a" "$lim" "$f" "$(calc "100 * $lim / $f")" "$(calc "$f - $lim")" \
      "$(calc "100 * ${med[fresh-$a]} * (1000000 / $header + ${verify_us[$a]}) / 1000000")" \
      "$(fmt "$(calc "1000000 / (1000000 / $header + ${verify_us[$a]})" | cut -d. -f1)") req/s"
  done
  echo
  echo "Never-seen pools (tokens sent to one server over all rounds, of the pool):"
  for c in "${cases[@]}"; do
    [[ -n ${server_of[$c]:-} ]] || continue
    p=${server_of[$c]#*:}
    echo "- ${label[$c]%%,*}: $(fmt "${cursor[${server_of[$c]}]}") of $(fmt "$(pool_lines "$cache/$p.pool")") ($p)"
  done
  echo
  echo "Checks before measuring (HTTP status per token): ${checks_line[*]/%/;}" | sed 's/;$//'
  echo
  echo "Versions: nginx $(nginx -v 2>&1 | cut -d/ -f2), OpenSSL $(openssl version | cut -d' ' -f2),"
  echo "oauth2-proxy $o2p_ver ($("$o2p_bin" --version | sed 's/.*(built with \(.*\))/\1/'), go install from the Go module proxy),"
  echo "Apache $apache_ver, libapache2-mod-auth-openidc $oidc_ver, wrk $(wrk -v 2>&1 | awk 'NR==1 {print $2}')$([[ -z $oss_module ]] || echo ", kjdev/nginx-auth-jwt $oss_module")."
  [[ -n $oss_module ]] || echo "kjdev/nginx-auth-jwt: not run (set OSS_JWT_MODULE to its .so)."
} >"$out"
cat "$out" >&2
if ((${#failures[@]})); then
  printf 'contenders: FAILED: %s\n' "${failures[@]}" >&2
  { echo; echo "**Run invalid:**"; printf -- '- %s\n' "${failures[@]}"; } >>"$out"
  exit 1
fi
