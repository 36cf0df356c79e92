// POST /backchannel-logout/{tenant}: a genuine logout token ends its session
// (one revocation record, two ledger rows, 200 no-store); a replay, a hostile
// or misdirected token, an unknown or disabled tenant, a token of an earlier
// incarnation are 400 and change nothing; a failing dependency is 503 and
// leaves the jti free for a retry. Tokens are signed with core's test key;
// keys, tenants, the replay cache, the publisher and the ledger are fakes.
#include "revocation/backchannel_logout.h"

#include <cstring>
#include <ctime>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "sidecar_test.h"
#include "test_support.h"

using namespace realm_sidecar;
using realm_auth::RevocationKind;
using realm_auth::RevocationRecord;
using realm_auth::Status;

namespace {

const char kKc[] = "https://kc.test";
const int64_t kNow = 1764579600;

struct FakeJtis : JtiCache {
  std::set<std::string> seen;
  bool down = false;
  Claim claim(const std::string& iss, const std::string& jti, int64_t) override {
    if (down) return Claim::kError;
    return seen.insert(iss + " " + jti).second ? Claim::kNew : Claim::kSeen;
  }
  void release(const std::string& iss, const std::string& jti) override {
    seen.erase(iss + " " + jti);
  }
};

struct FakePublisher : RevocationPublisher {
  std::vector<RevocationRecord> published;
  bool down = false;
  bool publish(const RevocationRecord& r, std::string& error) override {
    if (down) {
      error = "PostgreSQL unavailable";
      return false;
    }
    published.push_back(r);
    return true;
  }
  RevocationRecord make(RevocationKind kind, const std::string& tenant,
                        const std::string& subject) const override {
    RevocationRecord r;
    r.kind = kind;
    r.tenant = tenant;
    r.subject = subject;
    r.not_before = kNow + 1;
    r.expires = kNow + 360;
    return r;
  }
};

struct FakeLedger : AuditLedger {
  std::vector<AuditEvent> rows;
  bool down = false;
  bool append(const AuditEvent& e) override {
    if (down) return false;
    rows.push_back(e);
    return true;
  }
  bool tail(const std::string&, const std::string&, int, std::vector<AuditRow>&) override {
    return false;
  }
  bool verify(int64_t&, int64_t&, std::string&) override { return false; }
};

struct World {
  FakeJtis jtis;
  FakePublisher pub;
  FakeLedger ledger;
  int fetches = 0;
  bool tenants_down = false;
  std::map<std::string, realm_auth::TenantRecordValue> tenants;
  std::unique_ptr<RequestAuthenticator> auth;
  std::unique_ptr<BackchannelLogout> bcl;

  World() {
    realm_auth::TenantRecordValue active;
    active.state = realm_auth::TenantRecord::kActive;
    active.incarnation_start = kNow - 3600;
    active.incarnation_id = "2f1c0d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f";
    tenants["demo"] = active;
    tenants["other"] = active;
    realm_auth::TenantRecordValue off = active;
    off.state = realm_auth::TenantRecord::kDisabled;
    tenants["off"] = off;

    AuthConfig ac;
    ac.verifier.claims.audiences = {"realm-sidecar"};
    auth = std::make_unique<RequestAuthenticator>(ac, [this](const std::string&, bool) {
      fetches++;
      realm_auth::JwksFetchOutcome o;
      o.status = Status::kOk;
      o.body = "{\"keys\":[" +
               realm_auth::test::public_jwk(realm_auth::test::shared_rsa_key(), "k1", "RS256") +
               "]}";
      return o;
    });
    realm_auth::LogoutTokenRules rules;
    realm_auth::IssuerPattern p;
    std::string error;
    assert_true(realm_auth::IssuerPattern::parse(std::string(kKc) + "/realms/tenant-*", p, error));
    rules.issuers.push_back(p);
    assert_true(realm_auth::IssuerPattern::parse(std::string(kKc) + "/realms/platform", p, error));
    rules.issuers.push_back(p);
    rules.audiences = {"admin-console"};
    bcl = std::make_unique<BackchannelLogout>(
        rules, BackchannelDeps{*auth,
                               [this](const std::string& slug, realm_auth::TenantRecordValue& out) {
                                 if (tenants_down) return false;
                                 auto it = tenants.find(slug);
                                 out = it == tenants.end() ? realm_auth::TenantRecordValue{}
                                                           : it->second;
                                 return true;
                               },
                               jtis, pub, ledger, [] { return kNow; }});
  }

