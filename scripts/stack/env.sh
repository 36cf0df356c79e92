#!/usr/bin/env bash
# Prints the resolved, non-secret configuration of the local stack as
# KEY=VALUE lines (for tests and tools that are not bash). Passwords and
# secrets are omitted: read them from .state/secrets/ when needed.
set -euo pipefail
. "$(dirname "$0")/common.sh"

printf '%s=%s\n' STACK_ROOT "$STACK_ROOT" STATE_DIR "$STATE_DIR" SECRETS_DIR "$SECRETS_DIR" CACHE_DIR "$CACHE_DIR"
keys=()
for f in "$STACK_ROOT/conf/stack.env" "$STACK_ROOT/conf/stack.local.env"; do
  [[ -f $f ]] || continue
  while IFS= read -r line || [[ -n $line ]]; do
    [[ $line =~ ^[[:space:]]*([A-Za-z_][A-Za-z0-9_]*)= ]] && keys+=("${BASH_REMATCH[1]}")
  done <"$f"
done
declare -A seen=()
for k in "${keys[@]}"; do
  [[ -n ${seen[$k]+x} || $k =~ (PASSWORD|SECRET|TOKEN) ]] && continue
  seen[$k]=1
  printf '%s=%s\n' "$k" "${!k-}"
done
