#!/usr/bin/env bash
# Installs vegeta (constant-rate HTTP load generator) for bench/parts/50:
#   bench/lib/install-vegeta.sh      # prints the path of the vegeta binary
# Built with `go install` from its Go module through the Go module proxy
# (go.sum checks every module) into ${REALM_AUTH_CACHE:-~/.cache/realm-auth}/bin.
# Go: GO, else `go` on PATH, else /usr/local/go/bin, else the toolchain
# scripts/install-opa.sh unpacks into the cache. Quiet when already there.
set -euo pipefail
VEGETA_VERSION=v12.13.0
here=$(cd "$(dirname "$0")/../.." && pwd)
. "$here/scripts/deps/versions.env"
CACHE_DIR=${REALM_AUTH_CACHE:-$HOME/.cache/realm-auth}
BIN=$CACHE_DIR/bin/vegeta
stamp=$CACHE_DIR/bin/.vegeta-version
if [[ -x $BIN && -f $stamp && $(cat "$stamp") == "$VEGETA_VERSION" ]]; then
  echo "$BIN"
  exit 0
fi
GO=${GO:-}
for c in "$GO" "$(command -v go || true)" /usr/local/go/bin/go "$CACHE_DIR/go-toolchain/go$GO_TOOLCHAIN_VERSION/bin/go"; do
  [[ -n $c && -x $c ]] && { GO=$c; break; }
done
[[ -n $GO ]] || { echo "install-vegeta: no Go found (set GO, or run scripts/install-opa.sh once)" >&2; exit 1; }
echo "install-vegeta: building vegeta $VEGETA_VERSION with $($GO env GOVERSION)" >&2
mkdir -p "$CACHE_DIR/bin"
export GOBIN=$CACHE_DIR/bin GOPATH=${GOPATH:-$CACHE_DIR/go} GOTOOLCHAIN=local CGO_ENABLED=0
unset GOROOT
"$GO" install "github.com/tsenart/vegeta/v12@$VEGETA_VERSION" >&2
echo "$VEGETA_VERSION" >"$stamp"
echo "$BIN"
