// header_safe, and the verifier applying it to every string of a token.
#include "header_value.h"

#include <cstdint>
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

// header_safe takes eight bytes at a time: every control byte at every
// offset of strings long enough to fill several words, and the bytes
// around the refused ranges (0x20, 0x7e, 0x80, 0xff) accepted there.
void every_offset(void**) {
  const unsigned char fine[] = {0x20, 0x7e, 0x80, 0xff, 'A'};
  for (size_t len = 1; len <= 40; ++len) {
    for (size_t at = 0; at < len; ++at) {
      std::string s(len, 'x');
      for (int c = 0; c < 0x20; ++c) {
        s[at] = static_cast<char>(c);
        assert_false(header_safe(s));
      }
      s[at] = '\x7f';
      assert_false(header_safe(s));
      for (unsigned char c : fine) {
        s[at] = static_cast<char>(c);
        assert_true(header_safe(s));
      }
    }
  }
  // Words of nothing but the neighbours of the refused ranges.
  assert_true(header_safe(std::string(64, '\x20')));
  assert_true(header_safe(std::string(64, '\x80')));
  assert_true(header_safe(std::string(64, '\x7e')));
  assert_true(header_safe(std::string(64, '\xff')));
  assert_true(header_safe(std::string(64, '\x21')));
  // Against the rule byte by byte, on random strings mixing refused bytes
  // with their neighbours (a fixed seed: the same strings every run).
  uint32_t state = 12345;
  const unsigned char mix[] = {0x00, 0x01, 0x1f, 0x20, 0x21, 0x7e, 0x7f,
                               0x80, 0x9f, 0xa0, 0xfe, 0xff, 'a'};
  for (int i = 0; i < 20000; ++i) {
    std::string s;
    size_t len = 1 + i % 33;
    for (size_t j = 0; j < len; ++j) {
      state = state * 1103515245 + 12345;
      // Mostly plain bytes, so many strings pass and the words are exercised.
      unsigned char c =
          (state >> 16) % 8 == 0 ? mix[(state >> 20) % sizeof mix] : 'a' + (state >> 24) % 26;
      s += static_cast<char>(c);
    }
    bool expected = true;
    for (unsigned char c : s) expected = expected && c >= 0x20 && c != 0x7f;
    assert_true(header_safe(s) == expected);
  }
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
      cmocka_unit_test(every_offset),
      cmocka_unit_test(every_string_of_the_token),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
