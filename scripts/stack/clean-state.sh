#!/usr/bin/env bash
# Stops the stack and deletes .state/ (databases, logs, generated secrets).
# The download cache ($REALM_AUTH_CACHE) is kept.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"

"$here/down.sh" || true
# Guard against a mis-set REALM_AUTH_STATE pointing somewhere precious.
[[ $(basename "$STATE_DIR") == .state ]] || die "refusing to delete $STATE_DIR (not a .state directory)"
rm -rf "$STATE_DIR"
log "removed $STATE_DIR"
