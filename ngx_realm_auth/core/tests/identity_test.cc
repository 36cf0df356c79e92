// Token → actor: the fields handed to upstreams, and the values that must
// never reach an HTTP header.
#include "identity.h"

#include <string>

#include "cmocka_cxx.h"

using namespace realm_auth;

namespace {

const IssuerMatch kMatch = {"tenant-demo", "demo"};
constexpr char kIss[] = "http://localhost:8080/realms/tenant-demo";

// A Keycloak access token's claims, trimmed.
constexpr char kKeycloak[] = R"({
  "exp": 1700000300, "iat": 1700000000, "jti": "4c1c", "iss": "http://localhost:8080/realms/tenant-demo",
  "aud": ["tenant-services", "account"], "sub": "9a7c3a5e-1f1b-4c7a-9d2e-2b8f0c1e7d11",
  "typ": "Bearer", "azp": "admin-console", "sid": "b1e2",
  "realm_access": {"roles": ["officer", "default-roles-tenant-demo", "offline_access"]},
  "resource_access": {"tenant-services": {"roles": ["case-read", "officer"]},
                      "account": {"roles": ["manage-account"]}},
  "scope": "openid profile email", "email_verified": true,
  "preferred_username": "olivia", "email": "olivia@example.com", "department_id": "dept-7"
})";

Status extract(const std::string& payload, Identity& id,
               const std::vector<std::string>& clients = {}) {
  FlatJson json;
  assert_status(json.parse(payload, 8, Status::kPayloadNotJson), Status::kOk);
  return extract_identity(json.root(), kMatch, kIss, clients, id);
}

Status extract(const std::string& payload) {
  Identity id;
  return extract(payload, id);
}

void keycloak_access_token(void**) {
  Identity id;
  assert_status(extract(kKeycloak, id), Status::kOk);
  assert_string_equal(id.actor_id.c_str(), "9a7c3a5e-1f1b-4c7a-9d2e-2b8f0c1e7d11");
  assert_string_equal(id.tenant_id.c_str(), "demo");
  assert_string_equal(id.realm.c_str(), "tenant-demo");
  assert_string_equal(id.issuer.c_str(), kIss);
  assert_string_equal(join_roles(id.roles).c_str(),
                      "officer,default-roles-tenant-demo,offline_access");
  assert_string_equal(id.username.c_str(), "olivia");
  assert_string_equal(id.email.c_str(), "olivia@example.com");
  assert_string_equal(id.department_id.c_str(), "dept-7");
  assert_int_equal(id.exp, 1700000300);
  assert_int_equal(id.iat, 1700000000);  // binds the token to its tenant's incarnation
  assert_string_equal(id.session_id.c_str(), "b1e2");  // session revocation records name it
}

void client_roles_when_configured(void**) {
  Identity id;
  assert_status(extract(kKeycloak, id, {"tenant-services", "absent-client", "account"}),
                Status::kOk);
  // Realm roles first, then each client in configured order, de-duplicated.
  assert_string_equal(join_roles(id.roles).c_str(),
                      "officer,default-roles-tenant-demo,offline_access,case-read,manage-account");
}

void optional_claims_absent(void**) {
  Identity id;
  id.username = "stale";
  assert_status(extract(R"({"sub":"u","exp":1.5e9})", id), Status::kOk);
  assert_true(id.roles.empty());
  assert_string_equal(id.username.c_str(), "");
  assert_string_equal(id.email.c_str(), "");
  assert_string_equal(id.department_id.c_str(), "");
  assert_string_equal(id.session_id.c_str(), "");  // service accounts: revoked by sub only
  assert_int_equal(id.exp, 1500000000);
  assert_status(extract(R"({"sub":"u","exp":1,"realm_access":{}})"), Status::kOk);
}

void wrong_types_refused(void**) {
  const char* bad[] = {
      R"({"sub":"u","exp":1,"preferred_username":7})",
      R"({"sub":"u","exp":1,"email":["a@b"]})",
      R"({"sub":"u","exp":1,"department_id":12})",
      R"({"sub":"u","exp":1,"department_id":null})",
      R"({"sub":"u","exp":1,"sid":7})",
      R"({"sub":"u","exp":1,"sid":["s"]})",
      R"({"sub":"u","exp":1,"realm_access":[]})",
      R"({"sub":"u","exp":1,"realm_access":{"roles":"admin"}})",
      R"({"sub":"u","exp":1,"realm_access":{"roles":["a",1]}})",
  };
  for (const char* payload : bad) assert_status(extract(payload), Status::kClaimInvalid);
  Identity id;
  assert_status(extract(R"({"sub":"u","exp":1,"resource_access":[]})", id, {"c"}),
                Status::kClaimInvalid);
  assert_status(extract(R"({"sub":"u","exp":1,"resource_access":{"c":[]}})", id, {"c"}),
                Status::kClaimInvalid);
  // Not configured: resource_access is not read at all.
  assert_status(extract(R"({"sub":"u","exp":1,"resource_access":[]})", id), Status::kOk);
}

void header_injection_refused(void**) {
  const char* bad[] = {
      R"({"sub":"u\r\nX-Tenant-Id: other","exp":1})",
      R"({"sub":"u","exp":1,"email":"a@b\nX-Admin: 1"})",
      R"({"sub":"u","exp":1,"preferred_username":"a\tb"})",
      R"({"sub":"u","exp":1,"department_id":"d\u007f"})",
      R"({"sub":"u","exp":1,"realm_access":{"roles":["admin,tenant_admin"]}})",
      R"({"sub":"u","exp":1,"realm_access":{"roles":[""]}})",
      R"({"sub":"u","exp":1,"realm_access":{"roles":["a\rb"]}})",
  };
  for (const char* payload : bad) assert_status(extract(payload), Status::kClaimInvalid);
  // UTF-8 is fine.
  assert_status(extract(R"({"sub":"u","exp":1,"preferred_username":"j\u00f6rg"})"), Status::kOk);
}

void required_claims(void**) {
  assert_status(extract(R"({"exp":1})"), Status::kSubMissing);
  assert_status(extract(R"({"sub":"","exp":1})"), Status::kSubMissing);
  assert_status(extract(R"({"sub":"u"})"), Status::kExpMissing);
}

void join(void**) {
  assert_string_equal(join_roles({}).c_str(), "");
  assert_string_equal(join_roles({"a"}).c_str(), "a");
  assert_string_equal(join_roles({"a", "b", "c"}).c_str(), "a,b,c");
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(keycloak_access_token),
      cmocka_unit_test(client_roles_when_configured),
      cmocka_unit_test(optional_claims_absent),
      cmocka_unit_test(wrong_types_refused),
      cmocka_unit_test(header_injection_refused),
      cmocka_unit_test(required_claims),
      cmocka_unit_test(join),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
