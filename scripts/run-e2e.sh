#!/usr/bin/env bash
# Runs the end-to-end suites (t/e2e) against the real local stack. Starts
# the stack when it is not running and stops it again afterwards; a stack
# that was already up is left running.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

started=0
if ! scripts/stack/status.sh >/dev/null 2>&1; then
  started=1
  # A start that fails half-way (a port taken, a component not ready) must
  # not leave the components it did start running: stop them all.
  if ! scripts/stack/up.sh; then
    scripts/stack/down.sh || true
    exit 1
  fi
fi
status=0
prove -It/e2e/lib -It/lib t/e2e || status=$?
if [[ $started == 1 ]]; then
  scripts/stack/down.sh || true
fi
exit $status
