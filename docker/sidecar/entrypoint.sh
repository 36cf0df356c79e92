#!/bin/sh
# Entry point of the sidecar image: `serve` (the default command) applies the
# migrations first, as scripts/stack/sidecar.sh does for `make up`; any other
# command runs as given, e.g.
#   docker compose run --rm sidecar audit verify
#   docker compose run --rm sidecar config
set -eu
[ "$#" -gt 0 ] || set -- serve
if [ "$1" = serve ]; then
  realm-sidecar migrate
fi
exec realm-sidecar "$@"
