#!/usr/bin/env bash
# realm_auth against nginx alone and what users run instead (bench/run.sh):
# ~4 minutes (3 s × 3 rounds × 16 cases, plus minting the first time).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
if [[ -n ${BENCH_QUICK:-} ]]; then
  "$root/bench/run.sh" 1 1 "$1"
else
  "$root/bench/run.sh" 3 3 "$1"
fi
