// The user's life, without Keycloak: query and patch rules, the JSON of a
// user (the service account recognised), which field a Keycloak 409 is
// about, the strict PATCH body (nested roles), the realm's security settings
// and their drift, and the revocation step against a recording publisher
// (what it is asked to publish; a refusal answered as 503 and recorded in
// the outcome event, through governed_call with a recording ledger).
#include "provisioning/user_life.h"

#include <map>
#include <vector>

#include "api/body.h"
#include "api/revocation_step.h"
#include "keycloak/realm_spec.h"
#include "provisioning/realm_settings_upgrade.h"
#include "provisioning/user_provisioning.h"
#include "sidecar_test.h"

using namespace realm_sidecar;
using realm_auth::RevocationKind;
using realm_auth::RevocationRecord;

namespace {

// Records every call; answers publish() with `accept`.
class RecordingPublisher final : public RevocationPublisher {
 public:
  bool accept = true;
  std::vector<RevocationRecord> made, published;
  bool publish(const RevocationRecord& r, std::string& error) override {
    published.push_back(r);
    if (!accept) error = "PostgreSQL is unreachable";
    return accept;
  }
  RevocationRecord make(RevocationKind kind, const std::string& tenant,
                        const std::string& subject) const override {
    RevocationRecord r;
    r.kind = kind;
    r.tenant = tenant;
    r.subject = subject;
    r.not_before = 1764579601;
    r.expires = 1764579961;
    const_cast<RecordingPublisher*>(this)->made.push_back(r);
    return r;
  }
};

struct FakeLedger : AuditLedger {
  std::vector<AuditEvent> events;
  bool append(const AuditEvent& e) override {
    events.push_back(e);
    return true;
  }
  bool tail(const std::string&, const std::string&, int, std::vector<AuditRow>&) override {
    return false;
  }
  bool verify(int64_t&, int64_t&, std::string&) override { return false; }
};

struct AllowAll : PolicyDecisionPoint {
  Decision authorize(const AuthorizeRequest&) override { return Decision{true, "test"}; }
};

// DELETE's tail through governed_call: published → 204 and USER_DELETED with
// the record; refused → 503, PROVISIONING_FAILED with published:false and
// the publisher's reason, and the success answer never built.
HttpResponse governed_delete(RecordingPublisher& p, FakeLedger& ledger, int& answered) {
  AllowAll pdp;
  Governance g{ledger, pdp};
  HttpRequest req;
  req.request_id = "r1";
  req.headers.emplace("x-purpose", "leaver");
  Actor actor{"sub-1", "", "platform", {"platform_admin"}, "operator", "", ""};
  GovernedOp op{"user.delete", Resource{"user", "demo", "u1"}, "USER_DELETED"};
  return governed_call(g, req, actor, op, [&]() {
    JsonPtr details = must_parse(R"({"user_id":"u1","username":"alice"})");
    return revoke_and_answer(req, p, RevocationKind::kUser, "demo", "u1", details.get(),
                             "the user was deleted in Keycloak", "", [&](const RevocationStep&) {
                               answered++;
                               HttpResponse r;
                               r.status = 204;
                               return r;
                             });
  });
}

void revocation_in_the_outcome_event(void**) {
  RecordingPublisher ok;
  FakeLedger l1;
  int answered = 0;
  HttpResponse r = governed_delete(ok, l1, answered);
  assert_int_equal(r.status, 204);
  assert_int_equal(answered, 1);
  assert_int_equal(l1.events.size(), 3);
  assert_string_equal(l1.events[2].event_type.c_str(), "USER_DELETED");
  JsonPtr d1 = must_parse(l1.events[2].details_json);
  assert_string_equal(get_str(d1.get(), {"revocation", "subject"}).c_str(), "u1");
  assert_true(json_is_true(json_object_get(json_object_get(d1.get(), "revocation"), "published")));

  RecordingPublisher refuses;
  refuses.accept = false;
  FakeLedger l2;
  answered = 0;
  r = governed_delete(refuses, l2, answered);
  assert_int_equal(r.status, 503);
  assert_int_equal(answered, 0);
  assert_int_equal(refuses.published.size(), 1);
  assert_string_equal(l2.events[2].event_type.c_str(), "PROVISIONING_FAILED");
  assert_true(l2.events[2].reason.find("PostgreSQL is unreachable") != std::string::npos);
  JsonPtr d2 = must_parse(l2.events[2].details_json);
  assert_true(json_is_false(json_object_get(json_object_get(d2.get(), "revocation"), "published")));
  assert_string_equal(get_str(d2.get(), {"username"}).c_str(), "alice");
}

bool query_ok(std::map<std::string, std::string> q, UserQuery& out, std::string& field) {
  std::string detail;
  bool ok = parse_user_query(q, out, field, detail);
  if (!ok) assert_false(detail.empty());
  return ok;
}

void query_rules(void**) {
  UserQuery q;
  std::string field;
  assert_true(query_ok({}, q, field));
  assert_int_equal(q.first, 0);
  assert_int_equal(q.max, kUserPageDefault);
  assert_true(query_ok({{"first", "40"}, {"max", "100"}, {"search", "ali"}, {"username", "bob"}}, q,
                       field));
  assert_int_equal(q.first, 40);
  assert_int_equal(q.max, 100);
  assert_string_equal(q.search.c_str(), "ali");
  assert_string_equal(q.username.c_str(), "bob");
  const std::pair<std::map<std::string, std::string>, const char*> bad[] = {
      {{{"max", "0"}}, "max"},          {{{"max", "101"}}, "max"},
      {{{"max", "1e2"}}, "max"},        {{{"first", "-1"}}, "first"},
      {{{"first", "100001"}}, "first"}, {{{"first", ""}}, "first"},
      {{{"search", ""}}, "search"},     {{{"search", std::string(101, 'a')}}, "search"},
      {{{"search", "a\nb"}}, "search"}, {{{"username", "Bob"}}, "username"},
      {{{"page", "2"}}, "page"},
  };
  for (const auto& c : bad) {
    UserQuery out;
    if (query_ok(c.first, out, field)) fail_msg("accepted a query that names %s", c.second);
    assert_string_equal(field.c_str(), c.second);
  }
}

void user_ids(void**) {
  assert_true(plausible_user_id("ae0df6ce-dee0-442f-a050-87844533154e"));
  for (std::string bad : {std::string(""), std::string("a/b"), std::string(".."),
                          std::string("a%2fb"), std::string("a b"), std::string(65, 'a')}) {
    if (plausible_user_id(bad)) fail_msg("'%s' accepted", bad.c_str());
  }
}

void user_json(void**) {
  JsonPtr rep = must_parse(
      R"({"id":"u1","username":"alice","email":"a@x.org","firstName":"A","lastName":"L",)"
      R"("enabled":true,"createdTimestamp":1700000000000,"requiredActions":["UPDATE_PASSWORD"],)"
      R"("attributes":{"department_id":["finance"]},"credentials":[{"value":"never"}]})");
  TenantUser u = tenant_user_from(rep.get());
  assert_false(u.service_account);
  assert_string_equal(u.department_id.c_str(), "finance");
  u.roles = {"officer"};
  JsonPtr j = tenant_user_json(u, "demo");
  assert_string_equal(get_str(j.get(), {"user_id"}).c_str(), "u1");
  assert_string_equal(get_str(j.get(), {"department_id"}).c_str(), "finance");
  assert_true(json_is_true(json_object_get(j.get(), "enabled")));
  assert_null(json_object_get(j.get(), "credentials"));
  assert_null(json_object_get(j.get(), "service_account"));
  assert_true(json_text(j.get()).find("never") == std::string::npos);

  JsonPtr sa = must_parse(R"({"id":"s1","username":"service-account-tenant-services",)"
                          R"("serviceAccountClientId":"c1","enabled":true})");
  TenantUser s = tenant_user_from(sa.get());
  assert_true(s.service_account);
  assert_false(refuse_service_account(s).ok());
  assert_int_equal(refuse_service_account(s).status, 409);
  assert_true(refuse_service_account(u).ok());
  // The prefix alone is enough (a representation without the member).
  assert_true(
      tenant_user_from(must_parse(R"({"username":"service-account-x"})").get()).service_account);
}

bool patch_ok(const UserPatch& p, std::string& field) {
  std::string detail;
  bool ok = check_user_patch(p, field, detail);
  if (!ok) assert_false(detail.empty());
  return ok;
}

void patch_rules(void**) {
  std::string field;
  UserPatch none;
  assert_false(patch_ok(none, field));
  UserPatch p;
  p.set_enabled = true;
  assert_true(patch_ok(p, field));
  p.roles_add = {"root"};
  assert_false(patch_ok(p, field));
  assert_string_equal(field.c_str(), "roles.add[0]");
  p.roles_add = {"auditor", "auditor"};
  assert_false(patch_ok(p, field));
  assert_string_equal(field.c_str(), "roles.add[1]");
  p.roles_add = {"auditor"};
  p.roles_remove = {"officer", "auditor"};
  assert_false(patch_ok(p, field));
  assert_string_equal(field.c_str(), "roles.remove[1]");
  p.roles_remove = {"officer"};
  assert_true(patch_ok(p, field));
  p.set_department = true;
  p.department_id = "Finance";
  assert_false(patch_ok(p, field));
  assert_string_equal(field.c_str(), "department_id");
  p.department_id = "";  // null: leave the department
  assert_true(patch_ok(p, field));

  UserPatch r;
  r.roles_add = {"tenant_admin"};
  r.roles_remove = {"officer"};
  std::vector<std::string> after = roles_after({"officer", "auditor"}, r);
  assert_int_equal(after.size(), 2);
  assert_string_equal(after[0].c_str(), "tenant_admin");  // tenant_roles() order
  assert_string_equal(after[1].c_str(), "auditor");
  UserPatch all;
  all.roles_remove = {"officer"};
  assert_true(roles_after({"officer"}, all).empty());
}

void revocation_rule(void**) {
  UserChanges c;
  assert_false(changes_need_revocation(c));
  c.enabled_changed = true;
  c.enabled = true;
  assert_false(changes_need_revocation(c));  // enabling revokes nothing
  c.enabled = false;
  assert_true(changes_need_revocation(c));
  UserChanges roles;
  roles.roles_added = {"auditor"};
  assert_false(changes_need_revocation(roles));
  roles.roles_removed = {"officer"};
  assert_true(changes_need_revocation(roles));
  UserChanges dept;
  dept.department_changed = true;
  dept.department_to = "ops";
  assert_false(changes_need_revocation(dept));
  JsonPtr j = user_changes_json(roles);
  assert_string_equal(json_text(j.get()).c_str(),
                      R"({"roles_added":["auditor"],"roles_removed":["officer"]})");
}

void conflicts(void**) {
  assert_string_equal(conflict_field("HTTP 409 User exists with same username").c_str(),
                      "username");
  assert_string_equal(conflict_field("HTTP 409 User exists with same email").c_str(), "email");
  assert_string_equal(conflict_field("HTTP 409 User exists with same username or email").c_str(),
                      "");
  assert_string_equal(conflict_field("HTTP 409 ").c_str(), "");
}

HttpRequest patch_request(const std::string& body) {
  HttpRequest r;
  r.method = "PATCH";
  r.body = body;
  r.request_id = "rid";
  return r;
}

// The PATCH body reader: nested roles, unknown members named.
void patch_body(void**) {
  struct Case {
    const char* body;
    const char* field;  // nullptr: accepted
  } cases[] = {
      {R"({"roles":{"add":["officer"],"remove":["auditor"]}})", nullptr},
      {R"({"roles":{"add":["officer"],"drop":["x"]}})", "roles.drop"},
      {R"({"roles":["officer"]})", "roles"},
      {R"({"roles":{"add":"officer"}})", "roles.add"},
      {R"({"roles":{"remove":[1]}})", "roles.remove"},
      {R"({"department_id":""})", "department_id"},
      {R"({"department_id":7})", "department_id"},
      {R"({"department_id":null})", nullptr},
  };
  for (const Case& c : cases) {
    HttpRequest req = patch_request(c.body);
    BodyReader b(req);
    std::vector<std::string> add, remove;
    std::string dept;
    bool roles = false, present = false, null_value = false;
    bool ok = b.parse() && b.object("roles", {"add", "remove"}, roles) &&
              b.nested_string_array("roles", "add", add) &&
              b.nested_string_array("roles", "remove", remove) &&
              b.nullable_string("department_id", dept, present, null_value);
    if (c.field == nullptr) {
      if (!ok) fail_msg("%s refused: %s", c.body, b.error().body.c_str());
      continue;
    }
    if (ok) fail_msg("%s accepted", c.body);
    JsonPtr err = must_parse(b.error().body);
    assert_string_equal(get_str(err.get(), {"field"}).c_str(), c.field);
  }
}

void security_settings(void**) {
  JsonPtr want = realm_security_settings();
  std::string policy = get_str(want.get(), {"passwordPolicy"});
  assert_true(policy.find("length(12)") != std::string::npos);
  assert_true(policy.find("notUsername") != std::string::npos);
  assert_true(json_is_true(json_object_get(want.get(), "bruteForceProtected")));
  assert_true(json_is_false(json_object_get(want.get(), "permanentLockout")));
  // Part of every new realm.
  JsonPtr realm = realm_representation(RealmSpecInput{"demo", "Demo", {}, {}, ""});
  assert_true(realm_settings_drift(realm.get(), want.get()).empty());
  // A realm without them, or with one changed, drifts on exactly those.
  JsonPtr bare = must_parse(R"({"realm":"tenant-demo","bruteForceProtected":false})");
  assert_int_equal(realm_settings_drift(bare.get(), want.get()).size(),
                   json_object_size(want.get()));
  JsonPtr one = must_parse(json_text(want.get()));
  json_set(one.get(), "failureFactor", 30LL);
  std::vector<std::string> drift = realm_settings_drift(one.get(), want.get());
  assert_int_equal(drift.size(), 1);
  assert_string_equal(drift[0].c_str(), "failureFactor");
}

void revocation_published(void**) {
  RecordingPublisher p;
  RevocationStep s = publish_revocation(p, RevocationKind::kUser, "demo", "u1");
  assert_true(s.published);
  assert_int_equal(p.made.size(), 1);
  assert_int_equal(p.published.size(), 1);
  assert_true(p.published[0].kind == RevocationKind::kUser);
  assert_string_equal(p.published[0].tenant.c_str(), "demo");
  assert_string_equal(p.published[0].subject.c_str(), "u1");
  JsonPtr d(json_object());
  record_revocation(d.get(), s);
  assert_string_equal(json_text(d.get()).c_str(),
                      R"({"revocation":{"kind":"user","subject":"u1","not_before":1764579601,)"
                      R"("expires":1764579961,"published":true}})");
  RevocationStep t = publish_revocation(p, RevocationKind::kTenant, "demo", "");
  JsonPtr dt(json_object());
  record_revocation(dt.get(), t);
  assert_null(json_object_get(json_object_get(dt.get(), "revocation"), "subject"));
  assert_string_equal(get_str(dt.get(), {"revocation", "kind"}).c_str(), "tenant");
}

void revocation_refused(void**) {
  RecordingPublisher p;
  p.accept = false;
  RevocationStep s = publish_revocation(p, RevocationKind::kUser, "demo", "u1");
  assert_false(s.published);
  assert_string_equal(s.error.c_str(), "PostgreSQL is unreachable");
  JsonPtr d(json_object());
  record_revocation(d.get(), s);
  assert_true(json_is_false(json_object_get(json_object_get(d.get(), "revocation"), "published")));
  assert_string_equal(get_str(d.get(), {"revocation", "error"}).c_str(),
                      "PostgreSQL is unreachable");
  HttpRequest req = patch_request("");
  HttpResponse r = revocation_unavailable(req, "the user was deleted in Keycloak", "retry", s);
  assert_int_equal(r.status, 503);
  JsonPtr body = must_parse(r.body);
  std::string detail = get_str(body.get(), {"detail"});
  assert_true(detail.find("the user was deleted in Keycloak") == 0);
  assert_true(detail.find("keep passing") != std::string::npos);
  // The publisher's internal reason goes to the log and the ledger only.
  assert_true(detail.find("PostgreSQL") == std::string::npos);
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(query_rules),
      cmocka_unit_test(user_ids),
      cmocka_unit_test(user_json),
      cmocka_unit_test(patch_rules),
      cmocka_unit_test(revocation_rule),
      cmocka_unit_test(conflicts),
      cmocka_unit_test(patch_body),
      cmocka_unit_test(security_settings),
      cmocka_unit_test(revocation_published),
      cmocka_unit_test(revocation_refused),
      cmocka_unit_test(revocation_in_the_outcome_event),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
