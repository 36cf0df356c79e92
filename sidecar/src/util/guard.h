// The sidecar's report for core's guarded() (guarded.h): what threw, on
// stderr (the daemon's log). Every function libmicrohttpd or a thread runs
// goes through guarded() with it: http/server.cc, main.cc.
#pragma once

#include <cstdio>

#include "guarded.h"

namespace realm_sidecar {

struct StderrReport {
  const char* where;
  void operator()(const char* what) const noexcept {
    std::fprintf(stderr, "realm-sidecar: %s failed: %s\n", where, what);
  }
};

using realm_auth::guarded;

}  // namespace realm_sidecar
