#!/usr/bin/env bash
# Provisioning at 1 to 500 tenants: not measured in `make bench` (500 realms
# take longer than its whole budget here); the section repeats the latest
# results recorded by `make bench-provisioning` (bench/provisioning.sh), with
# their date and command, and says so. BENCH_QUICK changes nothing: it only
# reads a file.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
latest=$(ls "$root"/bench/results/[0-9]*-provisioning.md 2>/dev/null | sort | tail -1 || true)
{
  echo "## Provisioning at 1 to 500 tenants (recorded, not measured in this run)"
  echo
  if [[ -z $latest ]]; then
    echo "No recorded results: run \`make up\` then \`make bench-provisioning\`."
  else
    # "# Provisioning at 1 to 500 tenants, <date>": the recording's date.
    when=$(head -1 "$latest" | sed 's/.*, //')
    echo "Not run by \`make bench\` (it takes longer than the whole bench budget). These are the"
    echo "latest results recorded by \`make bench-provisioning\` (bench/provisioning.sh) on $when,"
    echo "from [$(basename "$latest")]($(basename "$latest")):"
    echo
    # The recorded file's own header (date, command, machine) without its title.
    sed -n '2,$p' "$latest"
  fi
} >"$1"
echo "provisioning: included $(basename "${latest:-none}") (recorded by make bench-provisioning)" >&2
