// realm-sidecar-fault only (crash_point.h): SIGKILL right after the step
// REALM_SIDECAR_CRASH_AFTER names. SIGKILL, not exit(): no destructor, no
// flush, no connection closed politely, as when the kernel or an operator
// kills the daemon.
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "fault/crash_point.h"

#ifndef REALM_SIDECAR_FAULT_INJECTION
#error "crash_point_on.cc belongs to the fault-injection test build only"
#endif

namespace realm_sidecar {

void crash_after(const char* step) noexcept {
  const char* want = std::getenv("REALM_SIDECAR_CRASH_AFTER");
  if (want == nullptr || std::strcmp(want, step) != 0) return;
  static const char kMsg[] = "realm-sidecar: REALM_SIDECAR_CRASH_AFTER: SIGKILL after ";
  (void)!write(STDERR_FILENO, kMsg, sizeof kMsg - 1);
  (void)!write(STDERR_FILENO, step, std::strlen(step));
  (void)!write(STDERR_FILENO, "\n", 1);
  kill(getpid(), SIGKILL);
  _exit(137);  // not reached
}

}  // namespace realm_sidecar
