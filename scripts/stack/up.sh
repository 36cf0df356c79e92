#!/usr/bin/env bash
# Starts the local stack: PostgreSQL (Keycloak's database is there), Keycloak
# (booting in the background while Redis starts), the Keycloak bootstrap, then the sidecar and
# nginx when their scripts exist. Every component is idempotent: rerunning
# `make up` on a running stack only checks it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"

# optional NAME ACTION: scripts/stack/NAME.sh ACTION when that script exists
# (nginx.sh and sidecar.sh are written with the module and the sidecar) and
# NAME is not listed in STACK_SKIP (e.g. STACK_SKIP="sidecar nginx" for a
# Keycloak-only stack on a checkout that is not built).
optional() {
  if [[ " ${STACK_SKIP:-} " == *" $1 "* ]]; then
    log "$1: skipped (STACK_SKIP)"
  elif [[ -f $here/$1.sh ]]; then
    bash "$here/$1.sh" "$2"
  else
    log "$1: scripts/stack/$1.sh not present yet, skipped"
  fi
}

t0=$SECONDS
stack_secrets_init
"$here/postgres.sh" start
"$here/keycloak.sh" start --no-wait
"$here/redis.sh" start
"$here/keycloak.sh" wait
"$here/keycloak-bootstrap.sh"
optional sidecar start
optional nginx start
log "stack up in $((SECONDS - t0))s"
"$here/status.sh" || true
