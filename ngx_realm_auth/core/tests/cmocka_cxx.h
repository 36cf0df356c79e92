// CMocka from C++: its header needs these C headers first and has no
// extern "C" of its own.
#pragma once

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

extern "C" {
#include <cmocka.h>
}

#include "status.h"

// Compares Status values by name, so a failure reads "expired" != "ok".
#define assert_status(actual, expected) \
  assert_string_equal(realm_auth::status_name(actual), realm_auth::status_name(expected))
