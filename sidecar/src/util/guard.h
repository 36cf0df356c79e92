// The sidecar's report for core's guarded() (guarded.h): what threw, on
// stderr (the daemon's log). Every function libmicrohttpd or a thread runs
// goes through guarded() with it: http/server.cc, main.cc.
#pragma once

#include <cstddef>
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

// A libcurl write or header callback, guarded: 0 makes curl stop the
// transfer with CURLE_WRITE_ERROR, which the caller reports as a failure.
template <size_t (*Fn)(char*, size_t, size_t, void*)>
size_t curl_callback(char* data, size_t size, size_t nmemb, void* userdata) noexcept {
  return guarded(StderrReport{"HTTP client callback"}, size_t{0},
                 [&] { return Fn(data, size, nmemb, userdata); });
}

}  // namespace realm_sidecar
