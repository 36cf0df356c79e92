#!/usr/bin/env bash
# make deb: builds the Debian packages with dpkg-buildpackage from a copy of
# this checkout's files in $1/src (default build/deb/src), so the .deb,
# .changes and .buildinfo land in $1 and the worktree stays clean
# (dpkg-buildpackage always writes its results to the parent directory).
# Tracked files are copied as they are in the working tree, uncommitted
# edits included. The build is a full one (source package too, native
# format), so lintian checks the source and both binaries through the
# .changes; its errors fail the build.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$(mkdir -p "${1:-$root/build/deb}" && cd "${1:-$root/build/deb}" && pwd)
jobs=${JOBS:-2}

rm -rf "$out/src" "$out"/*.deb "$out"/*.ddeb "$out"/*.changes "$out"/*.buildinfo \
  "$out"/*.dsc "$out"/*.tar.xz
mkdir -p "$out/src"
(cd "$root" && git ls-files -z --cached --others --exclude-standard |
  xargs -0 -r sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh |
  tar --null -T - -cf -) | tar -C "$out/src" -xf -

echo "deb: dpkg-buildpackage in $out/src (log: $out/build.log)"
(cd "$out/src" && dpkg-buildpackage -us -uc -j"$jobs") >"$out/build.log" 2>&1 || {
  tail -n 30 "$out/build.log" >&2
  echo "deb: dpkg-buildpackage failed, see $out/build.log" >&2
  exit 1
}
changes=$(ls "$out"/realm-auth_*.changes)
ls -1 "$out"/*.deb
if command -v lintian >/dev/null; then
  echo "deb: lintian $changes"
  lintian --info --display-info --fail-on error "$changes" | tee "$out/lintian.log"
else
  echo "deb: lintian not installed (scripts/deps/apt-packages.txt lists it)" >&2
  exit 1
fi
