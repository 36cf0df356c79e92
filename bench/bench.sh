#!/usr/bin/env bash
# make bench: every benchmark part in sequence, one results file.
#
# A part is an executable bench/parts/NN-name.sh. It is called with one
# argument, the markdown file it writes its section to (a "## " heading, a
# table, a few lines on what was measured); progress goes to stderr. Parts
# run in file-name order. BENCH_PARTS="NN-name ..." runs a subset;
# BENCH_QUICK=1 asks each part for a short smoke run (numbers meaningless).
# The assembled file is bench/results/<date>.md and bench/results/latest.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
parts=()
if [[ -n ${BENCH_PARTS:-} ]]; then
  for p in $BENCH_PARTS; do parts+=("$root/bench/parts/$p.sh"); done
else
  for p in "$root"/bench/parts/[0-9]*.sh; do parts+=("$p"); done
fi
start=$SECONDS
failed=()
for p in "${parts[@]}"; do
  name=$(basename "$p" .sh)
  echo "== bench part $name" >&2
  t0=$SECONDS
  if "$p" "$out/$name.md"; then
    echo "== $name: $((SECONDS - t0)) s" >&2
  else
    echo "== $name FAILED after $((SECONDS - t0)) s" >&2
    failed+=("$name")
  fi
done
stamp=$(date -u +%Y-%m-%d)
result=$root/bench/results/$stamp.md
{
  echo "# realm_auth benchmarks, $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "- Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(awk '/MemTotal/ {printf "%.0f GB", $2/1048576}' /proc/meminfo), load before the run $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- Kernel $(uname -r); nginx $(nginx -v 2>&1 | cut -d/ -f2); OpenSSL $(openssl version | cut -d' ' -f2)"
  echo "- realm-auth $(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet || echo ' (with local changes)')"
  echo "- Command: make bench${BENCH_PARTS:+ BENCH_PARTS=\"$BENCH_PARTS\"}${BENCH_QUICK:+ BENCH_QUICK=$BENCH_QUICK}; $((SECONDS - start)) s"
  echo
  for p in "${parts[@]}"; do
    name=$(basename "$p" .sh)
    if [[ -s $out/$name.md ]]; then cat "$out/$name.md"; else echo "## $name: no result (failed)"; fi
    echo
  done
} >"$result"
cp "$result" "$root/bench/results/latest.md"
cat "$result"
((${#failed[@]} == 0)) || { echo "bench parts failed: ${failed[*]}" >&2; exit 1; }
