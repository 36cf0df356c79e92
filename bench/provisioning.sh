#!/usr/bin/env bash
# make bench-provisioning: POST /tenants and POST /tenants/{id}/users at the
# 1st, 100th, 300th and 500th tenant against the running local stack
# (`make up`; for the recorded numbers: `make clean-state && make up`, so
# that the realm count starts at the platform realm and master), through
# nginx with real tokens (bench/provisioning-scale.pl). Writes
# bench/results/<date>-provisioning.md (and latest-provisioning.md), which
# `make bench` includes as recorded (bench/parts/60-provisioning.sh).
# Too long for `make bench` (500 realms take 10-20 min here).
#   PROVISIONING_POINTS=1,100,300,500 PROVISIONING_PARALLEL=2
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
points=${PROVISIONING_POINTS:-1,100,300,500}
parallel=${PROVISIONING_PARALLEL:-2}
while IFS='=' read -r k v; do declare "$k=$v"; done < <("$root/scripts/stack/env.sh")
[[ $(curl -s -o /dev/null --max-time 5 -w '%{http_code}' "http://localhost:$NGINX_PORT/tenants" || true) == 401 ]] || {
  echo "bench-provisioning: the stack is not running (make up)" >&2
  exit 1
}
table=$(mktemp)
trap 'rm -f "$table"' EXIT
t0=$SECONDS
# What was run, as the results say: the make target, or this script (which
# is all the target runs).
cmd=bench/provisioning.sh
[[ -n ${MAKELEVEL:-} ]] && cmd="make bench-provisioning"
start=$(date -u +%Y-%m-%dT%H:%MZ)
perl "$root/bench/provisioning-scale.pl" --points "$points" --parallel "$parallel" --full-token --out "$table" >/dev/null
stamp=$(date -u +%Y-%m-%d)
result=$root/bench/results/$stamp-provisioning.md
{
  echo "# Provisioning at 1 to ${points##*,} tenants, $start"
  echo
  echo "- Recorded by \`$cmd\`${PROVISIONING_POINTS:+ PROVISIONING_POINTS=$points}${PROVISIONING_PARALLEL:+ PROVISIONING_PARALLEL=$parallel} on a running stack (\`make up\`), $((SECONDS - t0)) s"
  echo "- Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load before the run $(cut -d' ' -f1-3 /proc/loadavg) (shared with other sessions)"
  echo "- Keycloak $KEYCLOAK_VERSION, ${KEYCLOAK_MODE:-prod} mode on PostgreSQL; realm-auth $(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet || echo ' (with local changes)')"
  echo
  cat "$table"
} >"$result"
cp "$result" "$root/bench/results/latest-provisioning.md"
cat "$result"
