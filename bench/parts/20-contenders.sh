#!/usr/bin/env bash
# realm_auth against nginx alone and what users run instead (bench/run.sh):
# ~3 minutes (3 s × 3 rounds × 16 cases), plus minting the token pools the
# first time (~5 minutes on a loaded machine; cached afterwards).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
if [[ -n ${BENCH_QUICK:-} ]]; then
  "$root/bench/run.sh" 1 1 "$1"
else
  "$root/bench/run.sh" 3 3 "$1"
fi
