// Logout tokens (OpenID Connect Back-Channel Logout 1.0): a genuine
// Keycloak-shaped token passes; every hostile variant is refused with its
// own reason, and the signature is checked before any claim.
#include "logout_token.h"

#include <cstring>
#include <string>

#include "cmocka_cxx.h"
#include "test_support.h"

using namespace realm_auth;
using namespace realm_auth::test;

namespace {

constexpr int64_t kNow = 1700000000;
constexpr char kIss[] = "http://localhost:8080/realms/tenant-demo";
constexpr char kEvent[] = R"("events":{"http://schemas.openid.net/event/backchannel-logout":{}})";

#define assert_logout(actual, expected) \
  assert_string_equal(logout_result_name(actual).c_str(), expected)

LogoutTokenRules rules() {
  LogoutTokenRules r;
  IssuerPattern p;
  std::string error;
  assert_true(IssuerPattern::parse("http://localhost:8080/realms/tenant-*", p, error));
  r.issuers.push_back(p);
  assert_true(IssuerPattern::parse("http://localhost:8080/realms/platform", p, error));
  r.issuers.push_back(p);
  r.audiences = {"admin-console"};
  return r;
}

std::string header(const std::string& typ = "logout+jwt", const std::string& kid = "k1") {
  std::string h = R"({"alg":"RS256",)";
  if (!typ.empty()) h += R"("typ":")" + typ + R"(",)";
  return h + R"("kid":")" + kid + "\"}";
}

// Keycloak 26's logout token, members replaceable: `drop` removes one by
// name, `extra` appends.
std::string claims(const std::string& drop = "", const std::string& extra = "",
                   int64_t iat = kNow) {
  struct M {
    const char* name;
    std::string json;
  };
  const M members[] = {
      {"iat", std::to_string(iat)},
      {"exp", std::to_string(iat + 300)},
      {"jti", R"("9b7d4c1e-1111-4aaa-8bbb-123456789abc")"},
      {"iss", std::string("\"") + kIss + "\""},
      {"aud", R"("admin-console")"},
      {"sub", R"("0f6c5a1e-2222-4ccc-8ddd-abcdefabcdef")"},
      {"typ", R"("Logout")"},
      {"sid", R"("5c2b9a7d-3333-4eee-8fff-fedcbafedcba")"},
  };
  std::string out = "{";
  for (const M& m : members) {
    if (drop == m.name) continue;
    if (out.size() > 1) out += ',';
    out += std::string("\"") + m.name + "\":" + m.json;
  }
  if (drop != "events") out += std::string(out.size() > 1 ? "," : "") + kEvent;
  if (!extra.empty()) out += "," + extra;
  return out + "}";
}

std::shared_ptr<const Jwks> keys() {
  static std::shared_ptr<const Jwks> k = [] {
    std::shared_ptr<const Jwks> out;
    assert_status(
        Jwks::parse(R"({"keys":[)" + public_jwk(shared_rsa_key(), "k1", "RS256") + "]}", out),
        Status::kOk);
    return out;
  }();
  return k;
}

std::string sign(const std::string& h, const std::string& c) {
  return make_token(Alg::kRS256, shared_rsa_key(), h, c);
}

LogoutResult run(const std::string& token, LogoutClaims& out, const LogoutTokenRules& r = rules(),
                 int64_t now = kNow) {
  InspectedLogoutToken t;
  LogoutResult res = inspect_logout_token(token, r, t);
  if (!res.ok()) return res;
  return verify_logout_token(t, *keys(), r, now, out);
}

LogoutResult run(const std::string& token, int64_t now = kNow) {
  LogoutClaims c;
  return run(token, c, rules(), now);
}

void genuine_token_passes(void**) {
  LogoutClaims c;
  assert_logout(run(sign(header(), claims()), c), "ok");
  assert_string_equal(c.tenant_id.c_str(), "demo");
  assert_string_equal(c.realm.c_str(), "tenant-demo");
  assert_string_equal(c.issuer.c_str(), kIss);
  assert_string_equal(c.client.c_str(), "admin-console");
  assert_string_equal(c.sid.c_str(), "5c2b9a7d-3333-4eee-8fff-fedcbafedcba");
  assert_string_equal(c.sub.c_str(), "0f6c5a1e-2222-4ccc-8ddd-abcdefabcdef");
  assert_string_equal(c.jti.c_str(), "9b7d4c1e-1111-4aaa-8bbb-123456789abc");
  assert_int_equal(c.iat, kNow);
  assert_int_equal(c.exp, kNow + 300);
  // sid alone, sub alone, aud as a list, no exp, no typ claim, the full
  // media type: all valid.
  assert_logout(run(sign(header(), claims("sub"))), "ok");
  assert_logout(run(sign(header(), claims("sid"))), "ok");
  assert_logout(run(sign(header(), claims("exp"))), "ok");
  assert_logout(run(sign(header(), claims("typ"))), "ok");
  assert_logout(run(sign(header("application/logout+jwt"), claims())), "ok");
  assert_logout(run(sign(header("Logout+JWT"), claims())), "ok");
  assert_logout(run(sign(header(), claims("aud", R"("aud":["other","admin-console"])"))), "ok");
  // A token issued within the leeway ahead of our clock.
  assert_logout(run(sign(header(), claims()), kNow - 30), "ok");
}

