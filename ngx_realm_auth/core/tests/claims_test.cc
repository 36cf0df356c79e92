// Registered claims: exp, nbf, iat types and windows, sub, aud.
#include "claims.h"

#include <string>

#include "cmocka_cxx.h"

using namespace realm_auth;

namespace {

constexpr int64_t kNow = 1700000000;

Status check(const std::string& payload, ClaimRules rules = {}, int64_t now = kNow) {
  FlatJson json;
  assert_status(json.parse(payload, 8, Status::kPayloadNotJson), Status::kOk);
  return check_claims(json.root(), rules, now);
}

std::string claims(const std::string& extra) {
  return R"({"sub":"u","exp":1700000100)" + (extra.empty() ? "" : "," + extra) + "}";
}

void exp_rules(void**) {
  ClaimRules strict;
  strict.leeway_s = 0;
  assert_status(check(claims("")), Status::kOk);
  assert_status(check(R"({"sub":"u"})"), Status::kExpMissing);
  assert_status(check(R"({"sub":"u","exp":"1700000100"})"), Status::kExpMissing);
  assert_status(check(R"({"sub":"u","exp":null})"), Status::kExpMissing);
  assert_status(check(R"({"sub":"u","exp":true})"), Status::kExpMissing);
  assert_status(check(R"({"sub":"u","exp":[1700000100]})"), Status::kExpMissing);
  // exp is exclusive: the token is dead at exp (RFC 7519 §4.1.4).
  assert_status(check(R"({"sub":"u","exp":1700000000})", strict), Status::kExpired);
  assert_status(check(R"({"sub":"u","exp":1700000001})", strict), Status::kOk);
  assert_status(check(R"({"sub":"u","exp":1700000000.5})", strict), Status::kOk);
  assert_status(check(R"({"sub":"u","exp":1699999999.9})", strict), Status::kExpired);
  assert_status(check(R"({"sub":"u","exp":1.7000001e9})", strict), Status::kOk);
  // Leeway: 30 s by default.
  assert_status(check(R"({"sub":"u","exp":1699999971})"), Status::kOk);
  assert_status(check(R"({"sub":"u","exp":1699999970})"), Status::kExpired);
  assert_status(check(R"({"sub":"u","exp":-1})"), Status::kExpired);
  assert_status(check(R"({"sub":"u","exp":1e300})"), Status::kOk);
}

void nbf_rules(void**) {
  assert_status(check(claims(R"("nbf":1700000000)")), Status::kOk);
  assert_status(check(claims(R"("nbf":1700000030)")), Status::kOk);  // within leeway
  assert_status(check(claims(R"("nbf":1700000031)")), Status::kNotYetValid);
  assert_status(check(claims(R"("nbf":1700000030.5)")), Status::kNotYetValid);
  assert_status(check(claims(R"("nbf":"1600000000")")), Status::kNotYetValid);
  assert_status(check(claims(R"("nbf":null)")), Status::kNotYetValid);
}

void iat_must_be_numeric(void**) {
  assert_status(check(claims(R"("iat":1699999990)")), Status::kOk);
  assert_status(check(claims(R"("iat":1699999990.25)")), Status::kOk);
  assert_status(check(claims(R"("iat":"1699999990")")), Status::kClaimInvalid);
}

void sub_rules(void**) {
  assert_status(check(R"({"exp":1700000100})"), Status::kSubMissing);
  assert_status(check(R"({"exp":1700000100,"sub":""})"), Status::kSubMissing);
  assert_status(check(R"({"exp":1700000100,"sub":42})"), Status::kSubMissing);
  assert_status(check(R"({"exp":1700000100,"sub":["u"]})"), Status::kSubMissing);
}

void audience_rules(void**) {
  ClaimRules rules;
  rules.audiences = {"tenant-services", "account"};
  assert_status(check(claims(R"("aud":"tenant-services")"), rules), Status::kOk);
  assert_status(check(claims(R"("aud":["x","account"])"), rules), Status::kOk);
  assert_status(check(claims(R"("aud":"Tenant-services")"), rules), Status::kAudienceMismatch);
  assert_status(check(claims(R"("aud":"tenant-services2")"), rules), Status::kAudienceMismatch);
  assert_status(check(claims(R"("aud":["x","y"])"), rules), Status::kAudienceMismatch);
  assert_status(check(claims(R"("aud":[])"), rules), Status::kAudienceMismatch);
  assert_status(check(claims(R"("aud":["account",1])"), rules), Status::kAudienceMismatch);
  assert_status(check(claims(R"("aud":{"account":1})"), rules), Status::kAudienceMismatch);
  assert_status(check(claims(""), rules), Status::kAudienceMismatch);
  // No audience configured: aud is not looked at.
  assert_status(check(claims(R"("aud":"anything")")), Status::kOk);
  assert_status(check(claims(R"("aud":7)")), Status::kOk);
}

void check_order(void**) {
  // exp, then nbf, then sub, then aud.
  ClaimRules rules;
  rules.audiences = {"a"};
  assert_status(check(R"({"exp":1,"nbf":1800000000,"aud":"b"})", rules), Status::kExpired);
  assert_status(check(R"({"exp":1700000100,"nbf":1800000000,"aud":"b"})", rules),
                Status::kNotYetValid);
  assert_status(check(R"({"exp":1700000100,"aud":"b"})", rules), Status::kSubMissing);
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(exp_rules),           cmocka_unit_test(nbf_rules),
      cmocka_unit_test(iat_must_be_numeric), cmocka_unit_test(sub_rules),
      cmocka_unit_test(audience_rules),      cmocka_unit_test(check_order),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
