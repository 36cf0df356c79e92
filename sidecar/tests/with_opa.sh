#!/usr/bin/env bash
# with_opa.sh REPO_ROOT COMMAND...: runs COMMAND with OPA_URL pointing at a
# real `opa run --server` on a free 127.0.0.1 port serving
# conf/policy/realm_auth.rego, and stops OPA afterwards.
# opa comes from $OPA, else the cache scripts/install-opa.sh fills (make
# deps-stack). Without either, exit 77 (CTest: skipped), so that `make unit`
# needs no OPA; REALM_AUTH_REQUIRE_OPA=1 (set by `make test`) provisions it
# with scripts/install-opa.sh instead.
set -euo pipefail
root=$1
shift

opa=${OPA:-}
if [[ -z $opa ]]; then
  cached=${REALM_AUTH_CACHE:-$HOME/.cache/realm-auth}/bin/opa
  if [[ -x $cached ]]; then
    opa=$cached
  elif [[ ${REALM_AUTH_REQUIRE_OPA:-0} == 1 ]]; then
    opa=$("$root/scripts/install-opa.sh")
  else
    echo "with_opa: no opa in the cache (make deps-stack provisions it); skipped" >&2
    exit 77
  fi
fi

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log=$(mktemp "${TMPDIR:-/tmp}/opa-log.XXXXXX")
"$opa" run --server --addr "127.0.0.1:$port" --log-level error --skip-version-check \
  "$root/conf/policy/realm_auth.rego" >"$log" 2>&1 &
opa_pid=$!
cleanup() {
  kill "$opa_pid" 2>/dev/null || true
  wait "$opa_pid" 2>/dev/null || true
  if [[ -s $log ]]; then
    echo "--- opa log ---" >&2
    cat "$log" >&2
  fi
  rm -f "$log"
}
trap cleanup EXIT

# The test polls /health itself (up to 30 s); OPA_PID lets it notice an
# early exit.
OPA_URL=http://127.0.0.1:$port OPA_PID=$opa_pid "$@"
