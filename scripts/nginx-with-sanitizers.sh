#!/bin/sh
# nginx with the ASan/UBSan runtimes preloaded, for a module built with
# -fsanitize=address,undefined. Only nginx gets them: the test tools around
# it (Perl, redis-server with its own allocator) must run unmodified.
LD_PRELOAD="${REALM_AUTH_SANITIZER_PRELOAD:?set by scripts/test-module-asan.sh}" exec nginx "$@"
