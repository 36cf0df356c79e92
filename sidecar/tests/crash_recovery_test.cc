// Crash recovery's decisions, without Keycloak or PostgreSQL: for every
// tenant status × realm presence, what start-up recovery does
// (store/tenant_status.h); how a tenant attempt ended from the row of its
// incarnation; when a user attempt keeps its user
// (provisioning/crash_recovery.h); and the text at the database boundary.
#include "provisioning/crash_recovery.h"

#include <string>

#include "sidecar_test.h"
#include "store/attempt_store.h"
#include "store/tenant_status.h"

using namespace realm_sidecar;

namespace {

const TenantStatus kAllStatuses[] = {TenantStatus::kProvisioning, TenantStatus::kActive,
                                     TenantStatus::kDisabled, TenantStatus::kDeleting,
                                     TenantStatus::kFailed};
void status_text_round_trips(void**) {
  for (TenantStatus s : kAllStatuses) {
    TenantStatus back = TenantStatus::kFailed;
    assert_true(parse_tenant_status(to_string(s), back));
    assert_true(back == s);
  }
  TenantStatus untouched = TenantStatus::kActive;
  assert_false(parse_tenant_status("Active", untouched));  // the column's spelling only
  assert_false(parse_tenant_status("", untouched));
  assert_true(untouched == TenantStatus::kActive);
  assert_string_equal(to_string(TenantStatus::kProvisioning), "provisioning");
}

void user_step_text_round_trips(void**) {
  assert_true(parse_user_step(to_string(UserStep::kStarted)) == UserStep::kStarted);
  assert_true(parse_user_step(to_string(UserStep::kUserCreated)) == UserStep::kUserCreated);
  assert_true(parse_user_step("roles_assigned") == UserStep::kUnknown);
  assert_true(parse_user_step("") == UserStep::kUnknown);
}

// A row left mid-saga: its status and whether the realm exists decide.
void tenant_recovery_by_status_and_realm(void**) {
  const RealmPresence kAll[] = {RealmPresence::kPresent, RealmPresence::kAbsent,
                                RealmPresence::kUnknown};
  // The realm is one POST, whole or not at all: one that exists is finished.
  assert_true(recovery_for(TenantStatus::kProvisioning, RealmPresence::kPresent) ==
              Recovery::kFinish);
  assert_true(recovery_for(TenantStatus::kProvisioning, RealmPresence::kAbsent) ==
              Recovery::kDropRow);
  // Keycloak down: neither finished nor dropped, nothing guessed.
  assert_true(recovery_for(TenantStatus::kProvisioning, RealmPresence::kUnknown) ==
              Recovery::kWait);
  for (RealmPresence realm : kAll) {
    assert_true(recovery_for(TenantStatus::kActive, realm) == Recovery::kNone);
    assert_true(recovery_for(TenantStatus::kDisabled, realm) == Recovery::kNone);
    // A rollback or a deletion that did not finish: the realm goes (a 404
    // counts as gone), whatever the lookup said.
    assert_true(recovery_for(TenantStatus::kFailed, realm) == Recovery::kRollBack);
    assert_true(recovery_for(TenantStatus::kDeleting, realm) == Recovery::kDelete);
  }
  assert_string_equal(to_string(Recovery::kFinish), "finish");
}

void tenant_attempt_ends(void**) {
  // No row of the incarnation: never created, unless it lived and was buried.
  assert_true(tenant_attempt_end(false, TenantStatus::kFailed, false) == AttemptEnd::kNotCreated);
  assert_true(tenant_attempt_end(false, TenantStatus::kFailed, true) == AttemptEnd::kCreated);
  assert_true(tenant_attempt_end(true, TenantStatus::kActive, false) == AttemptEnd::kCreated);
  assert_true(tenant_attempt_end(true, TenantStatus::kDisabled, false) == AttemptEnd::kCreated);
  assert_true(tenant_attempt_end(true, TenantStatus::kDeleting, false) == AttemptEnd::kCreated);
  // Mid-saga: the saga's own recovery ends it first.
  assert_true(tenant_attempt_end(true, TenantStatus::kProvisioning, false) ==
              AttemptEnd::kUnsettled);
  assert_true(tenant_attempt_end(true, TenantStatus::kFailed, false) == AttemptEnd::kUnsettled);
}

void user_kept_only_when_recorded_created(void**) {
  assert_true(keep_user("USER_CREATED"));
  assert_false(keep_user(""));  // crashed before the outcome: the password reached nobody
  assert_false(keep_user("PROVISIONING_FAILED"));
  assert_false(keep_user("TENANT_CREATED"));
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(status_text_round_trips),
      cmocka_unit_test(user_step_text_round_trips),
      cmocka_unit_test(tenant_recovery_by_status_and_realm),
      cmocka_unit_test(tenant_attempt_ends),
      cmocka_unit_test(user_kept_only_when_recorded_created),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
