// Readiness (GET /readyz): every dependency named with its state, 200 only
// when all are up, the report cached for its ttl, at most one round of
// probes at a time however many callers (no pile-up), a round that hangs
// past the bound makes the old report "not ready", probes run side by
// side (a round lasts as long as the slowest), a throwing probe is "down".
#include "health/readiness.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "sidecar_test.h"

using namespace realm_sidecar;
using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

namespace {

Dependency fixed(const char* name, bool up, std::atomic<int>* calls = nullptr,
                 const char* detail = "") {
  return Dependency{name, [=]() {
                      if (calls != nullptr) ++*calls;
                      return ProbeResult{up, up ? "" : detail};
                    }};
}

// A clock the test moves by hand.
struct ManualClock {
  std::shared_ptr<std::atomic<long long>> ms = std::make_shared<std::atomic<long long>>(1000000);
  Readiness::Clock fn() const {
    auto m = ms;
    return [m] { return SteadyClock::time_point(milliseconds(m->load())); };
  }
  void advance(long long d) { *ms += d; }
};

void all_up_is_200_and_names_each(void**) {
  Readiness r({fixed("postgresql", true), fixed("keycloak", true), fixed("redis", true)});
  ReadinessReport rep = r.check();
  assert_true(rep.ready);
  HttpResponse resp = readiness_response(rep, rep.checked_at);
  assert_int_equal(resp.status, 200);
  JsonPtr j = must_parse(resp.body);
  assert_string_equal(get_str(j.get(), {"status"}).c_str(), "ready");
  for (const char* n : {"postgresql", "keycloak", "redis"}) {
    assert_string_equal(get_str(j.get(), {"dependencies", n, "state"}).c_str(), "up");
  }
  assert_null(json_object_get(json_object_get(json_object_get(j.get(), "dependencies"), "redis"),
                              "detail"));
  bool no_store = false;
  for (const auto& [k, v] : resp.headers) no_store |= k == "Cache-Control" && v == "no-store";
  assert_true(no_store);
}

void one_down_is_503_with_its_reason(void**) {
  Readiness r(
      {fixed("postgresql", false, nullptr, "cannot connect: refused"), fixed("keycloak", true)});
  ReadinessReport rep = r.check();
  assert_false(rep.ready);
  HttpResponse resp = readiness_response(rep, rep.checked_at);
  assert_int_equal(resp.status, 503);
  JsonPtr j = must_parse(resp.body);
  assert_string_equal(get_str(j.get(), {"status"}).c_str(), "not ready");
  assert_string_equal(get_str(j.get(), {"dependencies", "postgresql", "state"}).c_str(), "down");
  assert_string_equal(get_str(j.get(), {"dependencies", "postgresql", "detail"}).c_str(),
                      "cannot connect: refused");
  assert_string_equal(get_str(j.get(), {"dependencies", "keycloak", "state"}).c_str(), "up");
}

void cached_for_its_ttl(void**) {
  ManualClock clock;
  std::atomic<int> calls{0};
  Readiness r({fixed("postgresql", true, &calls)}, milliseconds(1000), clock.fn());
  for (int i = 0; i < 100; i++) r.check();
  assert_int_equal(calls.load(), 1);
  clock.advance(999);
  r.check();
  assert_int_equal(calls.load(), 1);
  clock.advance(2);
  assert_int_equal(r.check().round, 2);
  assert_int_equal(calls.load(), 2);
}

// A probe that blocks until the test lets it go.
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  std::atomic<int> entered{0};
  void wait() {
    ++entered;
    std::unique_lock<std::mutex> l(mu);
    cv.wait(l, [&] { return open; });
  }
  void release() {
    {
      std::lock_guard<std::mutex> g(mu);
      open = true;
    }
    cv.notify_all();
  }
};

