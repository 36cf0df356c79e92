// CMocka from C++ (its header wants these C headers first and has no
// extern "C" of its own), plus small helpers for the sidecar's tests.
#pragma once

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

extern "C" {
#include <cmocka.h>
}

#include <string>

#include "util/json_helpers.h"

// Parses `text` or fails the test.
inline realm_sidecar::JsonPtr must_parse(const std::string& text) {
  realm_sidecar::JsonPtr j = realm_sidecar::json_parse(text);
  assert_non_null(j.get());
  return j;
}

// String at a JSON pointer-ish path of objects, e.g. get_str(j, {"a","b"}).
inline std::string get_str(const json_t* j, std::initializer_list<const char*> path) {
  for (const char* k : path) j = json_object_get(j, k);
  return json_is_string(j) ? json_string_value(j) : "<absent>";
}