  HttpResponse post(const std::string& tenant, const std::string& body,
                    const std::string& content_type = "application/x-www-form-urlencoded") {
    HttpRequest r;
    r.method = "POST";
    r.path = "/backchannel-logout/" + tenant;
    r.headers.emplace("content-type", content_type);
    r.body = body;
    r.request_id = "req-1";
    return bcl->handle(r, tenant);
  }
};

std::string logout_token(const std::string& tenant = "demo", const std::string& jti = "j-1",
                         const std::string& extra = R"("sid":"sid-1","sub":"u-1")",
                         int64_t iat = kNow, const std::string& typ = "logout+jwt") {
  const std::string payload = "{\"iss\":\"" + std::string(kKc) + "/realms/tenant-" + tenant +
                              "\",\"aud\":\"admin-console\",\"iat\":" + std::to_string(iat) +
                              ",\"exp\":" + std::to_string(iat + 300) + ",\"jti\":\"" + jti +
                              "\",\"typ\":\"Logout\",\"events\":{\"http://schemas.openid.net/event/"
                              "backchannel-logout\":{}}" +
                              (extra.empty() ? "" : "," + extra) + "}";
  return realm_auth::test::make_token(realm_auth::Alg::kRS256, realm_auth::test::shared_rsa_key(),
                                      R"({"alg":"RS256","kid":"k1","typ":")" + typ + "\"}",
                                      payload);
}

std::string detail(const HttpResponse& r) { return get_str(must_parse(r.body).get(), {"detail"}); }

void assert_refused(World& w, const HttpResponse& r, int status, const char* detail_part) {
  assert_int_equal(r.status, status);
  assert_non_null(strstr(r.body.c_str(), detail_part));
  (void)w;
}

void genuine_logout_ends_the_session(void**) {
  World w;
  HttpResponse r = w.post("demo", "logout_token=" + logout_token());
  assert_int_equal(r.status, 200);
  // Cache-Control: no-store comes from the server (every response); a
  // second one here would be a duplicate header (t/e2e/037 checks it).
  for (const auto& h : r.headers) assert_string_not_equal(h.first.c_str(), "Cache-Control");
  assert_int_equal(w.pub.published.size(), 1);
  assert_true(w.pub.published[0].kind == RevocationKind::kSession);
  assert_string_equal(w.pub.published[0].tenant.c_str(), "demo");
  assert_string_equal(w.pub.published[0].subject.c_str(), "sid-1");
  assert_int_equal(w.ledger.rows.size(), 2);
  assert_string_equal(w.ledger.rows[0].event_type.c_str(), "REQUEST");
  assert_string_equal(w.ledger.rows[1].event_type.c_str(), "SESSIONS_REVOKED");
  for (const AuditEvent& e : w.ledger.rows) {
    assert_string_equal(e.actor_id.c_str(), "tenant-demo");  // the realm acts
    assert_string_equal(e.actor_realm.c_str(), "tenant-demo");
    assert_string_equal(e.tenant_id.c_str(), "demo");
    assert_string_equal(e.action.c_str(), "session.logout");
    assert_string_equal(e.request_id.c_str(), "req-1");
  }
  JsonPtr d = must_parse(w.ledger.rows[1].details_json);
  assert_string_equal(get_str(d.get(), {"revoked"}).c_str(), "session");
  assert_string_equal(get_str(d.get(), {"subject"}).c_str(), "sid-1");
  assert_string_equal(get_str(d.get(), {"sub"}).c_str(), "u-1");
  // The token itself is nowhere in the ledger.
  for (const AuditEvent& e : w.ledger.rows) {
    assert_null(strstr(e.details_json.c_str(), "eyJ"));
  }
}

void sub_only_revokes_the_user(void**) {
  World w;
  HttpResponse r = w.post("demo", "logout_token=" + logout_token("demo", "j-2", R"("sub":"u-9")"));
  assert_int_equal(r.status, 200);
  assert_int_equal(w.pub.published.size(), 1);
  assert_true(w.pub.published[0].kind == RevocationKind::kUser);
  assert_string_equal(w.pub.published[0].subject.c_str(), "u-9");
}

void replay_is_refused(void**) {
  World w;
  const std::string body = "logout_token=" + logout_token();
  assert_int_equal(w.post("demo", body).status, 200);
  HttpResponse again = w.post("demo", body);
  assert_int_equal(again.status, 400);
  assert_string_equal(detail(again).c_str(), "logout token refused: jti already used (replay)");
  assert_string_equal(get_str(must_parse(again.body).get(), {"field"}).c_str(), "logout_token");
  assert_string_equal(again.content_type.c_str(), "application/problem+json");
  assert_int_equal(w.pub.published.size(), 1);
  assert_int_equal(w.ledger.rows.size(), 2);
}

