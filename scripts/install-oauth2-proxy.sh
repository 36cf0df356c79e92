#!/usr/bin/env bash
# Installs oauth2-proxy (a contender in `make bench`), built from its Go
# module with `go install` through the Go module proxy (go.sum checks every
# module), with the Go that scripts/find-go.sh finds or provisions, into
#   ${REALM_AUTH_CACHE:-$HOME/.cache/realm-auth}/bin/oauth2-proxy
# Prints its path. Idempotent and quiet when the pinned version is there.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/deps/versions.env"
CACHE_DIR=${REALM_AUTH_CACHE:-$HOME/.cache/realm-auth}
BIN_DIR=$CACHE_DIR/bin
BIN=$BIN_DIR/oauth2-proxy
log() { printf 'install-oauth2-proxy: %s\n' "$*" >&2; }

# `oauth2-proxy --version` prints "oauth2-proxy v7.15.6 (built with go1.26.8)".
installed_version() { "$BIN" --version 2>/dev/null | awk '{print $2; exit}'; }

if [[ -x $BIN && $(installed_version) == "$OAUTH2_PROXY_VERSION" ]]; then
  printf '%s\n' "$BIN"
  exit 0
fi
# The version string oauth2-proxy reports is set by its release build.
"$here/go-install.sh" oauth2-proxy "github.com/oauth2-proxy/oauth2-proxy/v7@$OAUTH2_PROXY_VERSION" \
  -ldflags "-X github.com/oauth2-proxy/oauth2-proxy/v7/pkg/version.VERSION=$OAUTH2_PROXY_VERSION"
[[ $(installed_version) == "$OAUTH2_PROXY_VERSION" ]] ||
  { log "$BIN does not report version $OAUTH2_PROXY_VERSION"; exit 1; }
printf '%s\n' "$BIN"
