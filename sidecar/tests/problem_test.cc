// problem+json rendering (RFC 9457).
#include "http/problem.h"

#include "sidecar_test.h"

using namespace realm_sidecar;

namespace {

void renders_members(void**) {
  HttpResponse r = problem(400, "slug must be a lowercase DNS label", "slug", "rid1");
  assert_int_equal(r.status, 400);
  assert_string_equal(r.content_type.c_str(), "application/problem+json");
  JsonPtr j = must_parse(r.body);
  assert_string_equal(get_str(j.get(), {"type"}).c_str(), "about:blank");
  assert_string_equal(get_str(j.get(), {"title"}).c_str(), "Bad Request");
  assert_int_equal(json_integer_value(json_object_get(j.get(), "status")), 400);
  assert_string_equal(get_str(j.get(), {"detail"}).c_str(), "slug must be a lowercase DNS label");
  assert_string_equal(get_str(j.get(), {"field"}).c_str(), "slug");
  assert_string_equal(get_str(j.get(), {"request_id"}).c_str(), "rid1");
}

void omits_empty_extensions(void**) {
  JsonPtr j = must_parse(problem(404, "no tenant 'x'").body);
  assert_null(json_object_get(j.get(), "field"));
  assert_null(json_object_get(j.get(), "request_id"));
  assert_string_equal(get_str(j.get(), {"title"}).c_str(), "Not Found");
}

void escapes_detail(void**) {
  std::string evil = "\"}\n<script>\x01";
  JsonPtr j = must_parse(problem(400, evil, "f\"").body);
  assert_string_equal(get_str(j.get(), {"detail"}).c_str(), evil.c_str());
}

void reasons(void**) {
  assert_string_equal(http_reason(409), "Conflict");
  assert_string_equal(http_reason(503), "Service Unavailable");
  assert_string_equal(http_reason(418), "Error");
}

void unauthorized_challenges(void**) {
  HttpResponse none = unauthorized(realm_auth::Status::kTokenMissing);
  assert_int_equal(none.status, 401);
  assert_string_equal(none.headers.at(0).first.c_str(), "WWW-Authenticate");
  assert_string_equal(none.headers.at(0).second.c_str(), "Bearer");
  HttpResponse bad = unauthorized(realm_auth::Status::kExpired);
  assert_string_equal(bad.headers.at(0).second.c_str(),
                      "Bearer error=\"invalid_token\", error_description=\"token expired\"");
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(renders_members),         cmocka_unit_test(omits_empty_extensions),
      cmocka_unit_test(escapes_detail),          cmocka_unit_test(reasons),
      cmocka_unit_test(unauthorized_challenges),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
