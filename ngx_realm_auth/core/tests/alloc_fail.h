// Allocation-failure injection for tests (never linked into the module or
// the daemon): librealm_auth_alloc_fail.so replaces the global
// `operator new` so that one chosen allocation throws std::bad_alloc.
//
// In-process (a test linked with it): realm_auth_alloc_fail_arm(n) lets n
// more allocations through, process-wide and across threads, then makes the
// next one throw, once.
//
// Preloaded into another program (LD_PRELOAD, e.g. nginx in t/module): with
// REALM_AUTH_ALLOC_FAIL_FILE=<path> in its environment at start, a process
// that finds <path> on its next allocation takes it (rename, so exactly one
// process of an nginx does), reads n from it and arms itself as above
// (n < 0 disarms). Each injected failure appends "<pid>\n" to <path>.fired.
#pragma once

extern "C" {
void realm_auth_alloc_fail_arm(long skip);
void realm_auth_alloc_fail_disarm(void);
// How many bad_allocs were injected in this process so far.
long realm_auth_alloc_fail_count(void);
}
