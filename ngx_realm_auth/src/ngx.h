// nginx's C headers, made includable from C++.
#pragma once

extern "C" {
#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <ngx_thread_pool.h>
}

#include <string_view>

inline std::string_view to_view(const ngx_str_t& s) {
  return {reinterpret_cast<const char*>(s.data), s.len};
}
