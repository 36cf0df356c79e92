#!/bin/sh
# realm-sidecar's main() under allocation-failure injection (alloc_fail.h):
# a std::bad_alloc at any allocation of `realm-sidecar config` exits 70 with
# a log line, never aborts (134). Usage: main_guard_test.sh SIDECAR SHIM
bin=$1
shim=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if ldd "$bin" | grep -q libasan; then
  echo "skipped: the sanitizer runtime owns operator new in this build"
  exit 77
fi
k=0
seen70=0
while [ $k -lt 500 ]; do
  echo $k >"$tmp/arm"
  LD_PRELOAD=$shim REALM_AUTH_ALLOC_FAIL_FILE=$tmp/arm "$bin" config >/dev/null 2>"$tmp/err"
  rc=$?
  rm -f "$tmp/arm"
  [ -f "$tmp/arm.fired" ] || break # the command needed fewer allocations
  rm -f "$tmp/arm.fired"
  case $rc in
  70)
    grep -q 'realm-sidecar: command failed: out of memory' "$tmp/err" || {
      echo "k=$k: exit 70 without the log line"
      exit 1
    }
    seen70=$((seen70 + 1))
    ;;
  0 | 1 | 2) ;;
  *)
    echo "k=$k: exit $rc: $(head -c 300 "$tmp/err")"
    exit 1
    ;;
  esac
  k=$((k + 1))
done
echo "$k allocation points, $seen70 exits 70"
[ $k -gt 5 ] && [ $seen70 -gt 0 ]
