#!/usr/bin/env bash
# docker/docker-compose.yml checked by Docker Compose v2 (no engine needed)
# and scripts/check-compose.py: valid Compose Specification, images pinned,
# mounts present, .env.example in step with the file.
#   prove -e bash t/docker/010-compose.t      (make test-compose)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
compose=$("$root/scripts/install-compose.sh") || { echo "Bail out! scripts/install-compose.sh failed"; exit 1; }
exec python3 "$root/scripts/check-compose.py" "$compose"
