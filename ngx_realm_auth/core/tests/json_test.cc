// parse_json_object: objects only, duplicate members and deep nesting refused.
#include "json.h"

#include <string>

#include "cmocka_cxx.h"

using namespace realm_auth;

namespace {

Status parse(const std::string& text, size_t max_depth = 8) {
  JsonPtr out;
  Status s = parse_json_object(text, max_depth, Status::kPayloadNotJson, out);
  assert_true((s == Status::kOk) == (out != nullptr));
  return s;
}

void accepts_objects(void**) {
  assert_status(parse("{}"), Status::kOk);
  assert_status(parse(R"( {"a":1,"b":[true,null,"x"],"c":{"d":1.5}} )"), Status::kOk);
}

void rejects_non_objects(void**) {
  const char* bad[] = {"",    "[]",    "[{}]",    "\"x\"",    "1",          "null",     "{",
                       "{}x", "{} {}", "{'a':1}", "{\"a\":}", "{\"a\":1,}", "{\"a\" 1}"};
  for (const char* text : bad) assert_status(parse(text), Status::kPayloadNotJson);
}

void rejects_nul_and_bad_utf8(void**) {
  assert_status(parse(R"({"a":"x\u0000y"})"), Status::kPayloadNotJson);
  assert_status(parse(std::string("{\"a\":\"\0\"}", 8)), Status::kPayloadNotJson);
  assert_status(parse("{\"a\":\"\xc3\x28\"}"), Status::kPayloadNotJson);
  assert_status(parse("{\"a\":\"\xed\xa0\x80\"}"), Status::kPayloadNotJson);  // surrogate
}

void rejects_duplicate_members(void**) {
  assert_status(parse(R"({"sub":"a","sub":"b"})"), Status::kDuplicateKey);
  assert_status(parse(R"({"x":{"sub":"a","sub":"a"}})"), Status::kDuplicateKey);
  assert_status(parse(R"({"x":[{"k":1,"k":2}]})"), Status::kDuplicateKey);
  // Escapes are decoded before the comparison.
  assert_status(parse(R"({"sub":"a","s\u0075b":"b"})"), Status::kDuplicateKey);
}

void bounds_depth(void**) {
  assert_status(parse(R"({"a":{}})", 2), Status::kOk);
  assert_status(parse(R"({"a":[]})", 2), Status::kOk);
  assert_status(parse(R"({"a":{"b":{}}})", 2), Status::kJsonTooDeep);
  assert_status(parse(R"({"a":[[1]]})", 2), Status::kJsonTooDeep);
  assert_status(parse(R"({"a":1})", 1), Status::kOk);
  assert_status(parse(R"({"a":[]})", 1), Status::kJsonTooDeep);

  std::string deep = "{\"a\":";
  for (int i = 0; i < 5000; ++i) deep += '[';
  for (int i = 0; i < 5000; ++i) deep += ']';
  deep += '}';
  assert_status(parse(deep), Status::kJsonTooDeep);  // beyond jansson's own limit
  std::string medium = "{\"a\":";
  for (int i = 0; i < 100; ++i) medium += '[';
  for (int i = 0; i < 100; ++i) medium += ']';
  medium += '}';
  assert_status(parse(medium), Status::kJsonTooDeep);
}

void get_string(void**) {
  JsonPtr obj;
  assert_status(
      parse_json_object(R"({"s":"h\u00e9","n":1,"e":""})", 4, Status::kPayloadNotJson, obj),
      Status::kOk);
  std::string_view v;
  assert_true(json_get_string(obj.get(), "s", v));
  assert_true(v == "h\xc3\xa9");
  assert_true(json_get_string(obj.get(), "e", v));
  assert_true(v.empty());
  assert_false(json_get_string(obj.get(), "n", v));
  assert_false(json_get_string(obj.get(), "missing", v));
  assert_false(json_get_string(nullptr, "s", v));
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(accepts_objects),
      cmocka_unit_test(rejects_non_objects),
      cmocka_unit_test(rejects_nul_and_bad_utf8),
      cmocka_unit_test(rejects_duplicate_members),
      cmocka_unit_test(bounds_depth),
      cmocka_unit_test(get_string),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
