// No C++ exception crosses into C. nginx, libmicrohttpd, libcurl and thread
// pools call this code through plain function pointers; an exception that
// leaves one of those functions unwinds into C frames (undefined behaviour)
// or hits a noexcept boundary, and either way std::terminate aborts the
// process: one std::bad_alloc would kill an nginx worker with every request
// it holds. So every function handed to C runs its body through guarded(),
// which reports what was thrown and returns the caller's fail-closed value
// instead (500, NGX_CONF_ERROR, MHD_NO, a failed outcome).
//
// One owner for the rule: the module (src/guard.h, reports to nginx's log)
// and the sidecar (http/server.cc, main.cc, reports to stderr) both use this.
#pragma once

#include <exception>
#include <new>
#include <utility>

namespace realm_auth {

// Text for the exception being handled; call only inside a catch block.
// Allocates nothing: it may run right after a std::bad_alloc.
inline const char* current_exception_text() noexcept {
  try {
    throw;
  } catch (const std::bad_alloc&) {
    return "out of memory (std::bad_alloc)";
  } catch (const std::exception& e) {
    return e.what();  // the exception stays alive while the caller's handler runs
  } catch (...) {
    return "unknown exception";
  }
}

// fn()'s result, or `fallback` after report(text) when fn throws. `report`
// must not throw (it is called with the exception still in flight).
template <typename Report, typename R, typename Fn>
R guarded(Report&& report, R fallback, Fn&& fn) noexcept {
  try {
    return std::forward<Fn>(fn)();
  } catch (...) {
    report(current_exception_text());
    return fallback;
  }
}

// For bodies without a result: true when fn returned, false (after
// report(text)) when it threw, so the caller can undo what it must.
template <typename Report, typename Fn>
bool guarded(Report&& report, Fn&& fn) noexcept {
  try {
    std::forward<Fn>(fn)();
    return true;
  } catch (...) {
    report(current_exception_text());
    return false;
  }
}

}  // namespace realm_auth
