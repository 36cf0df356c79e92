// validation: slug rule, reserved slugs, user fields.
#include "provisioning/validation.h"

#include "sidecar_test.h"

using namespace realm_sidecar;

namespace {

void slugs(void**) {
  for (const char* ok : {"a", "demo", "nasa", "a1", "my-agency", "0", "abc-123-x"}) {
    if (!check_slug(ok).empty()) fail_msg("%s refused: %s", ok, check_slug(ok).c_str());
  }
  std::string l63(63, 'a'), l64(64, 'a');
  assert_true(check_slug(l63).empty());
  for (std::string bad : {std::string(""), std::string("-a"), std::string("a-"), std::string("A"),
                          std::string("a_b"), std::string("a.b"), std::string("a b"),
                          std::string("é"), std::string("a/b"), std::string("a%2f"), l64}) {
    if (check_slug(bad).empty()) fail_msg("'%s' accepted", bad.c_str());
  }
}

void reserved(void**) {
  for (const char* r : {"platform", "master", "admin"}) {
    assert_true(is_reserved_slug(r));
    assert_true(check_slug(r).find("reserved") != std::string::npos);
  }
  assert_false(is_reserved_slug("demo"));
}

void users(void**) {
  assert_true(check_username("officer").empty());
  assert_true(check_username("j.doe@x").empty());
  assert_false(check_username("ab").empty());
  assert_false(check_username("Upper").empty());
  assert_false(check_username("sp ace").empty());
  assert_true(check_email("a@b.org").empty());
  for (const char* bad : {"", "a", "a@b", "@b.org", "a@@b.org", "a b@c.org", "a@b.org."}) {
    if (check_email(bad).empty()) fail_msg("email '%s' accepted", bad);
  }
  assert_true(check_person_name("Ada").empty());
  assert_false(check_person_name("").empty());
  assert_false(check_person_name("a\nb").empty());
  for (const char* r : {"tenant_admin", "officer", "supervisor", "auditor"}) {
    assert_true(check_role(r).empty());
  }
  assert_false(check_role("platform_admin").empty());
  assert_true(check_department("finance").empty());
  assert_false(check_department("Finance").empty());
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {cmocka_unit_test(slugs), cmocka_unit_test(reserved),
                                     cmocka_unit_test(users)};
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
