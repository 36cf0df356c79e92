// GET /metrics scraped over HTTP from the real server, router and handler
// (api/routes.cc metrics_response), after requests of each kind, and
// parsed by the official Prometheus client's parser
// (scripts/check-metrics.py, argv[1]), which also checks HELP/TYPE, names,
// _total and the histogram rules. Route labels must be templates: no raw
// path a client sent appears in the exposition.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "api/app.h"
#include "http/router.h"
#include "http/server.h"
#include "metrics/sidecar_metrics.h"
#include "sidecar_test.h"

using namespace realm_sidecar;

namespace {

const char* g_checker = nullptr;
int g_port = 0;

std::string request(const std::string& method, const std::string& path) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(fd >= 0);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(g_port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  std::string req = method + " " + path + " HTTP/1.0\r\nHost: x\r\n\r\n";
  assert_int_equal(write(fd, req.data(), req.size()), static_cast<ssize_t>(req.size()));
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}

std::string body_of(const std::string& response) {
  size_t i = response.find("\r\n\r\n");
  return i == std::string::npos ? "" : response.substr(i + 4);
}

// The checker's {"series": {...}} for `text`, or a failed test.
JsonPtr parse(const std::string& text) {
  char in[] = "/tmp/sidecar-metrics-XXXXXX";
  int fd = mkstemp(in);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  close(fd);
  std::string out = std::string(in) + ".json";
  std::string cmd = std::string("/usr/bin/python3 ") + g_checker + " < " + in + " > " + out;
  int rc = std::system(cmd.c_str());
  std::ifstream f(out);
  std::stringstream ss;
  ss << f.rdbuf();
  unlink(in);
  unlink(out.c_str());
  if (rc != 0) std::fprintf(stderr, "check-metrics.py refused:\n%s\n", text.c_str());
  assert_int_equal(rc, 0);
  return must_parse(ss.str());
}

double value(const JsonPtr& doc, const char* series) {
  json_t* v = json_object_get(json_object_get(doc.get(), "series"), series);
  if (!json_is_number(v)) {
    std::fprintf(stderr, "absent: %s\n", series);
    fail();
  }
  return json_number_value(v);
}

HttpResponse ok(const HttpRequest&, const PathParams&) { return HttpResponse{}; }

void scrape_after_requests(void**) {
  Readiness readiness({Dependency{"postgresql",
                                  [] {
                                    return ProbeResult{true, ""};
                                  }},
                       Dependency{"keycloak", [] {
                                    return ProbeResult{false, "refused"};
                                  }}});
  Router router({
      {"GET", "/tenants/{tenant_id}", ok},
      {"POST", "/tenants/{tenant_id}/users/{user_id}/password:reset", ok},
      {"GET", "/throws",
       [](const HttpRequest&, const PathParams&) -> HttpResponse {
         throw std::runtime_error("handler bug");
       }},
      {"GET", "/metrics",
       [&](const HttpRequest&, const PathParams&) { return metrics_response(&readiness); }},
  });
  HttpServer* server = nullptr;
  for (int port = 20000 + getpid() % 20000, tries = 0; tries < 50; port++, tries++) {
    server = new HttpServer(ServerConfig{"127.0.0.1", port, 2, 65536, 5},
                            [&](const HttpRequest& r) { return router.dispatch(r); });
    std::string error;
    if (server->start(error)) {
      g_port = port;
      break;
    }
    delete server;
    server = nullptr;
  }
  assert_non_null(server);

  request("GET", "/tenants/acme");
  request("GET", "/tenants/secret-slug-in-path");
  request("POST", "/tenants/acme/users/u-1/password:reset");
  request("DELETE", "/tenants/acme");     // 405 on a known route
  request("GET", "/no/such/place-1234");  // 404, no route
  request("BREW", "/tenants/acme");       // a made-up method: "other"
  request("GET", "/throws");              // 500 from the server's guard
  // What the sagas, the policy, Keycloak, the ledger and the publisher count.
  metrics::keycloak_call(true, 0.003);
  metrics::keycloak_call(true, 0.2);
  metrics::keycloak_call(false, 12);
  metrics::policy_decision(true, 0.0004);
  metrics::policy_decision(false, 0.03);
  metrics::saga_step("tenant:row_inserted");
  metrics::saga_step("tenant:realm_created");
  metrics::saga_outcome("tenant", 201);
  metrics::saga_outcome("user", 409);
  metrics::saga_outcome("user", 502);
  metrics::saga_rollback("user", true);
  metrics::crash_recovery("tenant", "failed");
  metrics::ledger_append(true);
  metrics::ledger_append(true);
  metrics::ledger_append(false);
  metrics::revocation_published(true);

  std::string resp = request("GET", "/metrics");
  assert_non_null(std::strstr(resp.c_str(), "Content-Type: text/plain; version=0.0.4"));
  std::string text = body_of(resp);
  JsonPtr doc = parse(text);

  const char* req = "realm_sidecar_http_requests_total{method=\"%s\",route=\"%s\",status=\"%s\"}";
  char key[256];
  auto requests = [&](const char* m, const char* route, const char* status) {
    std::snprintf(key, sizeof key, req, m, route, status);
    return value(doc, key);
  };
  assert_true(requests("GET", "/tenants/{tenant_id}", "200") == 2);
  assert_true(requests("POST", "/tenants/{tenant_id}/users/{user_id}/password:reset", "200") == 1);
  assert_true(requests("DELETE", "/tenants/{tenant_id}", "405") == 1);
  assert_true(requests("GET", "unmatched", "404") == 1);
  assert_true(requests("other", "/tenants/{tenant_id}", "405") == 1);
  assert_true(requests("GET", "/throws", "500") == 1);
  // Bounded labels: nothing the clients put in paths or methods.
  assert_null(std::strstr(text.c_str(), "acme"));
  assert_null(std::strstr(text.c_str(), "secret-slug-in-path"));
  assert_null(std::strstr(text.c_str(), "place-1234"));
  assert_null(std::strstr(text.c_str(), "BREW"));
  assert_true(
      value(doc,
            "realm_sidecar_http_request_duration_seconds_count{route=\"/tenants/{tenant_id}\"}") >=
      3);

  // Histograms: the checker verified monotone buckets and +Inf == _count.
  assert_true(value(doc, "realm_sidecar_keycloak_request_duration_seconds_count{outcome=\"ok\"}") ==
              2);
  assert_true(
      value(
          doc,
          "realm_sidecar_keycloak_request_duration_seconds_bucket{le=\"0.005\",outcome=\"ok\"}") ==
      1);
  assert_true(
      value(doc,
            "realm_sidecar_keycloak_request_duration_seconds_bucket{le=\"0.25\",outcome=\"ok\"}") ==
      2);
  assert_true(
      value(
          doc,
          "realm_sidecar_keycloak_request_duration_seconds_bucket{le=\"10\",outcome=\"error\"}") ==
      0);
  assert_true(value(doc,
                    "realm_sidecar_keycloak_request_duration_seconds_bucket{le=\"+Inf\",outcome="
                    "\"error\"}") == 1);
  assert_true(
      value(doc, "realm_sidecar_keycloak_request_duration_seconds_sum{outcome=\"error\"}") == 12);
  assert_true(
      value(doc, "realm_sidecar_policy_decision_duration_seconds_count{outcome=\"allow\"}") == 1);
  assert_true(value(doc,
                    "realm_sidecar_policy_decision_duration_seconds_bucket{le=\"0.001\",outcome="
                    "\"allow\"}") == 1);
  assert_true(
      value(doc, "realm_sidecar_policy_decision_duration_seconds_count{outcome=\"deny\"}") == 1);

  assert_true(value(doc, "realm_sidecar_saga_steps_total{saga=\"tenant\",step=\"row_inserted\"}") ==
              1);
  assert_true(
      value(doc, "realm_sidecar_saga_steps_total{saga=\"tenant\",step=\"realm_created\"}") == 1);
  assert_true(
      value(doc, "realm_sidecar_saga_outcomes_total{outcome=\"created\",saga=\"tenant\"}") == 1);
  assert_true(value(doc, "realm_sidecar_saga_outcomes_total{outcome=\"refused\",saga=\"user\"}") ==
              1);
  assert_true(value(doc, "realm_sidecar_saga_outcomes_total{outcome=\"failed\",saga=\"user\"}") ==
              1);
  assert_true(value(doc, "realm_sidecar_saga_rollbacks_total{result=\"complete\",saga=\"user\"}") ==
              1);
  assert_true(
      value(doc, "realm_sidecar_crash_recoveries_total{outcome=\"failed\",saga=\"tenant\"}") == 1);
  assert_true(value(doc, "realm_sidecar_ledger_appends_total{result=\"ok\"}") == 2);
  assert_true(value(doc, "realm_sidecar_ledger_appends_total{result=\"failed\"}") == 1);
  assert_true(value(doc, "realm_sidecar_revocation_publications_total{result=\"ok\"}") == 1);
  assert_true(value(doc, "realm_sidecar_dependency_up{dependency=\"postgresql\"}") == 1);
  assert_true(value(doc, "realm_sidecar_dependency_up{dependency=\"keycloak\"}") == 0);

  delete server;
}

// A family never holds more than kMaxSeries series, whatever labels come.
void series_are_bounded(void**) {
  metrics::Registry reg;
  metrics::Family& f = reg.counter("test_things_total", "things", {"k"});
  for (size_t i = 0; i < metrics::Family::kMaxSeries + 100; i++) f.add({std::to_string(i)});
  assert_int_equal(f.dropped(), 100);
  assert_int_equal(f.count({"0"}), 1);
  assert_int_equal(f.count({std::to_string(metrics::Family::kMaxSeries)}), 0);
  // Label values are escaped (backslash, quote, newline) and still parse.
  metrics::Family& g = reg.gauge("test_value", "a \"gauge\"\nwith a newline", {"k"});
  g.set({"a\\b\"c\nd"}, 1.5);
  std::string text = g.name().empty() ? "" : reg.render();
  JsonPtr doc = parse(text.substr(text.find("# HELP test_value")));
  assert_true(value(doc, "test_value{k=\"a\\b\"c\nd\"}") == 1.5);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s scripts/check-metrics.py\n", argv[0]);
    return 2;
  }
  g_checker = argv[1];
  const CMUnitTest tests[] = {
      cmocka_unit_test(scrape_after_requests),
      cmocka_unit_test(series_are_bounded),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
