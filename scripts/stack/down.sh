#!/usr/bin/env bash
# Stops the local stack in reverse order. Data stays in .state/ (see clean-state.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"

rc=0
for c in nginx sidecar keycloak redis postgres; do
  [[ -f $here/$c.sh ]] || continue
  bash "$here/$c.sh" stop || { log "stopping $c failed"; rc=1; }
done
exit $rc
