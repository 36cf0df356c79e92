#!/usr/bin/env bash
# Runs t/module against a module built with -fsanitize=address,undefined.
# Debian's nginx is not instrumented, so the sanitizer runtimes are
# preloaded into it (and, harmlessly, into the Perl runner). Leak checking
# is off: nginx frees its pools at exit, not every allocation. Any report
# from ASan/UBSan goes to a log file and fails the run.
set -euo pipefail
module=$1
root=$(cd "$(dirname "$0")/.." && pwd)
logs=$(mktemp -d /tmp/realm-auth-asan-XXXXXX)
trap 'rm -rf "$logs"' EXIT

export LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
export ASAN_OPTIONS="detect_leaks=0:log_path=$logs/asan"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$logs/ubsan"
export TEST_NGINX_REALM_AUTH_MODULE=$module
cd "$root"
status=0
prove -It/lib -It/lib/mini -r t/module || status=$?
unset LD_PRELOAD
if compgen -G "$logs/*" >/dev/null; then
  echo "test-module-asan: sanitizer reports:" >&2
  cat "$logs"/* >&2
  status=1
fi
exit $status
