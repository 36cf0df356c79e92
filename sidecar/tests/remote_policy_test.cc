// The external policy client against a scripted HTTP server on 127.0.0.1:
// what it sends ({"input": AuthorizeRequest}, JSON content type, POST to the
// configured path) and how every kind of bad answer ends: deny, fail closed,
// with a reason naming the problem.
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>

#include "governance_test.h"

using namespace realm_sidecar;
using realm_sidecar::test::actor;
using realm_sidecar::test::request;

namespace {

// One thread, one request per connection; reads the whole request
// (Content-Length body) and answers what it was told.
class FakePolicyServer {
 public:
  FakePolicyServer() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    listen(fd_, 16);
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~FakePolicyServer() {
    stop_ = true;
    thread_.join();
    close(fd_);
  }
  std::string url(const std::string& path = "/v1/data/realm_auth/decision") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  void respond(int status, std::string body) {
    std::lock_guard<std::mutex> l(mu_);
    status_ = status;
    body_ = std::move(body);
    raw_.clear();
  }
  // Sent as is instead of a well-formed response (then the connection closes).
  void respond_raw(std::string raw) {
    std::lock_guard<std::mutex> l(mu_);
    raw_ = std::move(raw);
  }
  void set_delay_ms(int ms) { delay_ms_ = ms; }
  std::string last_request() {
    std::lock_guard<std::mutex> l(mu_);
    return last_;
  }
  int requests() const { return requests_; }

 private:
  void serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      int c = accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      handle(c);
      close(c);
    }
  }
  void handle(int c) {
    std::string req;
    char buf[8192];
    size_t need = std::string::npos;
    while (need == std::string::npos || req.size() < need) {
      pollfd p{c, POLLIN, 0};
      if (poll(&p, 1, 2000) <= 0) return;
      ssize_t n = read(c, buf, sizeof buf);
      if (n <= 0) return;
      req.append(buf, static_cast<size_t>(n));
      size_t end = req.find("\r\n\r\n");
      if (need == std::string::npos && end != std::string::npos) {
        size_t cl = req.find("Content-Length: ");
        size_t body_len = cl == std::string::npos ? 0 : std::stoul(req.substr(cl + 16));
        need = end + 4 + body_len;
      }
    }
    ++requests_;
    std::string out;
    {
      std::lock_guard<std::mutex> l(mu_);
      last_ = req;
      out = !raw_.empty()
                ? raw_
                : "HTTP/1.1 " + std::to_string(status_) + " X\r\nContent-Type: " +
                      "application/json\r\nContent-Length: " + std::to_string(body_.size()) +
                      "\r\nConnection: close\r\n\r\n" + body_;
    }
    for (int waited = 0; waited < delay_ms_ && !stop_; waited += 10) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    size_t off = 0;
    while (off < out.size()) {
      ssize_t n = send(c, out.data() + off, out.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;
      off += static_cast<size_t>(n);
    }
  }

  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> delay_ms_{0};
  std::atomic<int> requests_{0};
  std::mutex mu_;  // guards the four fields below
  int status_ = 200;
  std::string body_;
  std::string raw_;
  std::string last_;
  std::thread thread_;
};

AuthorizeRequest sample() {
  AuthorizeRequest r =
      request(actor("tenant-demo", {"tenant_admin"}), "user.create", "user", "demo", "onboarding");
  r.request_id = "req-77";
  return r;
}

void expect_deny(FakePolicyServer& srv, const char* reason_part, long timeout_ms = 1500) {
  auto pdp = make_remote_policy(srv.url(), timeout_ms);
  Decision d = pdp->authorize(sample());
  assert_false(d.allow);
  if (d.reason.find(reason_part) == std::string::npos) {
    fail_msg("reason \"%s\" lacks \"%s\"", d.reason.c_str(), reason_part);
  }
}

void test_sends_input_and_reads_result(void**) {
  FakePolicyServer srv;
  srv.respond(200, "{\"result\":{\"allow\":true,\"reason\":\"tenant_admin of tenant demo\"}}");
  auto pdp = make_remote_policy(srv.url(), 1500);
  Decision d = pdp->authorize(sample());
  assert_true(d.allow);
  assert_string_equal(d.reason.c_str(), "tenant_admin of tenant demo");

  std::string req = srv.last_request();
  assert_int_equal(req.rfind("POST /v1/data/realm_auth/decision HTTP/1.1\r\n", 0), 0);
  assert_non_null(strcasestr(req.c_str(), "\r\nContent-Type: application/json\r\n"));
  std::string body = req.substr(req.find("\r\n\r\n") + 4);
  assert_string_equal(body.c_str(),
                      ("{\"input\":" + authorize_request_json(sample()) + "}").c_str());
  json_error_t err;
  json_t* j = json_loads(body.c_str(), 0, &err);
  assert_non_null(j);
  json_t* input = json_object_get(j, "input");
  assert_string_equal(json_string_value(json_object_get(input, "purpose")), "onboarding");
  assert_string_equal(
      json_string_value(json_object_get(json_object_get(input, "context"), "request_id")),
      "req-77");
  json_decref(j);

  srv.respond(200, "{\"result\":{\"allow\":false,\"reason\":\"nope\"}}");
  d = pdp->authorize(sample());
  assert_false(d.allow);
  assert_string_equal(d.reason.c_str(), "nope");
  // A reason is optional; the decision still has one.
  srv.respond(200, "{\"result\":{\"allow\":true}}");
  d = pdp->authorize(sample());
  assert_true(d.allow);
  assert_string_equal(d.reason.c_str(), "allowed by policy service (no reason given)");
}

