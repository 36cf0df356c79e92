#!/usr/bin/env bash
# The one `go install` recipe of the tools this project builds from their Go
# modules (OPA, oauth2-proxy for make bench, vegeta for make bench):
#
#   scripts/go-install.sh NAME MODULE@VERSION [go install flags...]
#
# Installs into ${REALM_AUTH_CACHE:-$HOME/.cache/realm-auth}/bin with the Go
# that scripts/find-go.sh finds or provisions, and never another toolchain
# (GOTOOLCHAIN=local); module and build caches under the cache directory
# unless the caller set them; static binaries (CGO_ENABLED=0). Modules come
# through the Go module proxy and go.sum checks every one. NAME only labels
# the messages (stderr).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
name=$1
module=$2
shift 2
CACHE_DIR=${REALM_AUTH_CACHE:-$HOME/.cache/realm-auth}
log() { printf 'install-%s: %s\n' "$name" "$*" >&2; }
GO=$("$here/find-go.sh")
mkdir -p "$CACHE_DIR/bin"
log "building $module with $(GOTOOLCHAIN=local "$GO" env GOVERSION) (a few minutes the first time)"
export GOBIN=$CACHE_DIR/bin
export GOPATH=${GOPATH:-$CACHE_DIR/go}
export GOMODCACHE=${GOMODCACHE:-$GOPATH/pkg/mod}
export CGO_ENABLED=${CGO_ENABLED:-0}
export GOTOOLCHAIN=local
unset GOROOT
"$GO" install "$@" "$module" >&2 || { log "go install $module failed"; exit 1; }
