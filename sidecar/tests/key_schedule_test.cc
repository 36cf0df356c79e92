// KeySchedule (migrations/0005_key_retirements.sql) against a real
// PostgreSQL (a throwaway cluster made by with_pg_cluster.sh): the
// migrations run as an owner role with realm_auth.app_role set, the tests
// as that app role, as in production. What the removal pass relies on:
//   - a row is due only once its grace period has passed (database clock);
//   - one retirement per (tenant, incarnation, kid): the second is a conflict;
//   - two sidecars claiming at once (two connections, two transactions):
//     each due row goes to exactly one of them (SKIP LOCKED), and a row
//     marked removed is never claimed again;
//   - a failed attempt is counted, and the pass can skip rows it tried;
//   - the ledger accepts the KEY_* event types after 0005.
#include "store/key_schedule.h"

#include <libpq-fe.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "pg_test_db.h"
#include "sidecar_test.h"
#include "store/pg.h"

using namespace realm_sidecar;

namespace {

using pg_test::conninfo;
using pg_test::must;

KeyRetirement retirement(const std::string& tenant, const std::string& kid, int64_t grace) {
  KeyRetirement k;
  k.tenant_id = tenant;
  k.incarnation_id = "00000000-0000-4000-8000-000000000001";
  k.realm_name = "tenant-" + tenant;
  k.kid = kid;
  k.component_id = "component-" + kid;
  k.grace_seconds = grace;
  k.request_id = "req-" + kid;
  k.actor_id = "operator";
  k.actor_realm = "platform";
  k.purpose = "rotation drill";
  return k;
}

int setup(void**) { return pg_test::create_migrated_db("keys") ? 0 : -1; }

void test_due_and_conflict(void**) {
  PgPool pool(conninfo("keys_app", "keys"), 2);
  PgSession s = pool.acquire();
  assert_true(s.healthy());
  KeyRetirement later = retirement("demo", "kid-later", 3600);
  assert_int_equal(static_cast<int>(KeySchedule::insert(s, later)),
                   static_cast<int>(StoreStatus::kOk));
  assert_true(later.id > 0);
  assert_false(later.remove_at.empty());
  KeyRetirement again = retirement("demo", "kid-later", 10);
  assert_int_equal(static_cast<int>(KeySchedule::insert(s, again)),
                   static_cast<int>(StoreStatus::kConflict));
  // Not due for an hour: nothing to claim.
  must(s, "BEGIN");
  KeyRetirement claimed;
  assert_int_equal(static_cast<int>(KeySchedule::claim_due(s, {}, claimed)),
                   static_cast<int>(StoreStatus::kNotFound));
  must(s, "COMMIT");
  std::vector<KeyRetirement> pending;
  assert_int_equal(static_cast<int>(KeySchedule::pending(s, "demo", later.incarnation_id, pending)),
                   static_cast<int>(StoreStatus::kOk));
  assert_int_equal(pending.size(), 1);
  assert_string_equal(pending[0].kid.c_str(), "kid-later");
  assert_string_equal(pending[0].purpose.c_str(), "rotation drill");
  assert_int_equal(pending[0].grace_seconds, 3600);
}

// Two sidecars, each in its own transaction: every due row to exactly one.
void test_two_claimers(void**) {
  PgPool pool(conninfo("keys_app", "keys"), 4);
  {
    PgSession s = pool.acquire();
    for (int i = 0; i < 10; i++) {
      KeyRetirement k = retirement("two", "kid-" + std::to_string(i), 0);
      assert_int_equal(static_cast<int>(KeySchedule::insert(s, k)),
                       static_cast<int>(StoreStatus::kOk));
    }
  }
  std::vector<int64_t> got[2];
  std::thread t[2];
  for (int w = 0; w < 2; w++) {
    t[w] = std::thread([&, w] {
      for (;;) {
        PgSession s = pool.acquire();
        if (!s.exec("BEGIN").ok) return;
        KeyRetirement k;
        if (KeySchedule::claim_due(s, {}, k) != StoreStatus::kOk) {
          s.exec("COMMIT");
          return;
        }
        if (k.tenant_id != "two") {  // rows of other tests are not ours to settle
          s.exec("ROLLBACK");
          return;
        }
        // Hold the row a while, as a pass does while Keycloak answers.
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        if (KeySchedule::mark_removed(s, k.id) != StoreStatus::kOk || !s.exec("COMMIT").ok) return;
        got[w].push_back(k.id);
      }
    });
  }
  t[0].join();
  t[1].join();
  std::vector<int64_t> all(got[0]);
  all.insert(all.end(), got[1].begin(), got[1].end());
  std::sort(all.begin(), all.end());
  print_message("claimer 0 settled %zu rows, claimer 1 %zu\n", got[0].size(), got[1].size());
  assert_int_equal(all.size(), 10);
  assert_true(std::adjacent_find(all.begin(), all.end()) == all.end());  // no row twice
  assert_true(!got[0].empty() && !got[1].empty());                       // both worked in parallel
  PgSession s = pool.acquire();
  must(s, "BEGIN");
  KeyRetirement k;
  assert_int_equal(static_cast<int>(KeySchedule::claim_due(s, {}, k)),
                   static_cast<int>(StoreStatus::kNotFound));
  must(s, "COMMIT");
}

void test_failure_and_skip(void**) {
  PgPool pool(conninfo("keys_app", "keys"), 1);
  PgSession s = pool.acquire();
  KeyRetirement a = retirement("fail", "kid-a", 0), b = retirement("fail", "kid-b", 0);
  assert_int_equal(static_cast<int>(KeySchedule::insert(s, a)), static_cast<int>(StoreStatus::kOk));
  assert_int_equal(static_cast<int>(KeySchedule::insert(s, b)), static_cast<int>(StoreStatus::kOk));
  must(s, "BEGIN");
  KeyRetirement first, second, none;
  assert_int_equal(static_cast<int>(KeySchedule::claim_due(s, {}, first)),
                   static_cast<int>(StoreStatus::kOk));
  assert_int_equal(static_cast<int>(KeySchedule::note_failure(s, first.id, "Keycloak down")),
                   static_cast<int>(StoreStatus::kOk));
  assert_int_equal(static_cast<int>(KeySchedule::claim_due(s, {first.id}, second)),
                   static_cast<int>(StoreStatus::kOk));
  assert_true(second.id != first.id);
  assert_int_equal(static_cast<int>(KeySchedule::claim_due(s, {first.id, second.id}, none)),
                   static_cast<int>(StoreStatus::kNotFound));
  must(s, "COMMIT");
  std::vector<KeyRetirement> pending;
  assert_int_equal(static_cast<int>(KeySchedule::pending(s, "fail", a.incarnation_id, pending)),
                   static_cast<int>(StoreStatus::kOk));
  assert_int_equal(pending.size(), 2);
  int failed = 0;
  for (const auto& p : pending) {
    if (p.id == first.id) {
      assert_int_equal(p.attempts, 1);
      assert_string_equal(p.last_error.c_str(), "Keycloak down");
      failed++;
    }
  }
  assert_int_equal(failed, 1);
}

void test_ledger_accepts_key_events(void**) {
  PgPool pool(conninfo("keys_owner", "keys"), 1);
  PgSession s = pool.acquire();
  PgResult r = s.exec(
      "SELECT count(*) FROM unnest(ARRAY['KEY_ROTATED','KEY_RETIRED','KEY_REMOVED','REQUEST',"
      "'USER_CREATED']) t WHERE pg_get_constraintdef((SELECT oid FROM pg_constraint WHERE conname "
      "= 'audit_ledger_event_type_check')) LIKE '%''' || t || '''%'");
  assert_true(r.ok);
  assert_string_equal(r.get(0, 0).c_str(), "5");
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_due_and_conflict),
      cmocka_unit_test(test_two_claimers),
      cmocka_unit_test(test_failure_and_skip),
      cmocka_unit_test(test_ledger_accepts_key_events),
  };
  return cmocka_run_group_tests(tests, setup, nullptr);
}
