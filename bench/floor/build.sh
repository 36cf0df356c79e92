#!/usr/bin/env bash
# Builds the bench-only floor module against the nginx sources the real
# module is built with (make build fetches them): bench/floor/build.sh OUT.so
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
src=${NGX_SRC_DIR:-$root/build/nginx-src}
[[ -f $src/objs/ngx_auto_config.h ]] || { echo "floor: no configured nginx sources at $src (make build)" >&2; exit 1; }
inc=()
for d in objs src/core src/event src/event/modules src/os/unix src/http src/http/modules src/http/v2; do
  inc+=(-I "$src/$d")
done
cc -O2 -g -fPIC -shared -Wall -Wno-unused-parameter "${inc[@]}" \
  "$root/bench/floor/ngx_http_bench_floor_module.c" -o "$1" -lcrypto
