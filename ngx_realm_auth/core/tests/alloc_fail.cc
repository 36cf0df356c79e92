// Allocation-failure injection (alloc_fail.h). Only raw syscalls and
// malloc here: this code runs inside every operator new of the process.
#include "alloc_fail.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

namespace {

std::atomic<long> g_skip{-1};  // allocations to let through; -1 disarmed
std::atomic<long> g_fired{0};
char g_file[4096];  // REALM_AUTH_ALLOC_FAIL_FILE, read once at load

__attribute__((constructor)) void read_environment() {
  const char* path = std::getenv("REALM_AUTH_ALLOC_FAIL_FILE");
  if (path != nullptr && std::strlen(path) < sizeof(g_file) - 32) std::strcpy(g_file, path);
}

// Takes an arm file left by the test, if there is one.
void take_arm_file() {
  if (g_file[0] == '\0' || access(g_file, F_OK) != 0) return;
  char taken[sizeof(g_file) + 32];
  std::snprintf(taken, sizeof taken, "%s.%d", g_file, static_cast<int>(getpid()));
  if (rename(g_file, taken) != 0) return;  // another process was quicker
  char buf[32] = {0};
  int fd = open(taken, O_RDONLY);
  if (fd >= 0) {
    ssize_t n = read(fd, buf, sizeof buf - 1);
    (void)n;
    close(fd);
  }
  unlink(taken);
  g_skip.store(std::strtol(buf, nullptr, 10) < 0 ? -1 : std::strtol(buf, nullptr, 10));
}

void record_fired() {
  g_fired.fetch_add(1);
  if (g_file[0] == '\0') return;
  char fired[sizeof(g_file) + 32];
  std::snprintf(fired, sizeof fired, "%s.fired", g_file);
  int fd = open(fired, O_WRONLY | O_CREAT | O_APPEND, 0666);
  if (fd < 0) return;
  char line[32];
  int len = std::snprintf(line, sizeof line, "%d\n", static_cast<int>(getpid()));
  ssize_t n = write(fd, line, static_cast<size_t>(len));
  (void)n;
  close(fd);
}

// True when this allocation is the one to fail.
bool should_fail() {
  take_arm_file();
  long left = g_skip.load();
  while (left >= 0) {
    if (g_skip.compare_exchange_weak(left, left - 1)) return left == 0;  // 0 → -1: fire once
  }
  return false;
}

}  // namespace

extern "C" void realm_auth_alloc_fail_arm(long skip) { g_skip.store(skip < 0 ? -1 : skip); }
extern "C" void realm_auth_alloc_fail_disarm(void) { g_skip.store(-1); }
extern "C" long realm_auth_alloc_fail_count(void) { return g_fired.load(); }

// libstdc++'s operator new[] and the nothrow forms call this one, so they
// fail too (the nothrow forms by returning nullptr).
void* operator new(std::size_t size) {
  if (should_fail()) {
    record_fired();
    throw std::bad_alloc();
  }
  for (;;) {
    if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
    std::new_handler handler = std::get_new_handler();
    if (handler == nullptr) throw std::bad_alloc();
    handler();
  }
}
