// router: the route table, 404 and 405.
#include "http/router.h"

#include "sidecar_test.h"

using namespace realm_sidecar;

namespace {

Handler tag(const std::string& name) {
  return [name](const HttpRequest&, const PathParams& p) {
    HttpResponse r;
    r.body = name;
    for (const auto& kv : p) r.body += " " + kv.first + "=" + kv.second;
    return r;
  };
}

Router make() {
  return Router({{"POST", "/tenants", tag("create")},
                 {"GET", "/tenants", tag("list")},
                 {"GET", "/tenants/{tenant_id}", tag("get")},
                 {"POST", "/tenants/{tenant_id}/users", tag("user")},
                 {"POST", "/tenants/{tenant_id}/secrets/tenant-services:rotate", tag("rotate")},
                 {"POST", "/tenants/{tenant_id}/keys:rotate", tag("keys-rotate")},
                 {"POST", "/tenants/{tenant_id}/keys/{kid}:retire", tag("retire")}});
}

HttpResponse go(const Router& r, const char* method, const char* path) {
  HttpRequest req;
  req.method = method;
  req.path = path;
  return r.dispatch(req);
}

void matches(void**) {
  Router r = make();
  assert_string_equal(go(r, "POST", "/tenants").body.c_str(), "create");
  assert_string_equal(go(r, "GET", "/tenants").body.c_str(), "list");
  assert_string_equal(go(r, "GET", "/tenants/demo").body.c_str(), "get tenant_id=demo");
  assert_string_equal(go(r, "POST", "/tenants/demo/users").body.c_str(), "user tenant_id=demo");
  assert_string_equal(go(r, "POST", "/tenants/a/secrets/tenant-services:rotate").body.c_str(),
                      "rotate tenant_id=a");
  assert_string_equal(go(r, "POST", "/tenants/a/keys:rotate").body.c_str(),
                      "keys-rotate tenant_id=a");
  assert_string_equal(go(r, "POST", "/tenants/a/keys/k1:retire").body.c_str(),
                      "retire kid=k1 tenant_id=a");
  // The capture is everything before the last ":retire".
  assert_string_equal(go(r, "POST", "/tenants/a/keys/x:retire:retire").body.c_str(),
                      "retire kid=x:retire tenant_id=a");
}

void not_found(void**) {
  Router r = make();
  for (const char* p : {"/", "/tenant", "/tenants/", "/tenants//users", "/tenants/a/users/x",
                        "/tenants/a/secrets/other:rotate", "tenants", "/tenants/a/keys/:retire",
                        "/tenants/a/keys/k1", "/tenants/a/keys/k1:retir", "/tenants/a/keys/retire",
                        "/tenants/a/keys/k1:retire/x"}) {
    HttpResponse resp = go(r, "GET", p);
    if (resp.status != 404 && resp.status != 405) fail_msg("%s gave %d", p, resp.status);
  }
  HttpResponse resp = go(r, "GET", "/nope");
  assert_int_equal(resp.status, 404);
  assert_string_equal(resp.content_type.c_str(), "application/problem+json");
}

void method_not_allowed(void**) {
  Router r = make();
  HttpResponse resp = go(r, "DELETE", "/tenants");
  assert_int_equal(resp.status, 405);
  bool allow = false;
  for (const auto& h : resp.headers) {
    if (h.first == "Allow") {
      allow = true;
      assert_string_equal(h.second.c_str(), "POST, GET");
    }
  }
  assert_true(allow);
}

void match_function(void**) {
  PathParams p;
  assert_true(Router::match("/a/{x}/b", "/a/1/b", p));
  assert_string_equal(p["x"].c_str(), "1");
  assert_false(Router::match("/a/{x}/b", "/a//b", p));
  assert_false(Router::match("/a/{x}", "/a/1/", p));
  assert_false(Router::match("/a", "", p));
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(matches),
      cmocka_unit_test(not_found),
      cmocka_unit_test(method_not_allowed),
      cmocka_unit_test(match_function),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
