#!/usr/bin/env bash
# Builds bench/core-path/core_path.cc against the core library of `make
# build`: bench/core-path/build.sh OUT
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
lib=$root/build/ngx_realm_auth/core/librealm_auth_core.a
[[ -f $lib ]] || { echo "core-path: no $lib (make build)" >&2; exit 1; }
c++ -O2 -g -std=c++17 -Wall -Wextra -I "$root/ngx_realm_auth/core" \
  "$root/bench/core-path/core_path.cc" "$lib" -lcrypto -ljansson -lcurl -lhiredis -o "$1"
