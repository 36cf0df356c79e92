#!/usr/bin/env bash
# Installs Open Policy Agent (the `opa` binary) for the remote-policy tests
# and for running conf/policy/realm_auth.rego as the sidecar's policy service.
#
#   scripts/install-opa.sh          # prints the path of the opa binary
#
# Built from its Go module with `go install` through the Go module proxy
# (go.sum checks every module), into a cache outside the checkout:
#   ${REALM_AUTH_CACHE:-$HOME/.cache/realm-auth}/bin/opa
# Go: the machine's own when it is new enough (GO, else `go` on PATH, else
# the directories in REALM_AUTH_GO_DIRS); otherwise the Go toolchain pinned
# in scripts/deps/versions.env, as the golang.org/toolchain module zip from
# the Go module proxy (sha256 checked), unpacked into the cache.
# Idempotent and quiet when the pinned version is already there.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/deps/versions.env"
CACHE_DIR=${REALM_AUTH_CACHE:-$HOME/.cache/realm-auth}
DOWNLOADS=${REALM_AUTH_DOWNLOADS:-$CACHE_DIR/downloads}
BIN_DIR=$CACHE_DIR/bin
OPA=$BIN_DIR/opa
GOPROXY_URL=${GOPROXY_URL:-https://proxy.golang.org}
log() { printf 'install-opa: %s\n' "$*" >&2; }

installed_version() {
  # `opa version` prints "Version: 1.22.3" on its first line.
  "$OPA" version 2>/dev/null | sed -n 's/^Version: *//p' | head -n1
}

if [[ -x $OPA && "v$(installed_version)" == "$OPA_VERSION" ]]; then
  printf '%s\n' "$OPA"
  exit 0
fi

# go_ok GO: GO runs and is at least GO_MIN_VERSION (what OPA's go.mod needs).
go_ok() {
  local v
  v=$(GOTOOLCHAIN=local "$1" env GOVERSION 2>/dev/null) || return 1
  v=${v#go}
  [[ -n $v ]] && [[ $(printf '%s\n%s\n' "$GO_MIN_VERSION" "${v%%[^0-9.]*}" | sort -V | head -n1) == "$GO_MIN_VERSION" ]]
}

GO=${GO:-}
if [[ -z $GO ]]; then
  for c in "$(command -v go || true)" $(for d in ${REALM_AUTH_GO_DIRS-/usr/local/go/bin /usr/lib/go/bin}; do echo "$d/go"; done); do
    [[ -n $c && -x $c ]] && go_ok "$c" && { GO=$c; break; }
  done
fi
if [[ -z $GO ]]; then
  goroot=$CACHE_DIR/go-toolchain/go$GO_TOOLCHAIN_VERSION
  mkdir -p "$CACHE_DIR"
  exec 9>"$CACHE_DIR/.install-go.lock"
  flock 9
  if [[ ! -x $goroot/bin/go ]]; then
    case $(uname -m) in
      x86_64) sum=$GO_TOOLCHAIN_SHA256_LINUX_AMD64 ;;
      *) log "no Go >= $GO_MIN_VERSION here and no pinned toolchain for $(uname -m); set GO"; exit 1 ;;
    esac
    zip=$DOWNLOADS/go$GO_TOOLCHAIN_VERSION.linux-amd64.zip
    if [[ ! -s $zip ]] || ! echo "$sum  $zip" | sha256sum -c --quiet - 2>/dev/null; then
      log "no Go >= $GO_MIN_VERSION on this machine: downloading the go$GO_TOOLCHAIN_VERSION toolchain module from the Go module proxy"
      mkdir -p "$DOWNLOADS"
      curl -fsS --retry 3 -o "$zip.part" \
        "$GOPROXY_URL/golang.org/toolchain/@v/v0.0.1-go$GO_TOOLCHAIN_VERSION.linux-amd64.zip" ||
        { log "download of the Go toolchain failed"; exit 1; }
      echo "$sum  $zip.part" | sha256sum -c --quiet - || { rm -f "$zip.part"; log "Go toolchain: checksum mismatch"; exit 1; }
      mv "$zip.part" "$zip"
    fi
    mkdir -p "$CACHE_DIR/go-toolchain"
    tmp=$(mktemp -d "$CACHE_DIR/go-toolchain/.unpack.XXXXXX")
    unzip -q "$zip" -d "$tmp"
    # The module zip keeps no file modes.
    top=$tmp/golang.org/toolchain@v0.0.1-go$GO_TOOLCHAIN_VERSION.linux-amd64
    chmod +x "$top"/bin/* "$top"/pkg/tool/*/*
    rm -rf "$goroot"
    mv "$top" "$goroot"
    rm -rf "$tmp"
  fi
  GO=$goroot/bin/go
  go_ok "$GO" || { log "$GO does not run"; exit 1; }
fi

mkdir -p "$BIN_DIR"
log "building opa $OPA_VERSION with $(GOTOOLCHAIN=local "$GO" env GOVERSION) (takes a few minutes the first time)"
# Module and build caches also go under the cache dir unless the caller set them.
export GOBIN=$BIN_DIR
export GOPATH=${GOPATH:-$CACHE_DIR/go}
export GOMODCACHE=${GOMODCACHE:-$GOPATH/pkg/mod}
export CGO_ENABLED=${CGO_ENABLED:-0}
# Never switch to another toolchain behind our back.
export GOTOOLCHAIN=local
unset GOROOT
if ! "$GO" install "github.com/open-policy-agent/opa@$OPA_VERSION" >&2; then
  log "go install github.com/open-policy-agent/opa@$OPA_VERSION failed"
  exit 1
fi
[[ "v$(installed_version)" == "$OPA_VERSION" ]] || {
  log "$OPA does not report version $OPA_VERSION"
  exit 1
}
printf '%s\n' "$OPA"
