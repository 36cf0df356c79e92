// The tenant record published to Redis and the incarnation rule both
// binaries apply (tenant_incarnation.h).
#include "tenant_incarnation.h"

#include <string>

#include "cmocka_cxx.h"

using namespace realm_auth;

namespace {

constexpr char kId1[] = "2f1c0d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f";
constexpr char kId2[] = "9e8d7c6b-5a49-4837-a625-14f3e2d1c0b9";

TenantRecordValue info(TenantRecord state, int64_t start, const char* id) {
  TenantRecordValue i;
  i.state = state;
  i.incarnation_start = start;
  i.incarnation_id = id;
  return i;
}

void encode_decode_round_trip(void**) {
  for (TenantRecord s : {TenantRecord::kActive, TenantRecord::kDisabled, TenantRecord::kDeleted}) {
    TenantRecordValue in = info(s, 1764579600, kId1), out;
    std::string text = encode_tenant_record(in);
    assert_true(decode_tenant_record(text, out));
    assert_int_equal(static_cast<int>(out.state), static_cast<int>(s));
    assert_int_equal(out.incarnation_start, 1764579600);
    assert_string_equal(out.incarnation_id.c_str(), kId1);
  }
  assert_string_equal(encode_tenant_record(info(TenantRecord::kActive, 1764579600, kId1)).c_str(),
                      "active start=1764579600 incarnation=2f1c0d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f");
  assert_string_equal(encode_tenant_record(TenantRecordValue{}).c_str(), "");
}

void older_one_word_records(void**) {
  TenantRecordValue out;
  assert_true(decode_tenant_record("disabled", out));
  assert_int_equal(static_cast<int>(out.state), static_cast<int>(TenantRecord::kDisabled));
  assert_int_equal(out.incarnation_start, 0);
  assert_true(out.incarnation_id.empty());
  assert_true(decode_tenant_record("deleted", out));
  assert_int_equal(static_cast<int>(out.state), static_cast<int>(TenantRecord::kDeleted));
  assert_true(decode_tenant_record("active", out));
  assert_int_equal(static_cast<int>(out.state), static_cast<int>(TenantRecord::kActive));
}

void malformed_records(void**) {
  // Refused whole (false, `out` untouched): the reader turns it into a
  // rejected Redis value (tenant_registry.h), never into a guess.
  for (const char* bad :
       {"", "enabled", "Active", "absent", "active start=12x", "active start=", "active start=-5",
        "active start=1764579600.5", "active incarnation=not-a-uuid",
        "active incarnation=2F1C0D3E-4B5A-4C6D-8E7F-0A1B2C3D4E5F", "active start=1 start=2",
        "active 1764579600 2f1c0d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f", "active =x"}) {
    TenantRecordValue out = info(TenantRecord::kDeleted, 7, kId2);
    assert_false(decode_tenant_record(bad, out));
    assert_int_equal(static_cast<int>(out.state), static_cast<int>(TenantRecord::kDeleted));
    assert_int_equal(out.incarnation_start, 7);
    assert_string_equal(out.incarnation_id.c_str(), kId2);
  }
  // Fields a newer writer adds are ignored, the known ones still read.
  TenantRecordValue out;
  assert_true(
      decode_tenant_record("disabled created=1700000000000 start=1764579600 "
                           "incarnation=2f1c0d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f",
                           out));
  assert_int_equal(static_cast<int>(out.state), static_cast<int>(TenantRecord::kDisabled));
  assert_int_equal(out.incarnation_start, 1764579600);
  assert_string_equal(out.incarnation_id.c_str(), kId1);
}

void iat_before_the_incarnation_is_deleted(void**) {
  TenantRecordValue now = info(TenantRecord::kActive, 1000, kId2);
  assert_status(admit_tenant_token(now, 999), Status::kTenantDeleted);
  assert_status(admit_tenant_token(now, 1000), Status::kOk);  // same second as the start
  assert_status(admit_tenant_token(now, 5000), Status::kOk);
  assert_status(admit_tenant_token(now, 0), Status::kTenantDeleted);  // no iat
  // No known start (older record, no registry entry): nothing to compare.
  assert_status(admit_tenant_token(info(TenantRecord::kActive, 0, ""), 0), Status::kOk);
  assert_status(admit_tenant_token(TenantRecordValue{}, 0), Status::kOk);
}

void deleted_is_not_disabled(void**) {
  assert_status(admit_tenant_token(info(TenantRecord::kDeleted, 1000, kId1), 5000),
                Status::kTenantDeleted);
  assert_status(admit_tenant_token(info(TenantRecord::kDisabled, 1000, kId1), 5000),
                Status::kTenantDisabled);
  // A disabled tenant's token from an earlier incarnation: still disabled
  // first (the state wins, both refuse).
  assert_status(admit_tenant_token(info(TenantRecord::kDisabled, 1000, kId1), 10),
                Status::kTenantDisabled);
  assert_string_equal(status_name(Status::kTenantDeleted), "tenant_deleted");
  assert_string_equal(status_description(Status::kTenantDeleted), "tenant deleted");
}

void unknown_signer_of_an_earlier_incarnation(void**) {
  TenantRecordValue now = info(TenantRecord::kActive, 1000, kId2);
  assert_status(unverified_refusal(Status::kKeyNotFound, now, 999), Status::kTenantDeleted);
  assert_status(unverified_refusal(Status::kKeyNotFound, now, 1000), Status::kKeyNotFound);
  // Only an unknown signer is re-labelled: a bad signature stays one.
  assert_status(unverified_refusal(Status::kSignatureInvalid, now, 999), Status::kSignatureInvalid);
  assert_status(
      unverified_refusal(Status::kKeyNotFound, info(TenantRecord::kDeleted, 1000, kId2), 5000),
      Status::kTenantDeleted);
  assert_status(unverified_refusal(Status::kOk, now, 1), Status::kOk);
  // Keys that cannot be had: the deleted tenant is named, a live one is not.
  assert_status(
      unverified_refusal(Status::kJwksUnavailable, info(TenantRecord::kDeleted, 1000, kId2), 5000),
      Status::kTenantDeleted);
  assert_status(unverified_refusal(Status::kJwksUnavailable, now, 999), Status::kJwksUnavailable);
}

void when_an_incarnation_ends(void**) {
  TenantRecordValue a1 = info(TenantRecord::kActive, 1000, kId1);
  assert_false(incarnation_ended(a1, a1));
  assert_false(incarnation_ended(a1, info(TenantRecord::kDisabled, 1000, kId1)));
  assert_true(incarnation_ended(a1, info(TenantRecord::kDeleted, 1000, kId1)));
  assert_true(incarnation_ended(a1, info(TenantRecord::kActive, 2000, kId2)));
  assert_false(incarnation_ended(info(TenantRecord::kDeleted, 1000, kId1),
                                 info(TenantRecord::kDeleted, 1000, kId1)));
  // From an older record without an id: only a deletion says so.
  assert_false(incarnation_ended(info(TenantRecord::kActive, 0, ""), a1));
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(encode_decode_round_trip),
      cmocka_unit_test(older_one_word_records),
      cmocka_unit_test(malformed_records),
      cmocka_unit_test(iat_before_the_incarnation_is_deleted),
      cmocka_unit_test(deleted_is_not_disabled),
      cmocka_unit_test(unknown_signer_of_an_earlier_incarnation),
      cmocka_unit_test(when_an_incarnation_ends),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
