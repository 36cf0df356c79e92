#!/usr/bin/env bash
# Prints the path of a Go toolchain able to build the pinned Go tools
# (scripts/install-opa.sh, scripts/install-oauth2-proxy.sh):
# the machine's own when it is at least GO_MIN_VERSION (GO, else `go` on
# PATH, else the directories in REALM_AUTH_GO_DIRS); otherwise the Go
# toolchain pinned in scripts/deps/versions.env, as the golang.org/toolchain
# module zip from the Go module proxy (sha256 checked), unpacked into
#   ${REALM_AUTH_CACHE:-$HOME/.cache/realm-auth}/go-toolchain/
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/deps/versions.env"
CACHE_DIR=${REALM_AUTH_CACHE:-$HOME/.cache/realm-auth}
DOWNLOADS=${REALM_AUTH_DOWNLOADS:-$CACHE_DIR/downloads}
GOPROXY_URL=${GOPROXY_URL:-https://proxy.golang.org}
log() { printf 'find-go: %s\n' "$*" >&2; }

# go_ok GO: GO runs and is at least GO_MIN_VERSION (what the pinned tools' go.mod need).
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

printf '%s\n' "$GO"
