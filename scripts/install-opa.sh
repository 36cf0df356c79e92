#!/usr/bin/env bash
# Installs Open Policy Agent (the `opa` binary) for the remote-policy tests
# and for running conf/policy/realm_auth.rego as the sidecar's policy service.
#
#   scripts/install-opa.sh          # prints the path of the opa binary
#
# Built from source with `go install` through the Go module proxy (no prebuilt
# download), into a cache outside the checkout:
#   ${REALM_AUTH_CACHE:-$HOME/.cache/realm-auth}/bin/opa
# Idempotent and quiet when the pinned version is already there. Needs Go
# (>= the version OPA's go.mod asks for; Go 1.26 is fine).
set -euo pipefail

OPA_VERSION=${OPA_VERSION:-v1.22.3}
CACHE_DIR=${REALM_AUTH_CACHE:-$HOME/.cache/realm-auth}
BIN_DIR=$CACHE_DIR/bin
OPA=$BIN_DIR/opa

installed_version() {
  # `opa version` prints "Version: 1.22.3" on its first line.
  "$OPA" version 2>/dev/null | sed -n 's/^Version: *//p' | head -n1
}

if [[ -x $OPA && "v$(installed_version)" == "$OPA_VERSION" ]]; then
  printf '%s\n' "$OPA"
  exit 0
fi

GO=${GO:-$(command -v go || true)}
[[ -z $GO && -x /usr/local/go/bin/go ]] && GO=/usr/local/go/bin/go
if [[ -z $GO ]]; then
  echo "install-opa: Go is required (https://go.dev/doc/install or apt-get install golang-go)" >&2
  exit 1
fi

mkdir -p "$BIN_DIR"
echo "install-opa: building opa $OPA_VERSION with $("$GO" version | cut -d' ' -f3) (takes a few minutes the first time)" >&2
# Module and build caches also go under the cache dir unless the caller set them.
export GOBIN=$BIN_DIR
export GOPATH=${GOPATH:-$CACHE_DIR/go}
export GOMODCACHE=${GOMODCACHE:-$GOPATH/pkg/mod}
export CGO_ENABLED=${CGO_ENABLED:-0}
if ! "$GO" install "github.com/open-policy-agent/opa@$OPA_VERSION" >&2; then
  echo "install-opa: go install github.com/open-policy-agent/opa@$OPA_VERSION failed" >&2
  exit 1
fi
[[ "v$(installed_version)" == "$OPA_VERSION" ]] || {
  echo "install-opa: $OPA does not report version $OPA_VERSION" >&2
  exit 1
}
printf '%s\n' "$OPA"
