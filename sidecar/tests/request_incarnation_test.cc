// The sidecar's own token check (auth/request_identity.h), per tenant
// incarnation: tenant tokens against their tenant's record (state and
// incarnation), and the JWKS cache per incarnation (request_identity_test.cc
// has the audience, tenant state and forwarded-header cases). Tokens are signed with a test key;
// the JWKS fetch and the tenant lookup are replaced by counters over fixed answers.
#include <string>

#include "auth/request_identity.h"
#include "cmocka_cxx.h"
#include "test_support.h"

using namespace realm_sidecar;
using realm_auth::Status;
using realm_auth::TenantRecord;
using realm_auth::TenantRecordValue;

namespace {

constexpr char kBase[] = "http://kc.test/realms/";
constexpr char kInc1[] = "2f1c0d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f";
constexpr char kInc2[] = "9e8d7c6b-5a49-4837-a625-14f3e2d1c0b9";

struct World {
  int fetches = 0;
  int lookups = 0;
  bool db_up = true;
  TenantRecordValue record;
  std::string kid = "k1";
  realm_auth::EvpPkeyPtr second_key;  // the "new realm's" key when set

  EVP_PKEY* signing_key() const {
    return second_key ? second_key.get() : realm_auth::test::shared_rsa_key();
  }
};

RequestAuthenticator make(World& w) {
  AuthConfig c;
  std::vector<std::string> patterns = {std::string(kBase) + "platform",
                                       std::string(kBase) + "tenant-*"};
  std::string error;
  assert_true(parse_issuer_patterns(patterns, c.verifier.issuers, error));
  c.verifier.claims.audiences = {"realm-sidecar"};  // the daemon's default
  return RequestAuthenticator(
      c,
      [&w](const std::string&, bool) {
        w.fetches++;
        realm_auth::JwksFetchOutcome o;
        o.status = Status::kOk;
        o.body =
            "{\"keys\":[" + realm_auth::test::public_jwk(w.signing_key(), w.kid, "RS256") + "]}";
        return o;
      },
      [&w](const std::string& slug, TenantRecordValue& out) {
        w.lookups++;
        assert_string_equal(slug.c_str(), "acme");
        out = w.record;
        return w.db_up;
      });
}

std::string bearer(const World& w, const std::string& realm, long long iat, EVP_PKEY* key = nullptr,
                   const std::string& kid = "") {
  long long now = static_cast<long long>(std::time(nullptr));
  std::string header =
      "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"kid\":\"" + (kid.empty() ? w.kid : kid) + "\"}";
  std::string payload =
      "{\"iss\":\"" + std::string(kBase) + realm +
      "\",\"sub\":\"u1\",\"aud\":\"realm-sidecar\",\"exp\":" + std::to_string(now + 300) +
      (iat ? ",\"iat\":" + std::to_string(iat) : std::string()) + "}";
  return "Bearer " + realm_auth::test::make_token(realm_auth::Alg::kRS256,
                                                  key ? key : w.signing_key(), header, payload);
}

TenantRecordValue record(TenantRecord state, long long start, const char* id) {
  TenantRecordValue i;
  i.state = state;
  i.incarnation_start = start;
  i.incarnation_id = id;
  return i;
}

const long long kNow = static_cast<long long>(std::time(nullptr));

void current_incarnation_accepted(void**) {
  World w;
  w.record = record(TenantRecord::kActive, kNow - 100, kInc1);
  RequestAuthenticator auth = make(w);
  AuthOutcome a = auth.authenticate(bearer(w, "tenant-acme", kNow - 10));
  assert_status(a.status, Status::kOk);
  assert_string_equal(a.actor.tenant_id.c_str(), "acme");
  assert_string_equal(a.actor.tenant_incarnation.c_str(), kInc1);
  assert_int_equal(w.lookups, 1);
}

void earlier_incarnation_refused_as_deleted(void**) {
  World w;
  w.record = record(TenantRecord::kActive, kNow - 100, kInc2);
  RequestAuthenticator auth = make(w);
  AuthOutcome a = auth.authenticate(bearer(w, "tenant-acme", kNow - 200));
  assert_false(a.ok);
  assert_status(a.status, Status::kTenantDeleted);
  assert_string_equal(a.detail.c_str(), "tenant deleted");
  // No iat: cannot show it belongs to this incarnation.
  a = auth.authenticate(bearer(w, "tenant-acme", 0));
  assert_status(a.status, Status::kTenantDeleted);
}

void deleted_disabled_unknown(void**) {
  World w;
  RequestAuthenticator auth = make(w);
  w.record = record(TenantRecord::kDeleted, kNow - 100, kInc1);
  AuthOutcome a = auth.authenticate(bearer(w, "tenant-acme", kNow - 10));
  assert_status(a.status, Status::kTenantDeleted);
  assert_int_equal(w.fetches, 0);  // no key fetch for a deleted tenant
  w.record = record(TenantRecord::kDisabled, kNow - 100, kInc1);
  a = auth.authenticate(bearer(w, "tenant-acme", kNow - 10));
  assert_status(a.status, Status::kTenantDisabled);
  w.record = TenantRecordValue{};  // no row, no tombstone
  a = auth.authenticate(bearer(w, "tenant-acme", kNow - 10));
  assert_status(a.status, Status::kTenantUnknown);
  assert_int_equal(w.fetches, 0);
  w.record = record(TenantRecord::kActive, kNow - 100, kInc1);
  w.db_up = false;
  a = auth.authenticate(bearer(w, "tenant-acme", kNow - 10));
  assert_false(a.ok);  // fail closed: 503
  assert_true(a.unavailable);
}

void platform_tokens_need_no_record(void**) {
  World w;
  RequestAuthenticator auth = make(w);
  AuthOutcome a = auth.authenticate(bearer(w, "platform", kNow - 10));
  assert_status(a.status, Status::kOk);
  assert_int_equal(w.lookups, 0);
  assert_true(a.actor.tenant_incarnation.empty());
}

// The slug comes back with a new realm (new key, maybe the same kid): the
// cached keys of the old incarnation are not used for the new one, and the
// old realm's token is refused as deleted, not as an unknown signer.
void keys_cached_per_incarnation(void**) {
  World w;
  w.record = record(TenantRecord::kActive, kNow - 1000, kInc1);
  RequestAuthenticator auth = make(w);
  std::string old_token = bearer(w, "tenant-acme", kNow - 500);
  assert_status(auth.authenticate(old_token).status, Status::kOk);
  assert_int_equal(w.fetches, 1);

  w.record = record(TenantRecord::kActive, kNow - 100, kInc2);
  w.second_key = realm_auth::test::generate_key(realm_auth::Alg::kRS256);
  w.kid = "k2";
  AuthOutcome a = auth.authenticate(bearer(w, "tenant-acme", kNow - 10));
  assert_status(a.status, Status::kOk);
  assert_int_equal(w.fetches, 2);  // a fresh entry for the new incarnation, within the TTL
  a = auth.authenticate(old_token);
  assert_status(a.status, Status::kTenantDeleted);
  // The same kid reused by the new realm: the old key is gone from the cache.
  w.kid = "k1";
  w.record = record(TenantRecord::kActive, kNow - 50, "aaaaaaaa-0000-4000-8000-000000000003");
  a = auth.authenticate(bearer(w, "tenant-acme", kNow - 10));
  assert_status(a.status, Status::kOk);
  a = auth.authenticate(old_token);  // kid k1, old key, signature no longer matches
  assert_false(a.ok);
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(current_incarnation_accepted),
      cmocka_unit_test(earlier_incarnation_refused_as_deleted),
      cmocka_unit_test(deleted_disabled_unknown),
      cmocka_unit_test(platform_tokens_need_no_record),
      cmocka_unit_test(keys_cached_per_incarnation),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
