// The sidecar's one JSON helper set: reading members, and builders that
// never drop a value (invalid UTF-8 and NUL are replaced, not refused).
#include "util/json_helpers.h"

#include <cstring>

#include "sidecar_test.h"

using namespace realm_sidecar;

namespace {

void member_string_reads(void**) {
  JsonPtr j = must_parse(R"({"a":"x","n":1,"e":""})");
  assert_string_equal(json_member_string(j.get(), "a").c_str(), "x");
  assert_string_equal(json_member_string(j.get(), "n", "fb").c_str(), "fb");  // not a string
  assert_string_equal(json_member_string(j.get(), "missing", "fb").c_str(), "fb");
  assert_string_equal(json_member_string(j.get(), "e", "fb").c_str(), "");
  assert_string_equal(json_member_string(nullptr, "a", "fb").c_str(), "fb");
  JsonPtr arr = must_parse("[1]");
  assert_string_equal(json_member_string(arr.get(), "a", "fb").c_str(), "fb");
}

void builders_sanitize_instead_of_dropping(void**) {
  JsonPtr o(json_object());
  const std::string bad(
      "x\xff"
      "y\0z",
      5);
  json_set(o.get(), "s", bad);
  json_set(o.get(), "c", "plain");
  json_set(o.get(), "arr", json_string_array({"ok", bad}));
  json_set(o.get(), "b", true);
  json_set(o.get(), "i", 42LL);
  const std::string text = json_text(o.get());
  assert_string_equal(text.c_str(),
                      "{\"s\":\"x\xEF\xBF\xBDy\xEF\xBF\xBDz\",\"c\":\"plain\",\"arr\":[\"ok\","
                      "\"x\xEF\xBF\xBDy\xEF\xBF\xBDz\"],\"b\":true,\"i\":42}");
  assert_non_null(json_parse(text).get());
}

void parse_refuses_duplicates(void**) {
  std::string error;
  assert_null(json_parse(R"({"a":1,"a":2})", &error).get());
  assert_false(error.empty());
  assert_non_null(json_parse("[1,2]").get());
}

// Parse errors reach callers (400 detail): they say what is wrong and where,
// never the library's own text (jansson names its flags: JSON_ALLOW_NUL).
void parse_errors_are_library_neutral(void**) {
  const struct {
    const char* text;
    const char* expect;
  } cases[] = {
      {R"({"slug":"a\u0000b"})", "strings must not contain \\u0000"},
      {R"({"a":1,"a":2})", "a member name appears twice"},
      {R"({"a":)", "the document ends early"},
      {R"({"a":1} x)", "unexpected data after the JSON value"},
      {"{\"a\":\"\xff\"}", "text is not valid UTF-8"},
      {R"({"a":tru})", "invalid syntax"},
  };
  for (const auto& c : cases) {
    std::string error;
    assert_null(json_parse(c.text, &error).get());
    assert_non_null(std::strstr(error.c_str(), c.expect));
    assert_int_equal(error.compare(0, 7, "line 1,"), 0);
    assert_null(std::strstr(error.c_str(), "JSON_"));
    assert_null(std::strstr(error.c_str(), "NUL"));
  }
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(member_string_reads),
      cmocka_unit_test(builders_sanitize_instead_of_dropping),
      cmocka_unit_test(parse_refuses_duplicates),
      cmocka_unit_test(parse_errors_are_library_neutral),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