void test_bad_answers_deny(void**) {
  FakePolicyServer srv;
  srv.respond(500, "{\"result\":{\"allow\":true}}");
  expect_deny(srv, "HTTP status 500");
  srv.respond(404, "");
  expect_deny(srv, "HTTP status 404");
  srv.respond(302, "{\"result\":{\"allow\":true}}");
  expect_deny(srv, "HTTP status 302");
  srv.respond(200, "<html>allow</html>");
  expect_deny(srv, "not a JSON object");
  srv.respond(200, "{\"result\":{\"allow\":true}} trailing");
  expect_deny(srv, "not a JSON object");
  srv.respond(200, "");
  expect_deny(srv, "not a JSON object");
  srv.respond(200, "{}");  // OPA's answer for an undefined rule
  expect_deny(srv, "no \"result\"");
  srv.respond(200, "{\"result\":true}");
  expect_deny(srv, "\"result\" is not an object");
  srv.respond(200, "{\"result\":{\"reason\":\"forgot allow\"}}");
  expect_deny(srv, "missing or not a boolean");
  srv.respond(200, "{\"result\":{\"allow\":\"true\"}}");
  expect_deny(srv, "missing or not a boolean");
  srv.respond(200, "{\"result\":{\"allow\":1}}");
  expect_deny(srv, "missing or not a boolean");
  srv.respond(200, "{\"result\":{\"allow\":null}}");
  expect_deny(srv, "missing or not a boolean");
  srv.respond(200, "{\"result\":{\"allow\":false,\"allow\":true}}");
  expect_deny(srv, "not a JSON object");  // duplicate member: refused outright
  srv.respond(200, "{\"result\":{\"allow\":true,\"pad\":\"" + std::string(100000, 'x') + "\"}}");
  expect_deny(srv, "larger than");
  srv.respond_raw("this is not HTTP\r\n\r\n");
  expect_deny(srv, "policy service:");
  assert_true(srv.requests() >= 15);
}

void test_timeout_denies(void**) {
  FakePolicyServer srv;
  srv.respond(200, "{\"result\":{\"allow\":true,\"reason\":\"late\"}}");
  srv.set_delay_ms(1000);
  auto start = std::chrono::steady_clock::now();
  expect_deny(srv, "no answer from", 200);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                  start)
                .count();
  print_message("timeout deny after %lld ms (timeout 200 ms)\n", static_cast<long long>(ms));
  assert_true(ms < 900);
}

void test_unreachable_denies(void**) {
  int port;
  {
    FakePolicyServer srv;  // learn a free port, then close it
    std::string u = srv.url();
    port = std::stoi(u.substr(u.rfind(':') + 1));
  }
  auto pdp = make_remote_policy("http://127.0.0.1:" + std::to_string(port) + "/v1/data/x", 1500);
  Decision d = pdp->authorize(sample());
  assert_false(d.allow);
  assert_non_null(strstr(d.reason.c_str(), "unreachable"));
  // A non-HTTP URL scheme is never contacted.
  pdp = make_remote_policy("file:///etc/passwd", 1500);
  d = pdp->authorize(sample());
  assert_false(d.allow);
  // Nor an unparsable URL.
  pdp = make_remote_policy("http://[::1", 1500);
  assert_false(pdp->authorize(sample()).allow);
}

// Readiness (GET /readyz): a well-formed decision, allow or deny, is "the
// policy service answers"; every fail-closed shape is not, with its reason.
void test_answers_for_readiness(void**) {
  FakePolicyServer srv;
  auto pdp = make_remote_policy(srv.url(), 300);
  std::string why;
  srv.respond(200, "{\"result\":{\"allow\":false,\"reason\":\"no rule\"}}");
  assert_true(pdp->answers(why));
  assert_true(why.empty());
  assert_non_null(strstr(srv.last_request().c_str(), "\"action\":\"readiness.probe\""));
  srv.respond(200, "{\"result\":{\"allow\":true}}");
  assert_true(pdp->answers(why));
  srv.respond(200, "garbage");
  assert_false(pdp->answers(why));
  assert_non_null(strstr(why.c_str(), "not a JSON object"));
  srv.respond(200, "{}");
  assert_false(pdp->answers(why));
  assert_non_null(strstr(why.c_str(), "no \"result\""));
  srv.respond(503, "{\"result\":{\"allow\":true}}");
  assert_false(pdp->answers(why));
  assert_non_null(strstr(why.c_str(), "HTTP status 503"));
  srv.respond(200, "{\"result\":{\"allow\":true}}");
  srv.set_delay_ms(1000);
  assert_false(pdp->answers(why));
  assert_non_null(strstr(why.c_str(), "no answer from"));
  srv.set_delay_ms(0);
  // The built-in rules always answer.
  assert_true(make_builtin_policy()->answers(why));
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sends_input_and_reads_result),
      cmocka_unit_test(test_bad_answers_deny),
      cmocka_unit_test(test_timeout_denies),
      cmocka_unit_test(test_unreachable_denies),
      cmocka_unit_test(test_answers_for_readiness),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
