#!/usr/bin/env bash
# Downloads the Keycloak distribution from Maven Central into the cache
# (outside git) and unpacks it there once:
#   $REALM_AUTH_CACHE/keycloak/keycloak-quarkus-dist-<v>.zip
#   $REALM_AUTH_CACHE/keycloak/keycloak-<v>/
# Prints the unpacked directory. keycloak.sh copies it into .state/ per checkout.
set -euo pipefail
COMPONENT=keycloak-fetch
. "$(dirname "$0")/common.sh"

version=$KEYCLOAK_VERSION
dir=$CACHE_DIR/keycloak
zip=$dir/keycloak-quarkus-dist-$version.zip
home=$dir/keycloak-$version

if [[ ! -s $zip ]]; then
  command -v mvn >/dev/null || die "mvn not found: install maven (apt-get install maven) to download Keycloak"
  mkdir -p "$dir"
  log "downloading org.keycloak:keycloak-quarkus-dist:$version:zip from Maven Central"
  # dependency:copy checks the repository's checksums on download; sed drops
  # the colour codes mvn -q prints even in batch mode.
  mvn -q -B dependency:copy \
    "-Dartifact=org.keycloak:keycloak-quarkus-dist:$version:zip" \
    "-DoutputDirectory=$dir" 2>&1 | sed 's/\x1b\[[0-9;]*m//g' >&2 ||
    die "download of keycloak-quarkus-dist $version failed (see mvn output above)"
  [[ -s $zip ]] || die "mvn finished but $zip is missing"
fi

if [[ ! -x $home/bin/kc.sh ]]; then
  log "unpacking $zip"
  tmp=$(mktemp -d "$dir/.unpack.XXXXXX")
  # Unpack beside the target and rename, so an interrupted unzip never leaves
  # a half-populated distribution behind.
  if ! unzip -q "$zip" -d "$tmp"; then
    rm -rf "$tmp"
    die "cannot unpack $zip (corrupt download? delete it and retry)"
  fi
  [[ -x $tmp/keycloak-$version/bin/kc.sh ]] || { rm -rf "$tmp"; die "unexpected layout in $zip"; }
  rm -rf "$home"
  mv "$tmp/keycloak-$version" "$home"
  rm -rf "$tmp"
fi
printf '%s\n' "$home"
