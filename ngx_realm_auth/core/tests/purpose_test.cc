// select_purpose (PurposeSelector): the X-Purpose rule shared by the module
// and the sidecar.
#include "purpose.h"

#include <string>
#include <vector>

#include "cmocka_cxx.h"

using namespace realm_auth;

namespace {

PurposeChoice choose(const std::vector<std::string>& lines) {
  PurposeSelector p;
  for (const std::string& l : lines) p.add_line(l);
  return p.result();
}

void expect(const std::vector<std::string>& lines, PurposeCheck want, const char* value = "") {
  PurposeChoice c = choose(lines);
  assert_int_equal(static_cast<int>(c.check), static_cast<int>(want));
  assert_string_equal(std::string(c.value).c_str(), value);
}

void one_line(void**) {
  expect({"case-review"}, PurposeCheck::kOk, "case-review");
  expect({"  case review \t"}, PurposeCheck::kOk, "case review");
  expect({"a, b; c"}, PurposeCheck::kOk, "a, b; c");  // free text: commas are data
  expect({std::string(kMaxPurposeSize, 'p')}, PurposeCheck::kOk,
         std::string(kMaxPurposeSize, 'p').c_str());
  expect({"\xc3\xa9tude"}, PurposeCheck::kOk, "\xc3\xa9tude");
}

void missing(void**) {
  expect({}, PurposeCheck::kMissing);
  expect({""}, PurposeCheck::kMissing);
  expect({" \t "}, PurposeCheck::kMissing);
}

void several_lines(void**) {
  expect({"", "case-review"}, PurposeCheck::kSeveral);  // issue 8, item 7a
  expect({"case-review", ""}, PurposeCheck::kSeveral);
  expect({"case-review", "other"}, PurposeCheck::kSeveral);
  expect({"case-review", "case-review"}, PurposeCheck::kSeveral);
  expect(std::vector<std::string>(1000, "x"), PurposeCheck::kSeveral);
}

void bad_values(void**) {
  expect({std::string(kMaxPurposeSize + 1, 'p')}, PurposeCheck::kTooLong);
  expect({"case\x01review"}, PurposeCheck::kControlBytes);
  expect({"case\treview"}, PurposeCheck::kControlBytes);  // inner tab
  expect({"case\r\nX-Injected: 1"}, PurposeCheck::kControlBytes);
  expect({"case\x7f"}, PurposeCheck::kControlBytes);
  expect({std::string("case\0review", 11)}, PurposeCheck::kControlBytes);
}

void problems_are_client_text(void**) {
  assert_string_equal(purpose_problem(PurposeCheck::kOk), "");
  for (PurposeCheck c : {PurposeCheck::kMissing, PurposeCheck::kSeveral, PurposeCheck::kTooLong,
                         PurposeCheck::kControlBytes}) {
    assert_true(std::string(purpose_problem(c)).find("X-Purpose") != std::string::npos);
  }
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(one_line),
      cmocka_unit_test(missing),
      cmocka_unit_test(several_lines),
      cmocka_unit_test(bad_values),
      cmocka_unit_test(problems_are_client_text),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
