#!/usr/bin/env bash
# The module against nginx alone (and kjdev/nginx-auth-jwt when OSS_JWT_MODULE is set).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
if [[ -n ${BENCH_QUICK:-} ]]; then "$root/bench/run.sh" 2 1; else "$root/bench/run.sh"; fi >&2
{ echo "## Throughput"; echo; sed -n '3,$p' "$root/bench/results/latest-throughput.md"; } >"$1"
