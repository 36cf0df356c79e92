// header_safe, and the verifier applying it to every string of a token.
#include "header_value.h"

#include <string>

#include "cmocka_cxx.h"
#include "test_support.h"
#include "verifier.h"

using namespace realm_auth;
using namespace realm_auth::test;

namespace {

void bytes(void**) {
  assert_true(header_safe(""));
  assert_true(header_safe("plain text, \"quoted\" ~!@#$%^&*()"));
  assert_true(header_safe("\xc3\xa9t\xc3\xa9 \xff"));  // non-ASCII is not ours to judge
  for (int c = 0; c < 0x20; ++c) assert_false(header_safe(std::string("a") + char(c) + "b"));
  assert_false(header_safe("a\x7f"));
  assert_false(header_safe(std::string("\0", 1)));
}

constexpr int64_t kNow = 1700000000;
constexpr char kIss[] = "http://localhost:8080/realms/tenant-demo";

Status verify(const std::string& header_extra, const std::string& payload_extra) {
  VerifierConfig c;
  IssuerPattern p;
  std::string error;
  assert_true(IssuerPattern::parse("http://localhost:8080/realms/tenant-*", p, error));
  c.issuers.push_back(p);
  std::shared_ptr<const Jwks> keys;
  assert_status(
      Jwks::parse("{\"keys\":[" + public_jwk(shared_rsa_key(), "k1", "RS256") + "]}", keys),
      Status::kOk);
  std::string header = R"({"alg":"RS256","typ":"JWT","kid":"k1")" + header_extra + "}";
  std::string payload = std::string(R"({"iss":")") + kIss + R"(","sub":"u1","exp":)" +
                        std::to_string(kNow + 300) + payload_extra + "}";
  std::string token = make_token(Alg::kRS256, shared_rsa_key(), header, payload);
  InspectedToken t;
  Status s = inspect_token(token, c, t);
  if (s != Status::kOk) return s;
  Identity id;
  return verify_token(t, *keys, c, kNow, id);
}

void every_string_of_the_token(void**) {
  assert_status(verify("", ""), Status::kOk);
  assert_status(verify("", R"(,"note":"a, \"b\" c","list":["x","y"],"obj":{"k":"v"})"),
                Status::kOk);
  assert_status(verify("", R"(,"note":"a\r\nX-Injected: 1")"), Status::kClaimInvalid);
  assert_status(verify("", R"(,"note":"a\tb")"), Status::kClaimInvalid);
  assert_status(verify("", R"(,"list":["x","y\nz"])"), Status::kClaimInvalid);
  assert_status(verify("", R"(,"obj":{"deep":{"k":"a\u007fb"}})"), Status::kClaimInvalid);
  assert_status(verify("", "\x2c\"obj\":\"a\x7f\""), Status::kClaimInvalid);  // raw DEL
  assert_status(verify("", R"(,"na\nme":"v")"), Status::kClaimInvalid);       // member name
  assert_status(verify(R"(,"hint":"a\u0001")", ""), Status::kClaimInvalid);   // JOSE header
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(bytes),
      cmocka_unit_test(every_string_of_the_token),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
