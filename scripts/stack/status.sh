#!/usr/bin/env bash
# One line per component; exit status 0 only when all of them are running.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"

rc=0
for c in postgres redis keycloak sidecar nginx; do
  [[ -f $here/$c.sh ]] || continue
  bash "$here/$c.sh" status || rc=3
done
printf 'state:     %s\n' "$STATE_DIR"
exit $rc
