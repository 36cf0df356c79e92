// Status and algorithm names: stable strings other components key on.
#include <cstring>
#include <set>
#include <string>

#include "algorithm.h"
#include "cmocka_cxx.h"

using namespace realm_auth;

namespace {

void names_are_snake_case_and_unique(void**) {
  assert_string_equal(status_name(Status::kOk), "ok");
  assert_string_equal(status_name(Status::kIssuerNotAllowed), "issuer_not_allowed");
  assert_string_equal(status_name(Status::kExpired), "expired");
  assert_string_equal(status_name(Status::kTokenIsJwe), "token_is_jwe");
  assert_string_equal(status_name(Status::kPurposeMissing), "purpose_missing");
  assert_string_equal(status_name(Status::kTokenRevoked), "token_revoked");
  std::set<std::string> seen;
  for (unsigned i = 0; i < static_cast<unsigned>(Status::kCount); ++i) {
    const char* name = status_name(static_cast<Status>(i));
    for (const char* c = name; *c; ++c)
      assert_true((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_');
    assert_true(seen.insert(name).second);
  }
  assert_string_equal(status_name(Status::kCount), "unknown");
}

void descriptions_are_client_safe(void**) {
  assert_string_equal(status_description(Status::kExpired), "token expired");
  assert_string_equal(status_description(Status::kIssuerNotAllowed), "issuer not allowed");
  for (unsigned i = 0; i <= static_cast<unsigned>(Status::kCount); ++i) {
    const char* d = status_description(static_cast<Status>(i));
    assert_true(std::strlen(d) > 0 && std::strlen(d) < 60);
    // Goes inside error_description="..." (RFC 6750 §3): no quotes or backslashes.
    assert_null(std::strpbrk(d, "\"\\\r\n"));
    assert_null(std::strstr(d, "http"));
    assert_null(std::strstr(d, "jwks"));
    assert_null(std::strstr(d, "key"));
  }
}

void algorithm_names(void**) {
  for (unsigned i = 0; i < static_cast<unsigned>(Alg::kCount); ++i) {
    Alg a;
    assert_true(alg_from_name(alg_name(static_cast<Alg>(i)), a));
    assert_int_equal(static_cast<unsigned>(a), i);
  }
  Alg a;
  for (const char* bad :
       {"none", "None", "HS256", "rs256", "RS256 ", "", "EDDSA", "ES256K", "RSA-OAEP"}) {
    assert_false(alg_from_name(bad, a));
  }
  assert_false(alg_from_name(std::string_view("RS256\0", 6), a));
  assert_int_equal(kAllAlgs, 0x3ff);
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(names_are_snake_case_and_unique),
      cmocka_unit_test(descriptions_are_client_safe),
      cmocka_unit_test(algorithm_names),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
