#!/bin/sh
# nginx with the ASan/UBSan runtimes preloaded, for a module built with
# -fsanitize=address,undefined. Only nginx gets them: the test tools around
# it (Perl, redis-server with its own allocator) must run unmodified.
# By its full path: a binary upgrade (USR2) makes the master exec its own
# argv[0], and a bare name is not looked up in PATH there.
LD_PRELOAD="${REALM_AUTH_SANITIZER_PRELOAD:?set by scripts/test-module-asan.sh}" exec "$(command -v nginx)" "$@"
