// ActorRateLimiter: burst then refusal, refill, per-actor isolation,
// bounded memory, counted refusals and one report per interval; and the
// governed-call flow writing no ledger row for a limited call.
#include "governance/rate_limit.h"

#include <string>
#include <vector>

#include "governance/governed_call.h"
#include "sidecar_test.h"

using namespace realm_sidecar;
using Clock = ActorRateLimiter::Clock;

namespace {

const Clock::time_point t0 = Clock::time_point() + std::chrono::hours(1);
Clock::time_point at(double s) {
  return t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

void burst_then_refused_then_refilled(void**) {
  ActorRateLimiter l({5, 1.0, 100, std::chrono::seconds(60)});
  for (int i = 0; i < 5; i++) assert_true(l.admit("t/a", at(0)).allowed);
  RateVerdict v = l.admit("t/a", at(0));
  assert_false(v.allowed);
  assert_int_equal(v.retry_after_s, 1);
  assert_false(l.admit("t/a", at(0.5)).allowed);
  assert_true(l.admit("t/a", at(1.6)).allowed);  // one token back after 1 s
  assert_false(l.admit("t/a", at(1.7)).allowed);
  // Idle long enough: the bucket is full again, never more than the burst.
  for (int i = 0; i < 5; i++) assert_true(l.admit("t/a", at(1000)).allowed);
  assert_false(l.admit("t/a", at(1000)).allowed);
  RateLimitStats s = l.stats();
  assert_int_equal(s.allowed_total, 11);
  assert_int_equal(s.refused_total, 4);
}

void actors_are_isolated(void**) {
  ActorRateLimiter l({2, 0.01, 100, std::chrono::seconds(60)});
  assert_true(l.admit("t/a", at(0)).allowed);
  assert_true(l.admit("t/a", at(0)).allowed);
  assert_false(l.admit("t/a", at(0)).allowed);
  assert_true(l.admit("t/b", at(0)).allowed);  // another actor: its own bucket
  assert_true(l.admit("u/a", at(0)).allowed);  // same sub, another tenant
}

void memory_is_bounded(void**) {
  ActorRateLimiter l({1, 0.001, 64, std::chrono::seconds(60)});
  for (int i = 0; i < 100000; i++) l.admit("t/actor-" + std::to_string(i), at(0));
  RateLimitStats s = l.stats();
  assert_int_equal(s.actors_tracked, 64);
  assert_int_equal(s.actors_max, 64);
  assert_int_equal(s.evicted_total, 100000 - 64);
  // A recently seen actor stays tracked (least recently seen go first).
  assert_false(l.admit("t/actor-99999", at(0)).allowed);
  // Keys are capped: a huge actor id costs no more than a short one.
  l.admit(std::string(1 << 20, 'x'), at(0));
  assert_int_equal(l.stats().actors_tracked, 64);
}

void refusals_reported_once_per_interval(void**) {
  ActorRateLimiter l({1, 0.001, 100, std::chrono::seconds(60)});
  assert_true(l.admit("t/a", at(0)).allowed);
  RateVerdict first = l.admit("t/a", at(0));
  assert_int_equal(first.report_refused, 1);  // the first refusal is reported
  uint64_t reported = first.report_refused;
  for (int i = 1; i <= 500; i++) {
    RateVerdict v = l.admit("t/a", at(i * 0.1));  // 50 s
    assert_false(v.allowed);
    assert_int_equal(v.report_refused, 0);  // not one line per refused call
  }
  RateVerdict later = l.admit("t/a", at(61));
  assert_false(later.allowed);
  assert_int_equal(later.report_refused, 501);  // everything since the last report
  reported += later.report_refused;
  assert_int_equal(reported, l.stats().refused_total);
}

struct CountingLedger : AuditLedger {
  int appended = 0;
  bool append(const AuditEvent&) override { return ++appended > 0; }
  bool tail(const std::string&, const std::string&, int, std::vector<AuditRow>&) override {
    return false;
  }
  bool verify(int64_t&, int64_t&, std::string&) override { return false; }
};
struct DenyAll : PolicyDecisionPoint {
  Decision authorize(const AuthorizeRequest&) override { return Decision{false, "no"}; }
};

void limited_calls_write_no_ledger_rows(void**) {
  CountingLedger ledger;
  DenyAll pdp;
  ActorRateLimiter limiter({3, 0.001, 100, std::chrono::seconds(60)});
  Governance g{ledger, pdp, &limiter};
  HttpRequest req;
  req.request_id = "r";
  req.headers.emplace("x-purpose", "loop");
  Actor flooder{"sub-f", "acme", "tenant-acme", {"officer"}, "f", "", ""};
  Actor other{"sub-o", "acme", "tenant-acme", {"officer"}, "o", "", ""};
  GovernedOp op{"tenant.create", Resource{"tenant", "x", ""}, "TENANT_CREATED"};
  int work = 0;
  auto call = [&](const Actor& a) {
    return governed_call(g, req, a, op, [&]() {
      work++;
      return WorkResult{};
    });
  };
  int denied = 0, limited = 0;
  for (int i = 0; i < 100; i++) {
    HttpResponse r = call(flooder);
    if (r.status == 403) denied++;
    if (r.status == 429) {
      limited++;
      bool retry_after = false;
      for (const auto& h : r.headers) retry_after |= h.first == "Retry-After";
      assert_true(retry_after);
      assert_true(get_str(must_parse(r.body).get(), {"detail"}).find("rate limit") !=
                  std::string::npos);
    }
  }
  assert_int_equal(denied, 3);
  assert_int_equal(limited, 97);
  assert_int_equal(ledger.appended, 6);  // two rows for each of the 3, none for the 97
  assert_int_equal(work, 0);
  assert_int_equal(call(other).status, 403);  // another actor is not limited
  assert_int_equal(limiter.stats().refused_total, 97);
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(burst_then_refused_then_refilled),
      cmocka_unit_test(actors_are_isolated),
      cmocka_unit_test(memory_is_bounded),
      cmocka_unit_test(refusals_reported_once_per_interval),
      cmocka_unit_test(limited_calls_write_no_ledger_rows),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
