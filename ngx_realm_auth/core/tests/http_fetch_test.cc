// http_get against a local server: limits, no redirects, errors.
#include "http_fetch.h"

#include <cstring>
#include <string>

#include "cmocka_cxx.h"
#include "http_server.h"

using namespace realm_auth;

namespace {

void fetches_a_body(void**) {
  test::HttpServer server;
  server.respond(200, R"({"keys":[]})");
  FetchResult r =
      http_get(server.base_url() + "/realms/x/protocol/openid-connect/certs", 2000, 1024);
  assert_true(r.ok);
  assert_int_equal(r.http_status, 200);
  assert_string_equal(r.body.c_str(), R"({"keys":[]})");
  assert_true(r.error.empty());
  assert_string_equal(server.last_path().c_str(), "/realms/x/protocol/openid-connect/certs");
}

void non_200_is_an_error(void**) {
  test::HttpServer server;
  server.respond(500, "oops");
  FetchResult r = http_get(server.base_url(), 2000, 1024);
  assert_false(r.ok);
  assert_int_equal(r.http_status, 500);
  assert_true(r.body.empty());
  assert_false(r.error.empty());
}

void redirects_not_followed(void**) {
  test::HttpServer server;
  server.respond(302, "", "Location: " + server.base_url() + "/elsewhere\r\n");
  FetchResult r = http_get(server.base_url() + "/start", 2000, 1024);
  assert_false(r.ok);
  assert_int_equal(r.http_status, 302);
  assert_int_equal(server.requests(), 1);
}

void body_limit(void**) {
  test::HttpServer server;
  server.respond(200, std::string(2000, 'x'));
  FetchResult r = http_get(server.base_url(), 2000, 1999);  // refused on Content-Length
  assert_false(r.ok);
  assert_true(r.body.empty());
  assert_non_null(std::strstr(r.error.c_str(), "larger"));
  server.set_send_length(false);  // refused while streaming
  r = http_get(server.base_url(), 2000, 1999);
  assert_false(r.ok);
  assert_non_null(std::strstr(r.error.c_str(), "larger"));
  r = http_get(server.base_url(), 2000, 2000);  // exactly the limit is fine
  assert_true(r.ok);
  assert_int_equal(r.body.size(), 2000);
}

void timeout(void**) {
  test::HttpServer server;
  server.respond(200, "{}");
  server.set_delay_ms(1500);
  FetchResult r = http_get(server.base_url(), 200, 1024);
  assert_false(r.ok);
  assert_int_equal(r.http_status, 0);
  assert_false(r.error.empty());
}

void refused_connection_and_schemes(void**) {
  int port;
  {
    test::HttpServer closed;  // its port is free again once it is gone
    port = std::stoi(closed.base_url().substr(closed.base_url().rfind(':') + 1));
  }
  FetchResult r = http_get("http://127.0.0.1:" + std::to_string(port) + "/", 1000, 1024);
  assert_false(r.ok);
  assert_int_equal(r.http_status, 0);
  for (const char* url :
       {"file:///etc/hostname", "ftp://127.0.0.1/x", "gopher://127.0.0.1/", "dict://127.0.0.1/"}) {
    r = http_get(url, 1000, 1024);
    assert_false(r.ok);
  }
}

void certs_url(void**) {
  assert_string_equal(jwks_url("http://kc:8080/realms/tenant-a").c_str(),
                      "http://kc:8080/realms/tenant-a/protocol/openid-connect/certs");
}

}  // namespace

int main() {
  http_fetch_global_init();
  http_fetch_global_init();  // idempotent
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(fetches_a_body),
      cmocka_unit_test(non_200_is_an_error),
      cmocka_unit_test(redirects_not_followed),
      cmocka_unit_test(body_limit),
      cmocka_unit_test(timeout),
      cmocka_unit_test(refused_connection_and_schemes),
      cmocka_unit_test(certs_url),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