// Each refusal: 400, its own detail, nothing published, no ledger row.
void hostile_requests_change_nothing(void**) {
  struct Case {
    std::string tenant, body, content_type, detail;
  };
  const std::string form = "application/x-www-form-urlencoded";
  const std::vector<Case> cases = {
      {"demo", "logout_token=" + logout_token(), "application/json", "x-www-form-urlencoded"},
      {"demo", "", form, "logout_token required"},
      {"demo", "token=" + logout_token(), form, "logout_token required"},
      {"demo", "logout_token=" + logout_token() + "&logout_token=" + logout_token(), form,
       "more than once"},
      {"demo", "logout_token=%zz", form, "not form-encoded"},
      // An access token of the same realm, same key.
      {"demo", "logout_token=" + logout_token("demo", "j", R"("sid":"s")", kNow, "JWT"), form,
       "typ must be logout+jwt"},
      // Another tenant's token at this tenant's endpoint.
      {"demo", "logout_token=" + logout_token("other"), form, "not the realm of tenant 'demo'"},
      {"ghost", "logout_token=" + logout_token("ghost"), form, "tenant 'ghost' is unknown"},
      {"off", "logout_token=" + logout_token("off"), form, "tenant 'off' is disabled"},
      {"demo", "logout_token=" + logout_token("demo", "j", R"("sid":"s","nonce":"n")"), form,
       "nonce is not allowed"},
      {"demo", "logout_token=" + logout_token("demo", "j", ""), form, "sid or sub required"},
      {"demo", "logout_token=" + logout_token("demo", "j", R"("sid":"s")", kNow - 600), form,
       "iat outside the accepted window"},
      {"demo", "logout_token=" + realm_auth::test::tamper_signature(logout_token()), form,
       "signature invalid"},
  };
  for (const Case& c : cases) {
    World w;
    HttpResponse r = w.post(c.tenant, c.body, c.content_type);
    if (r.status != 400 || strstr(r.body.c_str(), c.detail.c_str()) == nullptr) {
      fail_msg("%s: %d %s (wanted %s)", c.tenant.c_str(), r.status, r.body.c_str(),
               c.detail.c_str());
    }
    assert_int_equal(w.pub.published.size(), 0);
    assert_int_equal(w.ledger.rows.size(), 0);
    assert_int_equal(w.jtis.seen.size(), 0);
  }
  // Unknown and disabled tenants cost no key fetch.
  World w;
  w.post("ghost", "logout_token=" + logout_token("ghost"));
  w.post("off", "logout_token=" + logout_token("off"));
  assert_int_equal(w.fetches, 0);
}

void earlier_incarnation_is_refused(void**) {
  World w;
  w.tenants["demo"].incarnation_start = kNow + 5;  // the slug came back after this iat
  HttpResponse r = w.post("demo", "logout_token=" + logout_token());
  assert_refused(w, r, 400, "earlier incarnation");
  assert_int_equal(w.pub.published.size(), 0);
}

void failing_dependencies_are_503_and_retryable(void**) {
  const std::string body = "logout_token=" + logout_token();
  {
    World w;
    w.tenants_down = true;
    assert_refused(w, w.post("demo", body), 503, "tenant store is unavailable");
  }
  {
    World w;
    w.jtis.down = true;
    assert_refused(w, w.post("demo", body), 503, "replay cache is unavailable");
    assert_int_equal(w.pub.published.size(), 0);
  }
  {
    World w;
    w.ledger.down = true;
    assert_refused(w, w.post("demo", body), 503, "audit ledger is unavailable");
    assert_int_equal(w.pub.published.size(), 0);
    w.ledger.down = false;
    assert_int_equal(w.post("demo", body).status, 200);  // the jti was released
  }
  {
    World w;
    w.pub.down = true;
    assert_refused(w, w.post("demo", body), 503, "revocation could not be recorded");
    // The failure is on the ledger: REQUEST then PROVISIONING_FAILED.
    assert_int_equal(w.ledger.rows.size(), 2);
    assert_string_equal(w.ledger.rows[1].event_type.c_str(), "PROVISIONING_FAILED");
    w.pub.down = false;
    assert_int_equal(w.post("demo", body).status, 200);
    assert_int_equal(w.pub.published.size(), 1);
  }
}

void form_parsing(void**) {
  std::string out, error;
  assert_true(form_logout_token("a=1&logout_token=x.y.z&b", out, error));
  assert_string_equal(out.c_str(), "x.y.z");
  assert_true(form_logout_token("logout_token=a%2Eb%2ec", out, error));
  assert_string_equal(out.c_str(), "a.b.c");
  assert_false(form_logout_token("logout_token=", out, error));
  assert_false(form_logout_token("logout_token", out, error));
  assert_false(form_logout_token("logout_token=a%2", out, error));
  assert_false(form_logout_token("logout_token=a&logout_token=a", out, error));
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(genuine_logout_ends_the_session),
      cmocka_unit_test(sub_only_revokes_the_user),
      cmocka_unit_test(replay_is_refused),
      cmocka_unit_test(hostile_requests_change_nothing),
      cmocka_unit_test(earlier_incarnation_is_refused),
      cmocka_unit_test(failing_dependencies_are_503_and_retryable),
      cmocka_unit_test(form_parsing),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
