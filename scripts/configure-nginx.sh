#!/usr/bin/env bash
# Prepares a configured copy of Debian's nginx source (from nginx-dev) in
# $1 (default build/nginx-src): configure with Debian's own flags writes
# objs/ngx_auto_config.h, whose NGX_MODULE_SIGNATURE must match the
# installed nginx or load_module refuses the module. Runs once per tree.
set -euo pipefail
dest=${1:-build/nginx-src}
src=/usr/share/nginx/src

if [[ -f "$dest/objs/ngx_auto_config.h" && "$dest/.stamp" -nt "$src/conf_flags" ]]; then
  exit 0
fi
rm -rf "$dest"
mkdir -p "$dest"
cp -r "$src"/. "$dest"/
cd "$dest"
# shellcheck disable=SC1091
source ./conf_flags
./configure "${NGX_CONF_FLAGS[@]}" >configure.log 2>&1 || {
  echo "configure-nginx: nginx configure failed, see $dest/configure.log" >&2
  exit 1
}
touch .stamp
