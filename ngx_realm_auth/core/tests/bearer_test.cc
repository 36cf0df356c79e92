// bearer_credential and bearer_challenge: the Authorization rules of the
// module and the sidecar, hostile shapes included.
#include "bearer.h"

#include <string>

#include "cmocka_cxx.h"

using namespace realm_auth;

namespace {

constexpr char kTok[] = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";

void expect(std::string_view field, Status want, std::string_view want_token = "") {
  std::string_view token = "untouched";
  Status s = bearer_credential(field, token);
  assert_status(s, want);
  if (want == Status::kOk) {
    assert_int_equal(token.size(), want_token.size());
    assert_memory_equal(token.data(), want_token.data(), token.size());
  }
}

void accepted(void**) {
  std::string t = kTok;
  expect("Bearer " + t, Status::kOk, t);
  expect("bearer " + t, Status::kOk, t);
  expect("BEARER " + t, Status::kOk, t);
  expect("Bearer  " + t, Status::kOk, t);  // 1*SP
  expect("Bearer     " + t, Status::kOk, t);
  expect("  Bearer " + t + " \t", Status::kOk, t);  // field OWS (HTTP/2 keeps it)
  expect("Bearer abc-._~+/==", Status::kOk, "abc-._~+/==");
  expect("Bearer a", Status::kOk, "a");
}

void no_credential(void**) {
  std::string t = kTok;
  expect("", Status::kTokenMissing);
  expect("   ", Status::kTokenMissing);
  expect("Bearer", Status::kTokenMissing);
  expect("Bearer ", Status::kTokenMissing);
  expect("Bearer    ", Status::kTokenMissing);
  expect("Basic YWxpY2U6c2VjcmV0", Status::kTokenMissing);
  expect("Bearer\t" + t, Status::kTokenMissing);  // the scheme is "Bearer\t..."
  expect("Bearer:" + t, Status::kTokenMissing);
  expect("Bearer: " + t, Status::kTokenMissing);
  expect("Bearerx " + t, Status::kTokenMissing);
  expect("Beare " + t, Status::kTokenMissing);
  expect("DPoP " + t, Status::kTokenMissing);
  expect(std::string("Bearer\0 ", 8) + t, Status::kTokenMissing);
}

void malformed(void**) {
  std::string t = kTok;
  expect("Bearer " + t + " extra", Status::kTokenMalformed);
  expect("Bearer " + t + " " + t, Status::kTokenMalformed);
  expect("Bearer " + t + ", Bearer " + t, Status::kTokenMalformed);
  expect("Bearer " + t + ",", Status::kTokenMalformed);
  expect("Bearer \"" + t + "\"", Status::kTokenMalformed);
  expect("Bearer " + t + "\r\nX-Injected: 1", Status::kTokenMalformed);
  expect("Bearer " + t + "\x01", Status::kTokenMalformed);
  expect("Bearer " + t + "\x7f", Status::kTokenMalformed);
  expect("Bearer " + t.substr(0, 10) + "\t" + t.substr(10), Status::kTokenMalformed);
  expect("Bearer =" + t, Status::kTokenMalformed);  // '=' only at the end
  expect("Bearer " + t + "=x", Status::kTokenMalformed);
  expect("Bearer ====", Status::kTokenMalformed);
  expect("Bearer " + t + "%41", Status::kTokenMalformed);
  expect("Bearer " + std::string("t\xc3\xa9st"), Status::kTokenMalformed);  // non-ASCII
  expect(std::string("Bearer ") + std::string(1, '\0') + t, Status::kTokenMalformed);
}

void long_input_is_linear(void**) {
  // A header of 64 KiB of token characters is one b64token: the length
  // limit is the verifier's (token_too_large), not this parser's.
  std::string big = "Bearer " + std::string(65536, 'a');
  std::string_view token;
  assert_status(bearer_credential(big, token), Status::kOk);
  assert_int_equal(token.size(), 65536);
  std::string spaces = "Bearer" + std::string(65536, ' ') + "x";
  assert_status(bearer_credential(spaces, token), Status::kOk);
  assert_int_equal(token.size(), 1);
}

// The halves the module uses around its verified-token cache give the same
// verdicts as bearer_credential.
void halves_agree(void**) {
  std::string t = kTok;
  for (const std::string& field :
       {"Bearer " + t, "Bearer  " + t, "bearer " + t + " ", "Bearer " + t + " extra",
        "Bearer \"" + t + "\"", "Bearer " + t + "\x01", std::string("Basic x"),
        std::string("Bearer"), "Bearer\t" + t, "Bearer =" + t, "Bearer " + t + "=="}) {
    std::string_view whole, credential;
    Status s = bearer_credential(field, whole);
    Status first = bearer_scheme(field, credential);
    Status combined = first != Status::kOk      ? first
                      : is_b64token(credential) ? Status::kOk
                                                : Status::kTokenMalformed;
    assert_status(combined, s);
    if (s == Status::kOk) assert_true(whole == credential);
  }
  assert_false(is_b64token(""));
  assert_false(is_b64token("="));
  assert_true(is_b64token("a="));
  assert_false(is_b64token("a=a"));
}

void challenge(void**) {
  assert_string_equal(bearer_challenge(Status::kTokenMissing).c_str(), "Bearer");
  assert_string_equal(bearer_challenge(Status::kExpired).c_str(),
                      "Bearer error=\"invalid_token\", error_description=\"token expired\"");
  assert_string_equal(bearer_challenge(Status::kTokenMalformed).c_str(),
                      "Bearer error=\"invalid_token\", error_description=\"token malformed\"");
  // Every description fits in a quoted-string without escaping.
  for (unsigned i = 1; i < static_cast<unsigned>(Status::kCount); ++i) {
    std::string c = bearer_challenge(static_cast<Status>(i));
    std::string desc = status_description(static_cast<Status>(i));
    assert_true(desc.find('"') == std::string::npos && desc.find('\\') == std::string::npos);
    assert_true(c.rfind("Bearer", 0) == 0);
  }
  // Authorization refusals (RFC 6750 §3.1): the kind of rule, never its roles or values.
  assert_string_equal(bearer_insufficient_scope(Status::kRequireRole).c_str(),
                      "Bearer error=\"insufficient_scope\", error_description=\"role required\"");
  assert_string_equal(
      bearer_insufficient_scope(Status::kRequireClaim).c_str(),
      "Bearer error=\"insufficient_scope\", error_description=\"claim requirement not met\"");
  assert_string_equal(
      bearer_insufficient_scope(Status::kRequire).c_str(),
      "Bearer error=\"insufficient_scope\", error_description=\"request not permitted\"");
  unsigned authz = 0;
  for (unsigned i = 0; i < static_cast<unsigned>(Status::kCount); ++i) {
    authz += is_authorization_refusal(static_cast<Status>(i));
  }
  assert_int_equal(authz, 3);
  assert_false(is_authorization_refusal(Status::kOk));
  assert_false(is_authorization_refusal(Status::kExpired));
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(accepted),     cmocka_unit_test(no_credential),
      cmocka_unit_test(malformed),    cmocka_unit_test(long_input_is_linear),
      cmocka_unit_test(halves_agree), cmocka_unit_test(challenge),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
