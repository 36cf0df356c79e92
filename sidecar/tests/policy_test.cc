// Built-in rules: the table of DESIGN.md as an explicit expectation matrix
// (written from the design, not from the code), the reasons, the checklist's
// early denials, and the JSON an external policy service receives.
#include <jansson.h>

#include <cstring>
#include <map>

#include "builtin_policy.h"
#include "governance_test.h"
#include "util/text.h"

using namespace realm_sidecar;
using realm_sidecar::test::actor;
using realm_sidecar::test::request;

namespace {

struct Row {
  const char* label;
  Actor who;
  // Expected allow for: tenant.create tenant.read tenant.list tenant.update
  // tenant.delete secret.rotate user.create user.read user.update user.delete
  // user.password.reset user.sessions.revoke tenant.sessions.revoke audit.read key.read
  // key.rotate key.retire
  const char* expect;
};

const char* const kActions[] = {"tenant.create",
                                "tenant.read",
                                "tenant.list",
                                "tenant.update",
                                "tenant.delete",
                                "secret.rotate",
                                "user.create",
                                "user.read",
                                "user.update",
                                "user.delete",
                                "user.password.reset",
                                "user.sessions.revoke",
                                "tenant.sessions.revoke",
                                "audit.read",
                                "key.read",
                                "key.rotate",
                                "key.retire"};
constexpr int kActionCount = sizeof kActions / sizeof kActions[0];

// The resource each action is asked about: tenant "demo", a new slug for
// tenant.create, nothing for tenant.list (audit.read of the whole ledger is
// in test_audit_read).
AuthorizeRequest ask(const Actor& who, const std::string& action) {
  std::string type = resource_type_for(action);
  std::string tenant = action == "tenant.list" ? "" : action == "tenant.create" ? "newco" : "demo";
  return request(who, action, type, tenant);
}

void test_role_matrix(void**) {
  const Row rows[] = {
      {"platform_admin of realm platform", actor("platform", {"platform_admin"}),
       "11111111111111111"},
      {"platform_admin role in a tenant realm", actor("tenant-demo", {"platform_admin"}),
       "00000000000000000"},
      {"tenant_admin of the same tenant", actor("tenant-demo", {"tenant_admin"}),
       "01100011111110100"},
      // tenant.list is allowed, scoped to the actor's own tenant (other).
      {"tenant_admin of another tenant", actor("tenant-other", {"tenant_admin"}),
       "00100000000000000"},
      {"officer", actor("tenant-demo", {"officer"}), "00000000000000000"},
      {"supervisor", actor("tenant-demo", {"supervisor"}), "00000000000000000"},
      {"auditor", actor("tenant-demo", {"auditor"}), "01100001000001100"},
      {"auditor of another tenant", actor("tenant-other", {"auditor"}), "00100000000000000"},
      {"no roles", actor("tenant-demo", {}), "00000000000000000"},
      {"no roles, platform realm", actor("platform", {}), "00000000000000000"},
  };
  int checked = 0;
  for (const Row& row : rows) {
    for (int i = 0; i < kActionCount; ++i) {
      Decision d = builtin_decide(ask(row.who, kActions[i]));
      bool want = row.expect[i] == '1';
      if (d.allow != want) {
        fail_msg("%s / %s: expected %s, got %s (%s)", row.label, kActions[i],
                 want ? "allow" : "deny", d.allow ? "allow" : "deny", d.reason.c_str());
      }
      assert_false(d.reason.empty());
      ++checked;
    }
  }
  assert_int_equal(checked, 10 * kActionCount);
}

void expect(const AuthorizeRequest& r, bool allow, const char* reason) {
  Decision d = builtin_decide(r);
  if (d.allow != allow || d.reason != reason) {
    fail_msg("expected %s \"%s\", got %s \"%s\"", allow ? "allow" : "deny", reason,
             d.allow ? "allow" : "deny", d.reason.c_str());
  }
}

void test_reasons(void**) {
  Actor pa = actor("platform", {"platform_admin"});
  Actor ta = actor("tenant-demo", {"tenant_admin"});
  Actor au = actor("tenant-demo", {"auditor"});
  expect(request(pa, "tenant.create", "tenant", "newco"), true, "platform_admin of realm platform");
  expect(request(ta, "user.create", "user", "demo"), true, "tenant_admin of tenant demo");
  expect(request(au, "user.read", "user", "demo"), true, "auditor of tenant demo");
  expect(request(au, "tenant.list", "tenant", ""), true, "scoped to own tenant demo (auditor)");
  expect(request(ta, "tenant.list", "tenant", "demo"), true,
         "scoped to own tenant demo (tenant_admin)");
  expect(request(ta, "tenant.list", "tenant", "other"), false,
         "actor of tenant demo may not act on tenant other");
  expect(request(ta, "user.create", "user", "other"), false,
         "actor of tenant demo may not act on tenant other");
  expect(
      request(au, "user.create", "user", "demo"), false,
      "user.create requires platform_admin of realm platform or tenant_admin of the same tenant");
  expect(request(ta, "tenant.delete", "tenant", "demo"), false,
         "tenant.delete requires platform_admin of realm platform");
  // The user's life: its own tenant's admin, never an auditor (reads only)
  // nor another tenant's admin.
  expect(request(ta, "user.delete", "user", "demo"), true, "tenant_admin of tenant demo");
  expect(request(ta, "tenant.sessions.revoke", "tenant", "demo"), true,
         "tenant_admin of tenant demo");
  expect(request(au, "user.sessions.revoke", "user", "demo"), false,
         "user.sessions.revoke requires platform_admin of realm platform or tenant_admin of the "
         "same tenant");
  expect(request(ta, "user.password.reset", "user", "other"), false,
         "actor of tenant demo may not act on tenant other");
  expect(request(ta, "user.update", "user", ""), false, "user.update needs resource.tenant_id");
  expect(request(pa, "tenant.sessions.revoke", "user", "demo"), false,
         "resource type 'user' does not fit action tenant.sessions.revoke (expected 'tenant')");
  expect(request(actor("tenant-demo", {"platform_admin"}), "tenant.create", "tenant", "x"), false,
         "tenant.create requires platform_admin of realm platform; platform_admin counts only in "
         "realm platform");
  expect(request(actor("tenant-demo", {"platform_admin"}), "tenant.read", "tenant", "demo"), false,
         "tenant.read requires platform_admin of realm platform or tenant_admin/auditor of the "
         "same tenant; platform_admin counts only in realm platform");
}

// audit.read: platform_admin reads any tenant's rows and the whole ledger
// (resource.tenant_id empty); a tenant's auditor only its own tenant's rows.
void test_audit_read(void**) {
  Actor pa = actor("platform", {"platform_admin"});
  Actor au = actor("tenant-demo", {"auditor"});
  Actor ta = actor("tenant-demo", {"tenant_admin"});
  expect(request(pa, "audit.read", "audit", "demo"), true, "platform_admin of realm platform");
  expect(request(pa, "audit.read", "audit", ""), true, "platform_admin of realm platform");
  expect(request(au, "audit.read", "audit", "demo"), true, "auditor of tenant demo");
  expect(request(au, "audit.read", "audit", "other"), false,
         "actor of tenant demo may not act on tenant other");
  expect(request(au, "audit.read", "audit", ""), false,
         "audit.read of all tenants requires platform_admin of realm platform");
  expect(request(actor("tenant-demo", {"auditor", "platform_admin"}), "audit.read", "audit", ""),
         false,
         "audit.read of all tenants requires platform_admin of realm platform; platform_admin "
         "counts only in realm platform");
  expect(request(ta, "audit.read", "audit", "demo"), false,
         "audit.read requires platform_admin of realm platform or auditor of the same tenant");
  expect(request(actor("tenant-demo", {"officer"}), "audit.read", "audit", "demo"), false,
         "audit.read requires platform_admin of realm platform or auditor of the same tenant");
  expect(request(actor("platform", {"auditor"}), "audit.read", "audit", ""), false,
         "audit.read requires platform_admin of realm platform or auditor of the same tenant");
  expect(request(pa, "audit.read", "tenant", "demo"), false,
         "resource type 'tenant' does not fit action audit.read (expected 'audit')");
  expect(request(au, "audit.read", "audit", "demo", ""), false,
         "missing purpose (X-Purpose is required)");
}

// Signing keys: reading is tenant_admin's and auditor's of the same tenant;
// rotating and retiring only platform_admin's (a tenant_admin retiring with
// no grace period would log the whole tenant out, and the keys are the
// realm's trust anchor for every nginx).
void test_key_actions(void**) {
  Actor pa = actor("platform", {"platform_admin"});
  Actor ta = actor("tenant-demo", {"tenant_admin"});
  Actor au = actor("tenant-demo", {"auditor"});
  expect(request(pa, "key.rotate", "key", "demo"), true, "platform_admin of realm platform");
  expect(request(pa, "key.retire", "key", "demo"), true, "platform_admin of realm platform");
  expect(request(ta, "key.read", "key", "demo"), true, "tenant_admin of tenant demo");
  expect(request(au, "key.read", "key", "demo"), true, "auditor of tenant demo");
  expect(request(ta, "key.read", "key", "other"), false,
         "actor of tenant demo may not act on tenant other");
  expect(request(ta, "key.rotate", "key", "demo"), false,
         "key.rotate requires platform_admin of realm platform");
  expect(request(ta, "key.retire", "key", "demo"), false,
         "key.retire requires platform_admin of realm platform");
  expect(request(actor("tenant-demo", {"officer"}), "key.read", "key", "demo"), false,
         "key.read requires platform_admin of realm platform or tenant_admin/auditor of the same "
         "tenant");
  expect(request(pa, "key.retire", "key", ""), false, "key.retire needs resource.tenant_id");
  expect(request(pa, "key.rotate", "secret", "demo"), false,
         "resource type 'secret' does not fit action key.rotate (expected 'key')");
}

void test_early_denials(void**) {
  Actor pa = actor("platform", {"platform_admin"});
  expect(request(pa, "tenant.create", "tenant", "x", ""), false,
         "missing purpose (X-Purpose is required)");
  expect(request(pa, "tenant.create", "tenant", "x", " \t "), false,
         "missing purpose (X-Purpose is required)");
  expect(request(pa, "tenant.explode", "tenant", "x"), false, "unknown action 'tenant.explode'");
  expect(request(pa, "", "tenant", "x"), false, "unknown action ''");
  expect(request(pa, "TENANT.CREATE", "tenant", "x"), false, "unknown action 'TENANT.CREATE'");
  expect(request(actor("platform", {"platform_admin"}, ""), "tenant.create", "tenant", "x"), false,
         "no authenticated actor");
  expect(request(pa, "user.create", "tenant", "demo"), false,
         "resource type 'tenant' does not fit action user.create (expected 'user')");
  expect(request(pa, "secret.rotate", "secret", ""), false,
         "secret.rotate needs resource.tenant_id");
  // Unknown action beats missing purpose: the reason names the first check.
  expect(request(pa, "nope", "tenant", "x", ""), false, "unknown action 'nope'");
}

void test_realm_must_match_tenant(void**) {
  Actor a = actor("tenant-other", {"tenant_admin"});
  a.tenant_id = "demo";  // claims demo, realm says other
  assert_false(builtin_decide(request(a, "tenant.read", "tenant", "demo")).allow);
  Actor b = actor("tenant-demo", {"tenant_admin"});
  b.tenant_id = "";
  assert_false(builtin_decide(request(b, "tenant.list", "tenant", "")).allow);
  Actor c = actor("Platform", {"platform_admin"});
  assert_false(builtin_decide(request(c, "tenant.create", "tenant", "x")).allow);
  Actor d = actor("platform", {"Platform_Admin"});
  assert_false(builtin_decide(request(d, "tenant.create", "tenant", "x")).allow);
}

void test_pdp_interface(void**) {
  auto pdp = make_builtin_policy();
  Decision d = pdp->authorize(
      request(actor("platform", {"platform_admin"}), "secret.rotate", "secret", "demo"));
  assert_true(d.allow);
  assert_int_equal(known_actions().size(), 17);
  assert_string_equal(resource_type_for("key.retire").c_str(), "key");
  assert_string_equal(resource_type_for("audit.read").c_str(), "audit");
  assert_string_equal(resource_type_for("secret.rotate").c_str(), "secret");
  assert_string_equal(resource_type_for("nope").c_str(), "");
}

// Every generated case is decided with a reason; denials dominate.
void test_generated_matrix_total(void**) {
  int allow = 0, total = 0;
  for (const auto& c : test::decision_matrix()) {
    Decision d = builtin_decide(c.request);
    if (d.reason.empty()) fail_msg("%s: empty reason", c.label.c_str());
    allow += d.allow;
    ++total;
  }
  print_message("builtin: %d of %d generated requests allowed\n", allow, total);
  assert_true(allow > 0 && allow < total);
}

void test_request_json(void**) {
  AuthorizeRequest r = request(actor("tenant-demo", {"tenant_admin", "auditor"}), "user.create",
                               "user", "demo", "onboard \"bob\"");
  r.actor.department_id = "ops";
  r.resource.id = "u-42";
  std::string text = authorize_request_json(r);
  assert_string_equal(
      text.c_str(),
      "{\"actor\":{\"actor_id\":\"user-1\",\"tenant_id\":\"demo\",\"realm\":\"tenant-demo\","
      "\"roles\":[\"tenant_admin\",\"auditor\"],\"username\":\"someone\",\"department_id\":\"ops\"}"
      ","
      "\"action\":\"user.create\",\"resource\":{\"type\":\"user\",\"tenant_id\":\"demo\",\"id\":"
      "\"u-42\"},\"purpose\":\"onboard \\\"bob\\\"\",\"context\":{\"request_id\":\"req-1\","
      "\"client_ip\":\"127.0.0.1\"}}");
  // Invalid UTF-8 and NUL in a header value still give valid JSON.
  r.purpose = std::string("bad \xff\xfe byte and \0 nul", 21);
  text = authorize_request_json(r);
  json_error_t err;
  json_t* j = json_loads(text.c_str(), 0, &err);
  assert_non_null(j);
  assert_string_equal(json_string_value(json_object_get(j, "purpose")),
                      "bad \xEF\xBF\xBD\xEF\xBF\xBD byte and \xEF\xBF\xBD nul");
  json_decref(j);
}

void test_sanitize_utf8(void**) {
  assert_string_equal(sanitize_utf8("plain ascii").c_str(), "plain ascii");
  assert_string_equal(sanitize_utf8("caf\xC3\xA9 \xF0\x9F\x94\x91").c_str(),
                      "caf\xC3\xA9 \xF0\x9F\x94\x91");
  assert_string_equal(sanitize_utf8("\xC0\xAF").c_str(), "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong
  assert_string_equal(sanitize_utf8("\xED\xA0\x80").c_str(),
                      "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");                         // surrogate
  assert_string_equal(sanitize_utf8("\xE2\x82").c_str(), "\xEF\xBF\xBD\xEF\xBF\xBD");  // truncated
  assert_string_equal(sanitize_utf8("\xF4\x90\x80\x80").substr(0, 3).c_str(), "\xEF\xBF\xBD");
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_role_matrix),   cmocka_unit_test(test_reasons),
      cmocka_unit_test(test_early_denials), cmocka_unit_test(test_realm_must_match_tenant),
      cmocka_unit_test(test_pdp_interface), cmocka_unit_test(test_generated_matrix_total),
      cmocka_unit_test(test_request_json),  cmocka_unit_test(test_sanitize_utf8),
      cmocka_unit_test(test_audit_read),    cmocka_unit_test(test_key_actions),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
