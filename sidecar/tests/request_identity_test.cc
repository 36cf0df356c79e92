// The sidecar's own token check is no weaker than nginx's: the audience is
// checked by default (a tenant-services token is not a sidecar token),
// tenant state is honoured, and forwarded headers are believed only from
// the trusted proxy. Tokens are signed here with a test key.
#include "auth/request_identity.h"

#include <ctime>
#include <string>

#include "config.h"
#include "http/server.h"
#include "sidecar_test.h"
#include "store/tenant_store.h"
#include "test_support.h"

using namespace realm_sidecar;
using realm_auth::Status;

namespace {

const char kKc[] = "https://kc.test";

std::string jwks_doc() {
  return "{\"keys\":[" +
         realm_auth::test::public_jwk(realm_auth::test::shared_rsa_key(), "k1", "RS256") + "]}";
}

std::string token(const std::string& realm, const std::string& aud_json) {
  const long long now = static_cast<long long>(std::time(nullptr));
  std::string payload = "{\"iss\":\"" + std::string(kKc) + "/realms/" + realm +
                        "\",\"sub\":\"u-1\",\"exp\":" + std::to_string(now + 300) +
                        ",\"iat\":" + std::to_string(now) + ",\"aud\":" + aud_json +
                        ",\"realm_access\":{\"roles\":[\"tenant_admin\"]}}";
  return realm_auth::test::make_token(realm_auth::Alg::kRS256, realm_auth::test::shared_rsa_key(),
                                      R"({"alg":"RS256","kid":"k1","typ":"JWT"})", payload);
}

// The authenticator as the daemon builds it: defaults from Config.
AuthConfig daemon_auth_config() {
  Config c;  // audiences default: realm-sidecar
  std::string error;
  std::map<std::string, std::string> vars{{"KEYCLOAK_URL", kKc}, {"REDIS_HOST", ""}};
  assert_true(config_from_vars(vars, "", c, error));
  AuthConfig ac;
  assert_true(parse_issuer_patterns(c.allowed_issuers, ac.verifier.issuers, error));
  ac.verifier.claims.audiences = c.audiences;
  return ac;
}

RequestAuthenticator::Fetch fetch() {
  return [](const std::string&, bool) {
    realm_auth::JwksFetchOutcome o;
    o.status = Status::kOk;
    o.body = jwks_doc();
    return o;
  };
}

void audience_checked_by_default(void**) {
  RequestAuthenticator auth(daemon_auth_config(), fetch());
  AuthOutcome a = auth.authenticate("Bearer " + token("tenant-acme", R"(["tenant-services"])"));
  assert_false(a.ok);
  assert_int_equal(static_cast<int>(a.status), static_cast<int>(Status::kAudienceMismatch));
  assert_true(a.token_presented);
  a = auth.authenticate("Bearer " + token("tenant-acme", R"("tenant-services")"));
  assert_false(a.ok);
  a = auth.authenticate("Bearer " + token("tenant-acme", R"(["tenant-services","realm-sidecar"])"));
  assert_true(a.ok);
  assert_string_equal(a.actor.tenant_id.c_str(), "acme");
  a = auth.authenticate("Bearer " + token("platform", R"("realm-sidecar")"));
  assert_true(a.ok);
  // An authenticator built without audiences refuses, it does not skip the check.
  AuthConfig none = daemon_auth_config();
  none.verifier.claims.audiences.clear();
  RequestAuthenticator open(none, fetch());
  a = open.authenticate("Bearer " + token("tenant-acme", R"(["realm-sidecar"])"));
  assert_false(a.ok);
  assert_int_equal(static_cast<int>(a.status), static_cast<int>(Status::kAudienceMismatch));
}

void audiences_cannot_be_switched_off(void**) {
  Config c;
  std::string error;
  assert_true(
      config_from_vars({{"REALM_SIDECAR_AUDIENCES", ""}, {"REDIS_HOST", ""}}, "", c, error));
  assert_int_equal(c.audiences.size(), 1);
  assert_string_equal(c.audiences[0].c_str(), "realm-sidecar");
  assert_true(
      config_from_vars({{"REALM_SIDECAR_AUDIENCES", " , "}, {"REDIS_HOST", ""}}, "", c, error));
  assert_int_equal(c.audiences.size(), 1);
  assert_true(
      config_from_vars({{"REALM_SIDECAR_AUDIENCES", "a,b"}, {"REDIS_HOST", ""}}, "", c, error));
  assert_int_equal(c.audiences.size(), 2);
}

void tenant_state_honoured(void**) {
  realm_auth::TenantRecordValue record;
  record.state = realm_auth::TenantRecord::kActive;
  bool db_up = true;
  int lookups = 0;
  std::string asked;
  RequestAuthenticator auth(daemon_auth_config(), fetch(),
                            [&](const std::string& id, realm_auth::TenantRecordValue& out) {
                              lookups++;
                              asked = id;
                              out = record;
                              return db_up;
                            });
  const std::string t = "Bearer " + token("tenant-acme", R"(["realm-sidecar"])");
  assert_true(auth.authenticate(t).ok);
  assert_string_equal(asked.c_str(), "acme");
  record.state = realm_auth::TenantRecord::kDisabled;
  AuthOutcome a = auth.authenticate(t);
  assert_false(a.ok);
  assert_int_equal(static_cast<int>(a.status), static_cast<int>(Status::kTenantDisabled));
  assert_false(a.unavailable);
  record.state = realm_auth::TenantRecord::kAbsent;  // no row, no tombstone
  a = auth.authenticate(t);
  assert_false(a.ok);
  assert_int_equal(static_cast<int>(a.status), static_cast<int>(Status::kTenantUnknown));
  record.state = realm_auth::TenantRecord::kActive;
  db_up = false;
  a = auth.authenticate(t);
  assert_false(a.ok);
  assert_true(a.unavailable);  // 503, fail closed
  db_up = true;
  // Platform tokens name no tenant: no lookup.
  const int before = lookups;
  assert_true(auth.authenticate("Bearer " + token("platform", R"(["realm-sidecar"])")).ok);
  assert_int_equal(lookups, before);
  // The record is read before any key (a deleted or made-up tenant costs
  // no key fetch), so a token for another audience costs one lookup and is
  // still refused for its audience.
  a = auth.authenticate("Bearer " + token("tenant-acme", R"(["tenant-services"])"));
  assert_int_equal(static_cast<int>(a.status), static_cast<int>(Status::kAudienceMismatch));
  assert_int_equal(lookups, before + 1);
}

// Signing-key rotation: a token signed with a key the realm published after
// our last fetch passes at once (one forced refetch), however recently the
// keys were fetched; made-up kids still cost at most one refetch per
// refetch_interval.
void rotated_key_accepted_at_once(void**) {
  realm_auth::EvpPkeyPtr k2 = realm_auth::test::generate_key(realm_auth::Alg::kRS256);
  std::string doc = jwks_doc();
  int fetches = 0;
  RequestAuthenticator auth(daemon_auth_config(), [&](const std::string&, bool) {
    fetches++;
    realm_auth::JwksFetchOutcome o;
    o.status = Status::kOk;
    o.body = doc;
    return o;
  });
  assert_true(auth.authenticate("Bearer " + token("tenant-acme", R"(["realm-sidecar"])")).ok);
  assert_int_equal(fetches, 1);
  // The realm rotates: k2 is published (and signs) a moment later.
  doc = "{\"keys\":[" +
        realm_auth::test::public_jwk(realm_auth::test::shared_rsa_key(), "k1", "RS256") + "," +
        realm_auth::test::public_jwk(k2.get(), "k2", "RS256") + "]}";
  const long long now = static_cast<long long>(std::time(nullptr));
  auto signed_by = [&](EVP_PKEY* key, const std::string& kid) {
    std::string payload =
        "{\"iss\":\"" + std::string(kKc) +
        "/realms/tenant-acme\",\"sub\":\"u-1\",\"exp\":" + std::to_string(now + 300) +
        ",\"iat\":" + std::to_string(now) + ",\"aud\":\"realm-sidecar\"}";
    return "Bearer " + realm_auth::test::make_token(
                           realm_auth::Alg::kRS256, key,
                           "{\"alg\":\"RS256\",\"kid\":\"" + kid + "\",\"typ\":\"JWT\"}", payload);
  };
  AuthOutcome a = auth.authenticate(signed_by(k2.get(), "k2"));
  if (!a.ok) fail_msg("new key refused: %s", realm_auth::status_name(a.status));
  assert_int_equal(fetches, 2);
  assert_true(auth.authenticate(signed_by(k2.get(), "k2")).ok);
  assert_int_equal(fetches, 2);  // known now: no fetch
  // Made-up kids: the refetch just happened, so none within the interval.
  for (int i = 0; i < 5; i++) {
    a = auth.authenticate(signed_by(k2.get(), "made-up-" + std::to_string(i)));
    assert_false(a.ok);
    assert_int_equal(static_cast<int>(a.status), static_cast<int>(Status::kKeyNotFound));
  }
  assert_int_equal(fetches, 2);
}

// The one mapping from a tenants row to the record both nginx (through
// Redis) and the sidecar's token check apply (store/tenant_store.h).
void record_of_row_status(void**) {
  TenantRow row;
  row.incarnation_id = "2f1c0d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f";
  row.incarnation_started_at = 1764579600;
  for (TenantStatus s : {TenantStatus::kActive, TenantStatus::kProvisioning}) {
    row.status = s;
    assert_true(tenant_info(row).state == realm_auth::TenantRecord::kActive);
  }
  row.status = TenantStatus::kDisabled;
  assert_true(tenant_info(row).state == realm_auth::TenantRecord::kDisabled);
  for (TenantStatus s : {TenantStatus::kDeleting, TenantStatus::kFailed}) {
    row.status = s;
    assert_true(tenant_info(row).state == realm_auth::TenantRecord::kDeleted);
  }
  assert_int_equal(tenant_info(row).incarnation_start, 1764579600);
  assert_string_equal(tenant_info(row).incarnation_id.c_str(), row.incarnation_id.c_str());
}

void forwarded_headers_only_from_the_proxy(void**) {
  const std::vector<std::string> proxies{"127.0.0.1"};
  HttpRequest r;
  r.headers.emplace("x-real-ip", "203.0.113.9");
  r.headers.emplace("x-request-id", "abc123");
  apply_forwarded(r, "127.0.0.1", proxies);
  assert_string_equal(r.client_ip.c_str(), "203.0.113.9");
  assert_string_equal(r.request_id.c_str(), "abc123");
  // Any other local process: its claims about client and request are ignored.
  HttpRequest o = r;
  apply_forwarded(o, "127.0.0.2", proxies);
  assert_string_equal(o.client_ip.c_str(), "127.0.0.2");
  assert_string_not_equal(o.request_id.c_str(), "abc123");
  assert_int_equal(o.request_id.size(), 32);
  HttpRequest none = r;
  apply_forwarded(none, "127.0.0.1", {});
  assert_string_equal(none.client_ip.c_str(), "127.0.0.1");
  // Even from the proxy: an unsafe request id is replaced, a long X-Real-IP ignored.
  HttpRequest bad = r;
  bad.headers.clear();
  bad.headers.emplace("x-request-id", "a b\r\n");
  bad.headers.emplace("x-real-ip", std::string(100, '1'));
  apply_forwarded(bad, "127.0.0.1", proxies);
  assert_string_not_equal(bad.request_id.c_str(), "a b\r\n");
  assert_string_equal(bad.client_ip.c_str(), "127.0.0.1");
  Config c;
  std::string error;
  assert_true(config_from_vars(
      {{"REALM_SIDECAR_TRUSTED_PROXY", "127.0.0.5, 127.0.0.6"}, {"REDIS_HOST", ""}}, "", c, error));
  assert_int_equal(c.trusted_proxies.size(), 2);
  assert_string_equal(c.trusted_proxies[1].c_str(), "127.0.0.6");
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(audience_checked_by_default),
      cmocka_unit_test(audiences_cannot_be_switched_off),
      cmocka_unit_test(tenant_state_honoured),
      cmocka_unit_test(record_of_row_status),
      cmocka_unit_test(forwarded_headers_only_from_the_proxy),
      cmocka_unit_test(rotated_key_accepted_at_once),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
