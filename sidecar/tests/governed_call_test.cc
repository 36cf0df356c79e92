// governed_call: the order of audit, policy and work, and fail-closed
// behaviour, with a recording fake ledger and policy (test-only fakes).
#include "governance/governed_call.h"

#include <vector>

#include "purpose.h"
#include "sidecar_test.h"

using namespace realm_sidecar;

namespace {

struct FakeLedger : AuditLedger {
  std::vector<AuditEvent> events;
  int fail_at = -1;  // index of the append that fails
  bool append(const AuditEvent& e) override {
    if (static_cast<int>(events.size()) == fail_at) return false;
    events.push_back(e);
    return true;
  }
  bool tail(const std::string&, const std::string&, int, std::vector<AuditRow>&) override {
    return false;
  }
  bool verify(int64_t&, int64_t&, std::string&) override { return false; }
};

struct FakePdp : PolicyDecisionPoint {
  bool allow = true;
  int calls = 0;
  Decision authorize(const AuthorizeRequest& r) override {
    calls++;
    assert_string_equal(r.purpose.c_str(), "onboarding");
    return Decision{allow, allow ? "platform_admin" : "tenant actors cannot create tenants"};
  }
};

struct Fixture {
  FakeLedger ledger;
  FakePdp pdp;
  Governance g{ledger, pdp};
  HttpRequest req;
  Actor actor{"sub-1", "", "platform", {"platform_admin"}, "operator", "", ""};
  GovernedOp op{"tenant.create", Resource{"tenant", "demo", ""}, "TENANT_CREATED"};
  int work_calls = 0;
  int work_status = 201;
  Fixture() {
    req.request_id = "r1";
    req.headers.emplace("x-purpose", "onboarding");
  }
  HttpResponse run() {
    return governed_call(g, req, actor, op, [&]() {
      work_calls++;
      WorkResult w;
      w.response.status = work_status;
      w.details_json = "{\"realm\":\"tenant-demo\"}";
      return w;
    });
  }
  std::string types() const {
    std::string s;
    for (const auto& e : ledger.events) s += (s.empty() ? "" : ",") + e.event_type;
    return s;
  }
};

void happy_path_order(void**) {
  Fixture f;
  HttpResponse r = f.run();
  assert_int_equal(r.status, 201);
  assert_string_equal(f.types().c_str(), "REQUEST,AUTHZ_DECISION,TENANT_CREATED");
  assert_string_equal(f.ledger.events[1].decision.c_str(), "allow");
  assert_string_equal(f.ledger.events[2].details_json.c_str(), "{\"realm\":\"tenant-demo\"}");
  for (const auto& e : f.ledger.events) {
    assert_string_equal(e.request_id.c_str(), "r1");
    assert_string_equal(e.purpose.c_str(), "onboarding");
    assert_string_equal(e.tenant_id.c_str(), "demo");
    assert_string_equal(e.actor_id.c_str(), "sub-1");
  }
}

void purpose_required(void**) {
  Fixture f;
  f.req.headers.clear();
  f.req.headers.emplace("x-purpose", "  ");
  HttpResponse r = f.run();
  assert_int_equal(r.status, 400);
  JsonPtr j = must_parse(r.body);
  assert_string_equal(get_str(j.get(), {"field"}).c_str(), "X-Purpose");
  assert_true(get_str(j.get(), {"detail"}).find("X-Purpose") != std::string::npos);
  assert_int_equal(f.work_calls, 0);
  assert_int_equal(f.pdp.calls, 0);
}

// Core's purpose rule (purpose.h), the one nginx applies: exactly one
// X-Purpose line. An empty line followed by a real one is refused, not read
// as the real one or as empty (issue 8, item 7a).
void purpose_needs_exactly_one_line(void**) {
  for (const std::vector<std::string>& lines : std::vector<std::vector<std::string>>{
           {"", "onboarding"}, {"onboarding", "other"}, {"onboarding", "onboarding"}}) {
    Fixture f;
    f.req.headers.clear();
    for (const std::string& l : lines) f.req.headers.emplace("x-purpose", l);
    HttpResponse r = f.run();
    assert_int_equal(r.status, 400);
    JsonPtr j = must_parse(r.body);
    assert_string_equal(get_str(j.get(), {"field"}).c_str(), "X-Purpose");
    assert_string_equal(get_str(j.get(), {"detail"}).c_str(),
                        realm_auth::purpose_problem(realm_auth::PurposeCheck::kSeveral));
    assert_int_equal(f.work_calls, 0);
    assert_int_equal(f.ledger.events.size(), 0);
  }
}

void purpose_value_rules(void**) {
  struct Case {
    std::string value;
    realm_auth::PurposeCheck want;
  };
  for (const Case& c : {Case{std::string(501, 'p'), realm_auth::PurposeCheck::kTooLong},
                        Case{"a\x01b", realm_auth::PurposeCheck::kControlBytes},
                        Case{" \t ", realm_auth::PurposeCheck::kMissing}}) {
    Fixture f;
    f.req.headers.clear();
    f.req.headers.emplace("x-purpose", c.value);
    HttpResponse r = f.run();
    assert_int_equal(r.status, 400);
    JsonPtr j = must_parse(r.body);
    assert_string_equal(get_str(j.get(), {"detail"}).c_str(), realm_auth::purpose_problem(c.want));
  }
  Fixture f;  // trimmed, then used
  f.req.headers.clear();
  f.req.headers.emplace("x-purpose", "  onboarding\t");
  assert_int_equal(f.run().status, 201);
}

void deny_is_403_after_audit(void**) {
  Fixture f;
  f.pdp.allow = false;
  HttpResponse r = f.run();
  assert_int_equal(r.status, 403);
  assert_true(get_str(must_parse(r.body).get(), {"detail"}).find("tenant actors") !=
              std::string::npos);
  assert_string_equal(f.types().c_str(), "REQUEST,AUTHZ_DECISION");
  assert_string_equal(f.ledger.events[1].decision.c_str(), "deny");
  assert_int_equal(f.work_calls, 0);
}

void no_audit_no_work(void**) {
  for (int at : {0, 1}) {
    Fixture f;
    f.ledger.fail_at = at;
    HttpResponse r = f.run();
    assert_int_equal(r.status, 503);
    assert_int_equal(f.work_calls, 0);
  }
}

void failed_mutation_is_recorded(void**) {
  Fixture f;
  f.work_status = 503;
  HttpResponse r = f.run();
  assert_int_equal(r.status, 503);
  assert_string_equal(f.types().c_str(), "REQUEST,AUTHZ_DECISION,PROVISIONING_FAILED");
  assert_string_equal(f.ledger.events[2].reason.c_str(), "HTTP 503");
}

void reads_have_no_outcome_event(void**) {
  Fixture f;
  f.op = GovernedOp{"tenant.read", Resource{"tenant", "demo", ""}, ""};
  f.work_status = 404;
  assert_int_equal(f.run().status, 404);
  assert_string_equal(f.types().c_str(), "REQUEST,AUTHZ_DECISION");
  Fixture ok;
  ok.op = f.op;
  ok.work_status = 200;
  assert_int_equal(ok.run().status, 200);
  assert_string_equal(ok.types().c_str(), "REQUEST,AUTHZ_DECISION");
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(happy_path_order),
      cmocka_unit_test(purpose_required),
      cmocka_unit_test(purpose_needs_exactly_one_line),
      cmocka_unit_test(purpose_value_rules),
      cmocka_unit_test(deny_is_403_after_audit),
      cmocka_unit_test(no_audit_no_work),
      cmocka_unit_test(failed_mutation_is_recorded),
      cmocka_unit_test(reads_have_no_outcome_event),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
