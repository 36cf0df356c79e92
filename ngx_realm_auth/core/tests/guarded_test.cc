// guarded(): what a C-facing entry point returns when its body throws, and
// the allocation-failure injection the module and sidecar tests rely on.
#include "guarded.h"

#include <stdexcept>
#include <string>

#include "alloc_fail.h"
#include "cmocka_cxx.h"

using namespace realm_auth;

namespace {

struct Recorder {
  std::string* seen;
  void operator()(const char* what) const noexcept { *seen = what; }
};

void result_when_nothing_throws(void**) {
  std::string seen = "<not called>";
  assert_int_equal(guarded(Recorder{&seen}, -1, [] { return 7; }), 7);
  assert_true(guarded(Recorder{&seen}, [] {}));
  assert_string_equal(seen.c_str(), "<not called>");
}

void fallback_and_report_when_it_throws(void**) {
  std::string seen;
  assert_int_equal(guarded(Recorder{&seen}, -1, []() -> int { throw std::bad_alloc(); }), -1);
  assert_string_equal(seen.c_str(), "out of memory (std::bad_alloc)");
  assert_int_equal(guarded(Recorder{&seen}, -1, []() -> int { throw std::length_error("len"); }),
                   -1);
  assert_string_equal(seen.c_str(), "len");
  assert_int_equal(guarded(Recorder{&seen}, -1, []() -> int { throw 42; }), -1);
  assert_string_equal(seen.c_str(), "unknown exception");
  seen.clear();
  assert_false(guarded(Recorder{&seen}, [] { throw std::runtime_error("boom"); }));
  assert_string_equal(seen.c_str(), "boom");
}

// The injection: the armed allocation throws once, inside library code
// (std::string's own allocation), and the next one succeeds again.
void injected_bad_alloc_is_caught(void**) {
  realm_auth_alloc_fail_arm(0);
  bool injected = false;
  try {
    std::string s(1000, 'x');
  } catch (const std::bad_alloc&) {
    injected = true;
  }
  realm_auth_alloc_fail_disarm();
  if (!injected) {
    // ASan/UBSan builds: the sanitizer runtime owns operator new, so the
    // replacement is never called. The plain build runs this case.
    skip();
  }
  long before = realm_auth_alloc_fail_count();
  std::string seen;
  realm_auth_alloc_fail_arm(1);  // the second allocation fails
  size_t n = guarded(Recorder{&seen}, size_t{0}, [] {
    std::string a(100, 'a');
    std::string b(100, 'b');  // throws here
    return a.size() + b.size();
  });
  realm_auth_alloc_fail_disarm();
  assert_int_equal(n, 0);
  assert_int_equal(realm_auth_alloc_fail_count(), before + 1);
  assert_string_equal(seen.c_str(), "out of memory (std::bad_alloc)");
  std::string after(100, 'c');  // disarmed: allocations work again
  assert_int_equal(after.size(), 100);
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(result_when_nothing_throws),
      cmocka_unit_test(fallback_and_report_when_it_throws),
      cmocka_unit_test(injected_bad_alloc_is_caught),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
