// The two JSON readers, parse_json_object (jansson values) and FlatJson
// (token segments): objects only, duplicate members and deep nesting
// refused, the same answer from both for every input.
#include "json.h"

#include <string>

#include "cmocka_cxx.h"
#include "flat_json.h"
#include "json_text_rules.h"

using namespace realm_auth;

namespace {

Status parse(const std::string& text, size_t max_depth = 8) {
  JsonPtr out;
  Status s = parse_json_object(text, max_depth, Status::kPayloadNotJson, out);
  assert_true((s == Status::kOk) == (out != nullptr));
  FlatJson flat;
  assert_status(flat.parse(text, max_depth, Status::kPayloadNotJson), s);
  assert_true((s == Status::kOk) == flat.root().is_object());
  // Parsed in place (as token segments are): the same answer, the same strings.
  std::string copy = text;
  FlatJson in_place;
  assert_status(in_place.parse_in_place(copy, max_depth, Status::kPayloadNotJson), s);
  assert_true(in_place.all_strings() == flat.all_strings());
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
  // Large objects take FlatJson's sorting path: first, middle and last.
  std::string many = "{";
  for (int i = 0; i < 200; ++i) many += "\"k" + std::to_string(i) + "\":" + std::to_string(i) + ",";
  assert_status(parse(many + "\"last\":0}"), Status::kOk);
  assert_status(parse(many + "\"k0\":0}"), Status::kDuplicateKey);
  assert_status(parse(many + "\"k100\":0}"), Status::kDuplicateKey);
  assert_status(parse(many + "\"k199\":0}"), Status::kDuplicateKey);
  // Equal names in different objects are not duplicates.
  assert_status(parse(R"({"a":{"k":1},"b":{"k":1},"k":[{"k":1},{"k":2}]})"), Status::kOk);
}

void numbers_follow_jansson(void**) {
  assert_status(parse(R"({"n":9223372036854775807})"), Status::kOk);
  assert_status(parse(R"({"n":-9223372036854775808})"), Status::kOk);
  assert_status(parse(R"({"n":9223372036854775808})"), Status::kPayloadNotJson);
  assert_status(parse(R"({"n":1e308})"), Status::kOk);
  assert_status(parse(R"({"n":1e309})"), Status::kPayloadNotJson);
  assert_status(parse(R"({"n":1e-400})"), Status::kOk);  // underflow is not an error
  std::string long_literal = "{\"n\":1." + std::string(100, '5') + "}";
  assert_status(parse(long_literal), Status::kOk);
}

void flat_navigation(void**) {
  FlatJson doc;
  assert_status(doc.parse(R"({"iss":"h\u00e9","exp":1700000100,"real":1.5,"aud":["a","b"],)"
                          R"("ra":{"roles":["x","y","z"]},"e":[],"o":{},"t":true,"z":null})",
                          8, Status::kPayloadNotJson),
                Status::kOk);
  FlatJson::Value root = doc.root();
  assert_true(root.is_object());
  assert_true(root.get("iss").string() == "h\xc3\xa9");
  assert_true(root.get("exp").is_number());
  assert_true(root.get("exp").number() == 1700000100.0);
  assert_true(root.get("real").number() == 1.5);
  assert_false(root.get("iss").is_number());
  assert_true(root.get("exp").string().empty());
  assert_false(root.get("missing").present());
  assert_false(root.get("missing").get("x").present());
  assert_false(root.get("aud").get("a").present());  // not an object
  assert_true(root.get("t").present() && !root.get("t").is_string());
  assert_true(root.get("z").present());

  std::string joined;
  for (FlatJson::Value v = root.get("aud").first(); v.present(); v = v.next()) {
    joined += std::string(v.string()) + ";";
  }
  assert_string_equal(joined.c_str(), "a;b;");
  joined.clear();
  for (FlatJson::Value v = root.get("ra").get("roles").first(); v.present(); v = v.next()) {
    joined += std::string(v.string());
  }
  assert_string_equal(joined.c_str(), "xyz");
  assert_false(root.get("e").first().present());
  assert_false(root.get("o").first().present());
  assert_false(root.get("exp").first().present());

  // Members in document order, nested containers skipped as a whole.
  int members = 0;
  for (FlatJson::Value v = root.first(); v.present(); v = v.next()) ++members;
  assert_int_equal(members, 9);
  assert_false(root.next().present());

  // A failed parse leaves nothing behind.
  assert_status(doc.parse(R"({"a":1,"a":2})", 8, Status::kPayloadNotJson), Status::kDuplicateKey);
  assert_false(doc.root().present());
  assert_false(doc.root().get("a").present());
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

// get() matches whole names only: same length or same first byte is not
// enough, a nested member is never a match for its parent, "" is a name.
void get_compares_whole_names(void**) {
  FlatJson doc;
  assert_status(doc.parse(R"({"o":{"exp":1},"exq":2,"ex":3,"xxp":4,"":5,"exp":6,"e":7})", 8,
                          Status::kPayloadNotJson),
                Status::kOk);
  FlatJson::Value root = doc.root();
  assert_true(root.get("exp").number() == 6.0);
  assert_true(root.get("exq").number() == 2.0);
  assert_true(root.get("ex").number() == 3.0);
  assert_true(root.get("xxp").number() == 4.0);
  assert_true(root.get("").number() == 5.0);
  assert_true(root.get("e").number() == 7.0);
  assert_false(root.get("exr").present());
  assert_false(root.get("expp").present());
  assert_true(root.get("o").get("exp").number() == 1.0);
  assert_false(root.get("o").get("exq").present());
  // The value found iterates on within its parent.
  assert_true(root.get("xxp").next().get("").present() == false);
  assert_true(root.get("xxp").next().number() == 5.0);
  assert_false(root.get("e").next().present());
}

// The UTF-8 and NUL rule takes ASCII eight bytes at a time: a NUL, a
// broken sequence or a valid one at every offset of a longer string.
void utf8_rule_at_every_offset(void**) {
  for (size_t len = 1; len <= 40; ++len) {
    for (size_t at = 0; at < len; ++at) {
      std::string s(len, 'a');
      s[at] = '\0';
      assert_false(utf8_valid_without_nul(s));
      s[at] = '\x80';  // a continuation byte first
      assert_false(utf8_valid_without_nul(s));
      s[at] = '\x7f';
      assert_true(utf8_valid_without_nul(s));
      std::string two = s.substr(0, at) + "\xc3\xa9" + s.substr(at + 1);
      assert_true(utf8_valid_without_nul(two));
      std::string cut = s.substr(0, at) + "\xc3";  // a sequence cut short at the end
      assert_false(utf8_valid_without_nul(cut));
    }
  }
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(accepts_objects),
      cmocka_unit_test(rejects_non_objects),
      cmocka_unit_test(rejects_nul_and_bad_utf8),
      cmocka_unit_test(rejects_duplicate_members),
      cmocka_unit_test(numbers_follow_jansson),
      cmocka_unit_test(flat_navigation),
      cmocka_unit_test(bounds_depth),
      cmocka_unit_test(get_string),
      cmocka_unit_test(get_compares_whole_names),
      cmocka_unit_test(utf8_rule_at_every_offset),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
