#!/usr/bin/env bash
# Installs vegeta (constant-rate HTTP load generator) for bench/parts/50:
#   bench/lib/install-vegeta.sh      # prints the path of the vegeta binary
# Built with `go install` from its Go module through the Go module proxy
# (go.sum checks every module) into ${REALM_AUTH_CACHE:-~/.cache/realm-auth}/bin.
# With the Go scripts/find-go.sh finds or provisions (scripts/go-install.sh).
# Quiet when already there.
set -euo pipefail
VEGETA_VERSION=v12.13.0
here=$(cd "$(dirname "$0")/../.." && pwd)
CACHE_DIR=${REALM_AUTH_CACHE:-$HOME/.cache/realm-auth}
BIN=$CACHE_DIR/bin/vegeta
stamp=$CACHE_DIR/bin/.vegeta-version
if [[ -x $BIN && -f $stamp && $(cat "$stamp") == "$VEGETA_VERSION" ]]; then
  echo "$BIN"
  exit 0
fi
"$here/scripts/go-install.sh" vegeta "github.com/tsenart/vegeta/v12@$VEGETA_VERSION"
echo "$VEGETA_VERSION" >"$stamp"
echo "$BIN"