// The other tokens the same realm signs with the same keys.
void access_and_id_tokens_are_not_logout_tokens(void**) {
  // An access token: header typ JWT, claim typ Bearer.
  assert_logout(run(sign(header("JWT"), claims())), "typ_not_logout");
  assert_logout(run(sign(header(""), claims())), "typ_not_logout");
  assert_logout(run(sign(header("at+jwt"), claims())), "typ_not_logout");
  assert_logout(run(sign(header("logout+jwt "), claims())), "typ_not_logout");
  // Right header, wrong claim typ (an ID or access token relabelled).
  assert_logout(run(sign(header(), claims("typ", R"("typ":"ID")"))), "typ_not_logout");
  assert_logout(run(sign(header(), claims("typ", R"("typ":"Bearer")"))), "typ_not_logout");
  assert_logout(run(sign(header(), claims("typ", R"("typ":7)"))), "typ_not_logout");
  // An ID token carries a nonce.
  assert_logout(run(sign(header(), claims("", R"("nonce":"n-1")"))), "nonce_present");
  assert_logout(run(sign(header(), claims("", R"("nonce":null)"))), "nonce_present");
  // And the other way round: a logout token never authorizes a request.
  Jwt j;
  assert_status(parse_jwt(sign(header(), claims()), ParseLimits{}, kAllAlgs, j),
                Status::kTypNotAllowed);
  assert_status(parse_jwt(sign(header("JWT"), claims()), ParseLimits{}, kAllAlgs, j),
                Status::kTypNotAllowed);  // the claim typ Logout
}

void signature_first(void**) {
  const std::string good = sign(header(), claims());
  assert_logout(run(tamper_signature(good)), "signature_invalid");
  // Claims changed under a genuine signature: another session, another tenant.
  assert_logout(run(replace_payload(good, claims("sid", R"("sid":"someone-else")"))),
                "signature_invalid");
  assert_logout(run(replace_payload(good, claims("", R"("nonce":"x")"))), "signature_invalid");
  // Signed by a key the realm does not have.
  EvpPkeyPtr other = generate_key(Alg::kES256);
  const std::string es = make_token(Alg::kES256, other.get(),
                                    R"({"alg":"ES256","typ":"logout+jwt","kid":"k1"})", claims());
  assert_logout(run(es), "key_mismatch");
  assert_logout(run(sign(header("logout+jwt", "k2"), claims())), "key_not_found");
  // alg none / HMAC never reach a key.
  assert_logout(run(b64(R"({"alg":"none","typ":"logout+jwt","kid":"k1"})") + "." + b64(claims()) +
                    "." + b64("x")),
                "alg_not_allowed");
  assert_logout(run(b64(R"({"alg":"HS256","typ":"logout+jwt","kid":"k1"})") + "." + b64(claims()) +
                    "." + b64("x")),
                "alg_not_allowed");
  assert_logout(run("not-a-token"), "token_malformed");
  assert_logout(run(std::string(9000, 'a') + ".b.c"), "token_too_large");
}