void no_pile_up_while_a_round_runs(void**) {
  ManualClock clock;
  Gate gate;
  std::atomic<bool> block{false};
  std::atomic<int> calls{0};
  Readiness r({Dependency{"keycloak",
                          [&]() {
                            ++calls;
                            if (block) gate.wait();
                            return ProbeResult{true, ""};
                          }}},
              milliseconds(1000), clock.fn());
  assert_int_equal(r.check().round, 1);
  block = true;
  clock.advance(5000);  // stale: the next caller starts round 2, which hangs
  std::thread slow([&] { r.check(); });
  while (gate.entered.load() == 0) std::this_thread::sleep_for(milliseconds(1));
  // 50 callers while round 2 hangs: each gets round 1's report at once.
  std::vector<std::thread> callers;
  std::atomic<int> served_stale{0};
  auto t0 = SteadyClock::now();
  for (int i = 0; i < 50; i++) {
    callers.emplace_back([&] {
      if (r.check().round == 1) ++served_stale;
    });
  }
  for (auto& t : callers) t.join();
  auto waited = SteadyClock::now() - t0;
  assert_int_equal(served_stale.load(), 50);
  assert_int_equal(calls.load(), 2);  // round 1 and the hung round 2, nothing more
  assert_true(waited < milliseconds(500));
  // The hung round outlives the bound (5 s): the old "ready" is not served
  // as ready any more.
  clock.advance(6000);
  ReadinessReport old = r.check();
  assert_true(old.stale);
  assert_int_equal(old.round, 1);
  assert_int_equal(readiness_response(old, old.checked_at).status, 503);
  JsonPtr j = must_parse(readiness_response(old, old.checked_at).body);
  assert_true(json_is_true(json_object_get(j.get(), "stale")));
  assert_int_equal(calls.load(), 2);
  gate.release();
  slow.join();
  assert_int_equal(r.check().round, 2);
  assert_int_equal(calls.load(), 2);
}

void first_callers_share_the_first_round(void**) {
  std::atomic<int> calls{0};
  Readiness r({Dependency{"postgresql", [&]() {
                            ++calls;
                            std::this_thread::sleep_for(milliseconds(100));
                            return ProbeResult{true, ""};
                          }}});
  std::vector<std::thread> ts;
  std::atomic<int> ready{0};
  for (int i = 0; i < 20; i++) {
    ts.emplace_back([&] { ready += r.check().ready ? 1 : 0; });
  }
  for (auto& t : ts) t.join();
  assert_int_equal(ready.load(), 20);  // nobody got a report that does not exist yet
  assert_int_equal(calls.load(), 1);
}

void probes_run_side_by_side(void**) {
  auto slow = [](const char* n) {
    return Dependency{n, [] {
                        std::this_thread::sleep_for(milliseconds(300));
                        return ProbeResult{true, ""};
                      }};
  };
  Readiness r({slow("postgresql"), slow("keycloak"), slow("redis"), slow("policy")});
  auto t0 = SteadyClock::now();
  assert_true(r.check().ready);
  auto ms = std::chrono::duration_cast<milliseconds>(SteadyClock::now() - t0).count();
  print_message("4 probes of 300 ms: one round in %lld ms\n", static_cast<long long>(ms));
  assert_true(ms < 900);
}

void throwing_probe_is_down(void**) {
  Readiness r({Dependency{"redis", []() -> ProbeResult { throw std::runtime_error("boom"); }},
               fixed("postgresql", true)});
  ReadinessReport rep = r.check();
  assert_false(rep.ready);
  assert_false(rep.dependencies[0].second.up);
  assert_string_equal(rep.dependencies[0].second.detail.c_str(), "probe failed: boom");
  assert_true(rep.dependencies[1].second.up);
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(all_up_is_200_and_names_each),
      cmocka_unit_test(one_down_is_503_with_its_reason),
      cmocka_unit_test(cached_for_its_ttl),
      cmocka_unit_test(no_pile_up_while_a_round_runs),
      cmocka_unit_test(first_callers_share_the_first_round),
      cmocka_unit_test(probes_run_side_by_side),
      cmocka_unit_test(throwing_probe_is_down),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
