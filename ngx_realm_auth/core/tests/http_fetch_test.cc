// The one HTTP client wrapper (http_call / HttpSession, and http_get for
// JWKS) against a local server: limits, no redirects, errors, and the call
// shapes of its users (module JWKS GET, sidecar Keycloak Admin API with
// form/JSON bodies and Location, sidecar policy client reusing a session).
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

// The Keycloak Admin API shape: POST with headers and a form body, the
// Location of a 201 kept, the status returned as is (no "ok" filtering).
void post_with_headers_body_and_location(void**) {
  test::HttpServer server;
  server.respond(201, "", "Location: " + server.base_url() + "/admin/realms/x/users/42\r\n");
  HttpCall c;
  c.method = "POST";
  c.url = server.base_url() + "/realms/master/protocol/openid-connect/token";
  c.headers = {"Accept: application/json", "Content-Type: application/x-www-form-urlencoded"};
  c.body = "grant_type=client_credentials&client_id=" + url_escape("a b&c");
  c.timeout_ms = 2000;
  HttpAnswer a = http_call(c);
  assert_true(a.transported());
  assert_int_equal(a.status, 201);
  assert_string_equal(a.location.c_str(), (server.base_url() + "/admin/realms/x/users/42").c_str());
  std::string req = server.last_request();
  assert_int_equal(req.rfind("POST /realms/master/protocol/openid-connect/token HTTP/1.1\r\n", 0),
                   0);
  assert_non_null(
      std::strstr(req.c_str(), "\r\nContent-Type: application/x-www-form-urlencoded\r\n"));
  assert_non_null(
      std::strstr(req.c_str(), "\r\n\r\ngrant_type=client_credentials&client_id=a%20b%26c"));
  // PUT and DELETE go out with their method; a 4xx is an answer, not a failure.
  server.respond(404, R"({"errorMessage":"x"})");
  c.method = "PUT";
  c.body = R"({"enabled":false})";
  a = http_call(c);
  assert_true(a.transported());
  assert_int_equal(a.status, 404);
  assert_string_equal(a.body.c_str(), R"({"errorMessage":"x"})");
  assert_int_equal(server.last_request().rfind("PUT ", 0), 0);
  c.method = "DELETE";
  c.body.clear();
  a = http_call(c);
  assert_int_equal(server.last_request().rfind("DELETE ", 0), 0);
}

// The policy client's shape: one session reused for many POSTs keeps one
// connection; per-call options do not leak into the next call.
void session_reuses_its_connection(void**) {
  test::HttpServer server;
  server.set_keep_alive(true);
  server.respond(200, R"({"result":{"allow":true}})");
  HttpSession session;
  HttpCall c;
  c.method = "POST";
  c.url = server.base_url() + "/v1/data/realm_auth/decision";
  c.headers = {"Content-Type: application/json"};
  c.body = R"({"input":{}})";
  c.timeout_ms = 2000;
  for (int i = 0; i < 3; i++) {
    HttpAnswer a = session.perform(c);
    assert_true(a.transported());
    assert_int_equal(a.status, 200);
  }
  assert_int_equal(server.requests(), 3);
  assert_int_equal(server.connections(), 1);
  HttpCall get;
  get.url = server.base_url() + "/after";
  get.timeout_ms = 2000;
  HttpAnswer a = session.perform(get);
  assert_true(a.transported());
  std::string req = server.last_request();
  assert_int_equal(req.rfind("GET /after HTTP/1.1\r\n", 0), 0);
  assert_null(std::strstr(req.c_str(), "Content-Type: application/json"));  // previous header gone
}

// Failures are typed: the Admin client needs "provably not sent" to know a
// failed POST changed nothing; a timeout may have happened.
void failures_are_classified(void**) {
  int port;
  {
    test::HttpServer closed;
    port = std::stoi(closed.base_url().substr(closed.base_url().rfind(':') + 1));
  }
  HttpCall c;
  c.method = "POST";
  c.body = "{}";
  c.url = "http://127.0.0.1:" + std::to_string(port) + "/";
  c.timeout_ms = 1000;
  HttpAnswer a = http_call(c);
  assert_false(a.transported());
  assert_int_equal(static_cast<int>(a.failure), static_cast<int>(HttpAnswer::Failure::kNotSent));
  assert_int_equal(a.status, 0);

  test::HttpServer slow;
  slow.respond(200, "{}");
  slow.set_delay_ms(1500);
  c.url = slow.base_url();
  c.timeout_ms = 200;
  a = http_call(c);
  assert_int_equal(static_cast<int>(a.failure), static_cast<int>(HttpAnswer::Failure::kTimeout));

  test::HttpServer big;
  big.respond(200, std::string(5000, 'x'));
  c.url = big.base_url();
  c.timeout_ms = 2000;
  c.max_body = 4096;
  a = http_call(c);
  assert_int_equal(static_cast<int>(a.failure), static_cast<int>(HttpAnswer::Failure::kTooLarge));
  assert_true(a.body.empty());

  c.url = "file:///etc/hostname";
  a = http_call(c);
  assert_false(a.transported());
  assert_true(a.body.empty());
}

void escapes_like_a_form(void**) {
  assert_string_equal(url_escape("AZaz09-._~").c_str(), "AZaz09-._~");
  assert_string_equal(url_escape("a b/c?d=e&f%\xC3\xA9").c_str(), "a%20b%2Fc%3Fd%3De%26f%25%C3%A9");
  assert_string_equal(url_escape(std::string("\0\n", 2)).c_str(), "%00%0A");
}

void certs_url(void**) {
  assert_string_equal(jwks_url("http://kc:8080/realms/tenant-a").c_str(),
                      "http://kc:8080/realms/tenant-a/protocol/openid-connect/certs");
}

}  // namespace

int main() {
  assert_true(http_fetch_global_init());
  assert_true(http_fetch_global_init());  // idempotent
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(fetches_a_body),
      cmocka_unit_test(non_200_is_an_error),
      cmocka_unit_test(redirects_not_followed),
      cmocka_unit_test(body_limit),
      cmocka_unit_test(timeout),
      cmocka_unit_test(refused_connection_and_schemes),
      cmocka_unit_test(post_with_headers_body_and_location),
      cmocka_unit_test(session_reuses_its_connection),
      cmocka_unit_test(failures_are_classified),
      cmocka_unit_test(escapes_like_a_form),
      cmocka_unit_test(certs_url),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
