#!/usr/bin/env bash
# What a DPoP proof costs next to a Bearer token.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
if [[ -n ${BENCH_QUICK:-} ]]; then "$root/bench/dpop-cost.sh" 2 1; else "$root/bench/dpop-cost.sh"; fi >&2
{ echo "## DPoP"; echo; sed -n '3,$p' "$root/bench/results/latest-dpop.md"; } >"$1"
