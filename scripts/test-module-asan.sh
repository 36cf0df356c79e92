#!/usr/bin/env bash
# Runs t/module against a module built with -fsanitize=address,undefined.
# Debian's nginx is not instrumented, so the sanitizer runtimes are
# preloaded into nginx alone (scripts/nginx-with-sanitizers.sh); the Perl
# runner and the redis-server the suites start (jemalloc) run unmodified.
# Leak checking is off: nginx frees its pools at exit, not every
# allocation. Any report from ASan/UBSan goes to a log file and fails the run.
#   scripts/test-module-asan.sh MODULE.so [t/module/NNN-x.t …]  (default: all)
set -euo pipefail
module=$1
shift
suites=("$@")
[[ ${#suites[@]} -gt 0 ]] || suites=(-r t/module)
root=$(cd "$(dirname "$0")/.." && pwd)
logs=$(mktemp -d /tmp/realm-auth-asan-XXXXXX)
# nginx workers run as another user (nobody when started as root): ASan must
# be able to create its report there, or it only writes "Can't open file" to
# the worker's error log and the report is lost.
chmod 1777 "$logs"
trap 'rm -rf "$logs"' EXIT

export REALM_AUTH_SANITIZER_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
export TEST_NGINX_BINARY=$root/scripts/nginx-with-sanitizers.sh
export ASAN_OPTIONS="detect_leaks=0:log_path=$logs/asan"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$logs/ubsan"
export TEST_NGINX_REALM_AUTH_MODULE=$module
cd "$root"
status=0
# The made-up-tenant flood (165) runs 100,000 slugs in the normal run; under
# the sanitizers a fifth of that exercises the same paths in a fifth of the
# time, and resident memory is not measured (ASan's quarantine keeps freed
# memory for a while by design).
REALM_AUTH_SANITIZED=1 REALM_AUTH_FLOOD_N=${REALM_AUTH_FLOOD_N:-20000} prove -It/lib -It/lib/mini "${suites[@]}" || status=$?
if compgen -G "$logs/*" >/dev/null; then
  echo "test-module-asan: sanitizer reports:" >&2
  cat "$logs"/* >&2
  status=1
fi
exit $status