void issuer_rules(void**) {
  assert_logout(run(sign(header(), claims("iss"))), "issuer_missing");
  assert_logout(run(sign(header(), claims("iss", R"("iss":42)"))), "issuer_missing");
  // The platform realm is allowed for access tokens, never for logout here.
  assert_logout(
      run(sign(header(), claims("iss", R"("iss":"http://localhost:8080/realms/platform")"))),
      "issuer_not_allowed");
  assert_logout(
      run(sign(header(), claims("iss", R"("iss":"http://evil:8080/realms/tenant-demo")"))),
      "issuer_not_allowed");
  assert_logout(
      run(sign(header(), claims("iss", R"("iss":"http://localhost:8080/realms/tenant-Demo")"))),
      "issuer_not_allowed");
}

void audience_rules(void**) {
  assert_logout(run(sign(header(), claims("aud"))), "audience_mismatch");
  assert_logout(run(sign(header(), claims("aud", R"("aud":"tenant-services")"))),
                "audience_mismatch");
  assert_logout(run(sign(header(), claims("aud", R"("aud":["admin-console",3])"))),
                "audience_mismatch");
  assert_logout(run(sign(header(), claims("aud", R"("aud":{"admin-console":1})"))),
                "audience_mismatch");
  // No configured audience: nothing passes.
  LogoutTokenRules none = rules();
  none.audiences.clear();
  LogoutClaims c;
  assert_logout(run(sign(header(), claims()), c, none), "audience_mismatch");
}

void time_rules(void**) {
  assert_logout(run(sign(header(), claims("iat"))), "iat_invalid");
  assert_logout(run(sign(header(), claims("iat", R"("iat":"1700000000")"))), "iat_invalid");
  assert_logout(run(sign(header(), claims("iat", R"("iat":1e300)"))), "iat_invalid");
  assert_logout(run(sign(header(), claims("iat", R"("iat":-5)"))), "iat_invalid");
  // Older than the window (a captured token kept for later) and far ahead.
  assert_logout(run(sign(header(), claims("", "", kNow - 121))), "iat_out_of_window");
  assert_logout(run(sign(header(), claims("", "", kNow - 120))), "ok");
  assert_logout(run(sign(header(), claims("", "", kNow + 31))), "iat_out_of_window");
  // exp when present.
  assert_logout(run(sign(header(), claims("exp", R"("exp":1699999900)"))), "expired");
  assert_logout(run(sign(header(), claims("exp", R"("exp":"soon")"))), "expired");
}

void event_rules(void**) {
  assert_logout(run(sign(header(), claims("events"))), "event_missing");
  const char* bad[] = {
      R"("events":[])",
      R"("events":"http://schemas.openid.net/event/backchannel-logout")",
      R"("events":{"http://schemas.openid.net/event/backchannel-logout":true})",
      R"("events":{"http://schemas.openid.net/event/backchannel-logout":"{}"})",
      R"("events":{"http://schemas.openid.net/event/backchannel-logout/":{}})",
      R"("events":{"http://schemas.openid.net/event/other":{}})",
  };
  for (const char* e : bad) {
    assert_logout(run(sign(header(), claims("events", e))), "event_missing");
  }
  // Other events next to the logout event are fine.
  assert_logout(
      run(sign(header(), claims("events", R"("events":{"urn:x":{},)"
                                          R"("http://schemas.openid.net/event/backchannel-logout":)"
                                          R"({"x":1}})"))),
      "ok");
}

void subject_and_jti_rules(void**) {
  // Neither sid nor sub: nothing to end.
  const std::string neither = R"({"iat":1700000000,"jti":"j","iss":")" + std::string(kIss) +
                              R"(","aud":"admin-console",)" + kEvent + "}";
  assert_logout(run(sign(header(), neither)), "subject_missing");
  assert_logout(run(sign(header(), claims("sid", R"("sid":"")"))), "subject_invalid");
  assert_logout(run(sign(header(), claims("sid", R"("sid":7)"))), "subject_invalid");
  assert_logout(run(sign(header(), claims("sid", R"("sid":"a b")"))), "subject_invalid");
  assert_logout(run(sign(header(), claims("sub", R"("sub":null)"))), "subject_invalid");
  assert_logout(run(sign(header(), claims("sub", R"("sub":")" + std::string(256, 's') + "\""))),
                "subject_invalid");
  assert_logout(run(sign(header(), claims("jti"))), "jti_missing");
  assert_logout(run(sign(header(), claims("jti", R"("jti":"")"))), "jti_missing");
  assert_logout(run(sign(header(), claims("jti", R"("jti":12)"))), "jti_missing");
  // A control byte anywhere (here in a member nobody reads).
  assert_logout(run(sign(header(), claims("", R"("x":"a\u0001b")"))), "claim_invalid");
  // Duplicate members: two readers must not see two sessions.
  assert_logout(run(sign(header(), claims("", R"("sid":"other")"))), "duplicate_key");
}

void details_are_precise(void**) {
  LogoutTokenRules r = rules();
  std::string d = logout_result_detail(LogoutResult{LogoutCheck::kIatOutOfWindow}, r);
  assert_string_equal(d.c_str(),
                      "logout token refused: iat outside the accepted window (120 s old, 30 s "
                      "ahead)");
  d = logout_result_detail(LogoutResult{LogoutCheck::kToken, Status::kSignatureInvalid}, r);
  assert_string_equal(d.c_str(), "logout token refused: signature invalid");
  for (int i = 0; i <= static_cast<int>(LogoutCheck::kClaimInvalid); i++) {
    LogoutResult res{static_cast<LogoutCheck>(i), Status::kTokenMalformed};
    assert_string_not_equal(logout_result_name(res).c_str(), "unknown");
    assert_null(strstr(logout_result_detail(res, r).c_str(), "unknown"));
  }
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(genuine_token_passes),
      cmocka_unit_test(access_and_id_tokens_are_not_logout_tokens),
      cmocka_unit_test(signature_first),
      cmocka_unit_test(issuer_rules),
      cmocka_unit_test(audience_rules),
      cmocka_unit_test(time_rules),
      cmocka_unit_test(event_rules),
      cmocka_unit_test(subject_and_jti_rules),
      cmocka_unit_test(details_are_precise),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
