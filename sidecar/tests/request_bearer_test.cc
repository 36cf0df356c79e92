// RequestAuthenticator reads the Authorization header with core's
// bearer_credential, as nginx does: the same shapes pass or fail in both
// (the module side is t/module/015-bearer-syntax.t), with a real signed
// token and an in-memory JWKS.
#include <ctime>
#include <string>

#include "auth/request_identity.h"
#include "cmocka_cxx.h"
#include "http/problem.h"
#include "sidecar_test.h"
#include "test_support.h"

using namespace realm_sidecar;
using realm_auth::Alg;
using realm_auth::Status;

namespace {

constexpr char kIss[] = "http://localhost:8080/realms/tenant-demo";

RequestAuthenticator& authenticator() {
  static RequestAuthenticator* a = [] {
    AuthConfig c;
    c.verifier.claims.audiences = {"realm-sidecar"};
    std::string error;
    assert_true(parse_issuer_patterns({"http://localhost:8080/realms/tenant-*"}, c.verifier.issuers,
                                      error));
    std::string jwks =
        "{\"keys\":[" +
        realm_auth::test::public_jwk(realm_auth::test::shared_rsa_key(), "k1", "RS256") + "]}";
    return new RequestAuthenticator(std::move(c), [jwks](const std::string&, bool) {
      realm_auth::JwksFetchOutcome o;
      o.status = Status::kOk;
      o.body = jwks;
      return o;
    });
  }();
  return *a;
}

std::string token() {
  long exp = static_cast<long>(time(nullptr)) + 300;
  return realm_auth::test::make_token(
      Alg::kRS256, realm_auth::test::shared_rsa_key(), R"({"alg":"RS256","typ":"JWT","kid":"k1"})",
      std::string(R"({"iss":")") + kIss + R"(","aud":"realm-sidecar","sub":"user-1","exp":)" +
          std::to_string(exp) + R"(,"typ":"Bearer","preferred_username":"alice"})");
}

void check(const std::string& authorization, Status want, bool presented) {
  AuthOutcome a = authenticator().authenticate(authorization);
  assert_status(a.status, want);
  assert_int_equal(a.ok, want == Status::kOk);
  assert_int_equal(a.token_presented, presented);
}

void accepted_shapes(void**) {
  check("Bearer " + token(), Status::kOk, true);
  check("Bearer  " + token(), Status::kOk, true);  // 1*SP, as nginx
  check("bearer " + token(), Status::kOk, true);
  check("BEARER " + token(), Status::kOk, true);
}

void no_bearer_credential(void**) {
  check("", Status::kTokenMissing, false);
  check("Bearer", Status::kTokenMissing, false);
  check("Bearer ", Status::kTokenMissing, false);
  check("Basic YWxpY2U6c2VjcmV0", Status::kTokenMissing, false);
  check("Bearer\t" + token(), Status::kTokenMissing, false);
  check("Bearer:" + token(), Status::kTokenMissing, false);
}

void malformed_credentials(void**) {
  check("Bearer " + token() + " extra", Status::kTokenMalformed, true);
  check("Bearer " + token() + ", Bearer " + token(), Status::kTokenMalformed, true);
  check("Bearer \"" + token() + "\"", Status::kTokenMalformed, true);
  check("Bearer " + token() + "\x01", Status::kTokenMalformed, true);
}

void challenge_comes_from_core(void**) {
  AuthOutcome a = authenticator().authenticate("Bearer " + token() + " extra");
  HttpResponse r = unauthorized(a.status, "r1");
  assert_int_equal(r.status, 401);
  assert_string_equal(r.headers.at(0).first.c_str(), "WWW-Authenticate");
  assert_string_equal(r.headers.at(0).second.c_str(),
                      ("Bearer error=\"invalid_token\", error_description=\"" +
                       std::string(realm_auth::status_description(Status::kTokenMalformed)) + "\"")
                          .c_str());
  HttpResponse none = unauthorized(authenticator().authenticate("").status, "r1");
  assert_string_equal(none.headers.at(0).second.c_str(), "Bearer");
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(accepted_shapes),
      cmocka_unit_test(no_bearer_credential),
      cmocka_unit_test(malformed_credentials),
      cmocka_unit_test(challenge_comes_from_core),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
