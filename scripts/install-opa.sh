#!/usr/bin/env bash
# Installs Open Policy Agent (the `opa` binary) for the remote-policy tests
# and for running conf/policy/realm_auth.rego as the sidecar's policy service.
#
#   scripts/install-opa.sh          # prints the path of the opa binary
#
# Built from its Go module with `go install` through the Go module proxy
# (go.sum checks every module), into a cache outside the checkout:
#   ${REALM_AUTH_CACHE:-$HOME/.cache/realm-auth}/bin/opa
# with the Go that scripts/find-go.sh finds or provisions.
# Idempotent and quiet when the pinned version is already there.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/deps/versions.env"
CACHE_DIR=${REALM_AUTH_CACHE:-$HOME/.cache/realm-auth}
BIN_DIR=$CACHE_DIR/bin
OPA=$BIN_DIR/opa
log() { printf 'install-opa: %s\n' "$*" >&2; }

installed_version() {
  # `opa version` prints "Version: 1.22.3" on its first line.
  "$OPA" version 2>/dev/null | sed -n 's/^Version: *//p' | head -n1
}

if [[ -x $OPA && "v$(installed_version)" == "$OPA_VERSION" ]]; then
  printf '%s\n' "$OPA"
  exit 0
fi

"$here/go-install.sh" opa "github.com/open-policy-agent/opa@$OPA_VERSION"
[[ "v$(installed_version)" == "$OPA_VERSION" ]] || {
  log "$OPA does not report version $OPA_VERSION"
  exit 1
}
printf '%s\n' "$OPA"
