// Test-only fault injection: crash_after("tenant:realm_created") marks the
// instant right after a saga step completed. In the daemon (realm-sidecar)
// it does nothing; in the test build (realm-sidecar-fault, CMake option
// REALM_SIDECAR_FAULT_INJECTION, on for `make build`/`make test`, off in the
// release images) it SIGKILLs the process when REALM_SIDECAR_CRASH_AFTER
// names that step, so t/e2e/073-crash-recovery.t can stop a saga there.
//
// The two definitions are two files (crash_point_off.cc in the library,
// crash_point_on.cc only in realm-sidecar-fault): the production binary
// does not contain the switch at all, not even the variable's name.
#pragma once

namespace realm_sidecar {

// `step` is "<saga>:<step>" (tenant:row_inserted, user:roles_assigned …).
void crash_after(const char* step) noexcept;

}  // namespace realm_sidecar
