// Authorization rules: role requirements, claim requirements with exact
// JSON types, directive argument parsing (what nginx -t refuses).
#include "authorization.h"

#include <cstring>
#include <string>
#include <vector>

#include "cmocka_cxx.h"
#include "jwt.h"

using namespace realm_auth;

namespace {

ClaimRequirement claim_rule(const char* name, const char* op,
                            std::vector<std::string_view> values) {
  ClaimRequirement rule;
  std::string error;
  if (!make_claim_requirement(name, op, values, rule, error)) fail_msg("%s", error.c_str());
  return rule;
}

bool passes(const std::string& payload, const ClaimRequirement& rule) {
  FlatJson json;
  assert_status(json.parse(payload, 8, Status::kPayloadNotJson), Status::kOk);
  return claim_satisfies(json.root(), rule);
}

bool scalar_ok(std::string_view text) {
  JsonScalar v;
  std::string error;
  bool ok = parse_json_scalar(text, v, error);
  assert_true(ok == error.empty());
  return ok;
}

void json_literals(void**) {
  JsonScalar v;
  std::string error;
  assert_true(parse_json_scalar("\"gold\"", v, error));
  assert_int_equal(static_cast<int>(v.type), static_cast<int>(FlatJson::Type::kString));
  assert_string_equal(v.string.c_str(), "gold");
  assert_true(parse_json_scalar("\"\\u0061b\"", v, error));  // escapes decoded
  assert_string_equal(v.string.c_str(), "ab");
  assert_true(parse_json_scalar("\"\"", v, error));
  assert_true(parse_json_scalar("42", v, error));
  assert_true(v.type == FlatJson::Type::kNumber && v.number == 42);
  assert_true(parse_json_scalar("-7", v, error) && v.number == -7);
  assert_true(parse_json_scalar("9007199254740991", v, error));
  assert_true(parse_json_scalar("true", v, error) && v.type == FlatJson::Type::kTrue);
  assert_true(parse_json_scalar("false", v, error) && v.type == FlatJson::Type::kFalse);
  assert_true(parse_json_scalar("null", v, error) && v.type == FlatJson::Type::kNull);

  const char* bad[] = {
      "gold",    // nginx stripped the quotes: not JSON
      "\"gold",  // unterminated
      "'gold'",  // not JSON quotes
      "True",    // JSON is case-sensitive
      "NULL",
      "01",                // leading zero
      "1.5",               // fractions compare inexactly
      "1e3",               // exponent
      "9007199254740992",  // 2^53: beyond exact doubles
      "-9007199254740992",
      "99999999999999999999",  // beyond 64 bits
      "[\"a\"]",               // arrays, objects: not scalars
      "{}",
      "1,\"w\":2",  // a second member smuggled into the wrapper
      "1}",
      "\"a\"} {\"v\":1",
      " 1",  // blanks
      "1 ",
      "",
      "\"a\\u0000b\"",  // NUL
      "\"a\\nb\"",      // control byte: tokens with one are refused
      "\"\\udc00\"",    // lone surrogate
  };
  for (const char* text : bad) {
    if (scalar_ok(text)) fail_msg("accepted %s", text);
  }
}

void directive_arguments(void**) {
  ClaimRequirement rule;
  std::string error;
  assert_false(make_claim_requirement("tier", "equals", {"1"}, rule, error));
  assert_non_null(strstr(error.c_str(), "unknown operator"));
  assert_false(make_claim_requirement("tier", "EQ", {"1"}, rule, error));
  assert_false(make_claim_requirement("tier", "eq", {}, rule, error));
  assert_non_null(strstr(error.c_str(), "needs a value"));
  assert_false(make_claim_requirement("tier", "in", {}, rule, error));
  assert_false(make_claim_requirement("tier", "eq", {"1", "2"}, rule, error));
  assert_false(make_claim_requirement("tier", "eq", {"gold"}, rule, error));
  assert_non_null(strstr(error.c_str(), "gold"));
  assert_false(make_claim_requirement("", "eq", {"1"}, rule, error));
  assert_false(make_claim_requirement("a\nb", "eq", {"1"}, rule, error));
  assert_true(make_claim_requirement("tier", "in", {"\"gold\"", "\"silver\""}, rule, error));
  assert_int_equal(rule.values.size(), 2);

  RoleRequirement roles;
  assert_false(make_role_requirement({}, roles, error));
  assert_false(make_role_requirement({""}, roles, error));
  assert_false(make_role_requirement({"a,b"}, roles, error));
  assert_false(make_role_requirement({"a\tb"}, roles, error));
  assert_true(make_role_requirement({"admin", "auditor"}, roles, error));
  assert_int_equal(roles.any_of.size(), 2);
}

void roles_any_of(void**) {
  RoleRequirement rule;
  std::string error;
  assert_true(make_role_requirement({"admin", "auditor"}, rule, error));
  assert_true(roles_satisfy({"user", "auditor"}, rule));
  assert_true(roles_satisfy({"admin"}, rule));
  assert_false(roles_satisfy({}, rule));
  assert_false(roles_satisfy({"user"}, rule));
  // Byte for byte: case variants, blanks and prefixes are other roles.
  assert_false(roles_satisfy({"Admin", "ADMIN", "admin ", " admin", "admins", "adm"}, rule));
}

void eq_exact_types(void**) {
  ClaimRequirement one = claim_rule("n", "eq", {"1"});
  assert_true(passes(R"({"n":1})", one));
  assert_true(passes(R"({"n":1.0})", one));  // one JSON number, however spelled
  assert_false(passes(R"({"n":"1"})", one));
  assert_false(passes(R"({"n":true})", one));
  assert_false(passes(R"({"n":[1]})", one));
  assert_false(passes(R"({"n":{"v":1}})", one));
  assert_false(passes(R"({"n":null})", one));
  assert_false(passes(R"({"m":1})", one));
  assert_false(passes(R"({"n":1.0000001})", one));
  // 2^53 + 1 rounds to 2^53, which no configured integer equals.
  ClaimRequirement big = claim_rule("n", "eq", {"9007199254740991"});
  assert_false(passes(R"({"n":9007199254740993})", big));
  assert_true(passes(R"({"n":9007199254740991})", big));

  ClaimRequirement s = claim_rule("n", "eq", {"\"1\""});
  assert_true(passes(R"({"n":"1"})", s));
  assert_false(passes(R"({"n":1})", s));
  assert_false(passes(R"({"n":["1"]})", s));
  assert_false(passes(R"({"n":"1 "})", s));

  ClaimRequirement t = claim_rule("verified", "eq", {"true"});
  assert_true(passes(R"({"verified":true})", t));
  assert_false(passes(R"({"verified":"true"})", t));
  assert_false(passes(R"({"verified":1})", t));
  assert_false(passes(R"({"verified":false})", t));

  // null equals only a present null: an absent claim is not null.
  ClaimRequirement null = claim_rule("x", "eq", {"null"});
  assert_true(passes(R"({"x":null})", null));
  assert_false(passes(R"({})", null));
  assert_false(passes(R"({"x":false})", null));
  assert_false(passes(R"({"x":""})", null));
  assert_false(passes(R"({"x":0})", null));

  // Top-level members only; a dotted name is a member name, not a path.
  ClaimRequirement dotted = claim_rule("a.b", "eq", {"1"});
  assert_false(passes(R"({"a":{"b":1}})", dotted));
  assert_true(passes(R"({"a.b":1})", dotted));
  // Escapes in the token decode before comparing.
  ClaimRequirement gold = claim_rule("tier", "eq", {"\"gold\""});
  assert_true(passes(R"({"tier":"g\u006fld"})", gold));
  assert_false(passes(R"({"tier":"Gold"})", gold));
}

void in_scalars_only(void**) {
  ClaimRequirement rule = claim_rule("tier", "in", {"\"gold\"", "\"silver\"", "3"});
  assert_true(passes(R"({"tier":"gold"})", rule));
  assert_true(passes(R"({"tier":"silver"})", rule));
  assert_true(passes(R"({"tier":3})", rule));
  assert_false(passes(R"({"tier":"3"})", rule));
  assert_false(passes(R"({"tier":"bronze"})", rule));
  assert_false(passes(R"({"tier":["gold"]})", rule));  // in is for scalars
  assert_false(passes(R"({"tier":null})", rule));
  assert_false(passes(R"({})", rule));
}

void contains_arrays_only(void**) {
  ClaimRequirement rule = claim_rule("groups", "contains", {"\"ops\"", "\"sre\""});
  assert_true(passes(R"({"groups":["dev","ops"]})", rule));
  assert_true(passes(R"({"groups":["sre"]})", rule));
  assert_false(passes(R"({"groups":[]})", rule));
  assert_false(passes(R"({"groups":"ops"})", rule));  // a string is no array
  assert_false(passes(R"({"groups":"dev ops"})", rule));
  assert_false(passes(R"({"groups":[["ops"]]})", rule));  // nested arrays never match
  assert_false(passes(R"({"groups":[{"ops":true}]})", rule));
  assert_false(passes(R"({"groups":{"0":"ops"}})", rule));
  assert_false(passes(R"({"groups":null})", rule));
  assert_false(passes(R"({"groups":["OPS","Ops"]})", rule));
  assert_true(passes(R"({"groups":[1,null,["x"],"ops"]})", rule));  // other members ignored

  ClaimRequirement numbers = claim_rule("levels", "contains", {"2"});
  assert_true(passes(R"({"levels":[1,2]})", numbers));
  assert_false(passes(R"({"levels":["2"]})", numbers));
}

// The claims set of a cached (already verified) token, read again.
void payload_of_token(void**) {
  FlatJson out;
  // {"tier":"gold"} and {"a":1,"a":2}
  std::string gold = "eyJhbGciOiJSUzI1NiJ9.eyJ0aWVyIjoiZ29sZCJ9.c2ln";
  assert_status(parse_jwt_payload(gold, 8, out), Status::kOk);
  assert_true(passes("{\"tier\":\"gold\"}", claim_rule("tier", "eq", {"\"gold\""})));
  assert_string_equal(std::string(out.root().get("tier").string()).c_str(), "gold");
  assert_status(parse_jwt_payload("eyJhIjoxfQ.eyJhIjoxLCJhIjoyfQ.c2ln", 8, out),
                Status::kDuplicateKey);
  assert_false(out.root().present());
  assert_status(parse_jwt_payload("abc", 8, out), Status::kTokenMalformed);
  assert_status(parse_jwt_payload("a..c", 8, out), Status::kTokenMalformed);
  assert_status(parse_jwt_payload("a.e30=.c", 8, out), Status::kBadBase64);
}

void require_values(void**) {
  assert_true(require_value_passes("1"));
  assert_true(require_value_passes("yes"));
  assert_true(require_value_passes("00"));
  assert_true(require_value_passes(" 0"));
  assert_false(require_value_passes(""));
  assert_false(require_value_passes("0"));
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(json_literals),    cmocka_unit_test(directive_arguments),
      cmocka_unit_test(roles_any_of),     cmocka_unit_test(eq_exact_types),
      cmocka_unit_test(in_scalars_only),  cmocka_unit_test(contains_arrays_only),
      cmocka_unit_test(payload_of_token), cmocka_unit_test(require_values),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
