// The external policy service, in Open Policy Agent's data API shape:
//   POST <url>  {"input": <AuthorizeRequest>}
//   200 {"result": {"allow": true|false, "reason": "…"}}
// Fail closed: no answer within the timeout, connection refused, a status
// other than 200, a body that is not JSON, no "result" object (OPA answers
// {} when the rule is undefined, e.g. the policy is not loaded) or an
// "allow" that is not a JSON boolean is a deny whose reason says which.
// One libcurl easy handle per request thread (thread_local, RAII), reset
// before each call: a handle is not shareable between threads, and keeping
// it keeps its connection to the policy service alive between decisions.
#include <curl/curl.h>

#include <algorithm>
#include <mutex>
#include <string>

#include "authorize.h"
#include "util/json_helpers.h"

namespace realm_sidecar {

namespace {

constexpr size_t kMaxBody = 64 * 1024;  // a decision is a few hundred bytes

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using CurlPtr = std::unique_ptr<CURL, CurlDeleter>;
using SlistPtr = std::unique_ptr<curl_slist, SlistDeleter>;

struct Body {
  std::string text;
  bool too_big = false;
};

size_t on_body(char* data, size_t size, size_t nmemb, void* user) {
  auto* body = static_cast<Body*>(user);
  size_t n = size * nmemb;
  if (body->text.size() + n > kMaxBody) {
    body->too_big = true;
    return 0;  // aborts the transfer with CURLE_WRITE_ERROR
  }
  body->text.append(data, n);
  return n;
}

Decision deny(std::string reason) { return Decision{false, "policy service: " + reason}; }

class RemotePolicy final : public PolicyDecisionPoint {
 public:
  RemotePolicy(std::string url, long timeout_ms) : url_(std::move(url)), timeout_ms_(timeout_ms) {}

  Decision authorize(const AuthorizeRequest& request) override {
    Body body;
    long status = 0;
    std::string error;
    if (!post(request, body, status, error)) return deny(error);
    if (status != 200) return deny("HTTP status " + std::to_string(status) + " from " + url_);
    return parse(body.text);
  }

 private:
  bool post(const AuthorizeRequest& request, Body& body, long& status, std::string& error) {
    thread_local CurlPtr curl(curl_easy_init());
    if (!curl) {
      error = "cannot create a libcurl handle";
      return false;
    }
    curl_easy_reset(curl.get());  // options only; the connection cache stays
    const std::string payload = "{\"input\":" + authorize_request_json(request) + "}";
    SlistPtr headers(curl_slist_append(nullptr, "Content-Type: application/json"));
    curl_slist* h = curl_slist_append(headers.get(), "Accept: application/json");
    if (!h) {
      error = "out of memory";
      return false;
    }
    char errbuf[CURL_ERROR_SIZE] = "";
    CURL* c = curl.get();
    curl_easy_setopt(c, CURLOPT_URL, url_.c_str());
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);  // threads: no SIGALRM for timeouts
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms_);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms_);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, payload.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(payload.size()));
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OPERATION_TIMEDOUT) {
      error = "no answer from " + url_ + " within " + std::to_string(timeout_ms_) + " ms";
      return false;
    }
    if (body.too_big) {
      error = "answer larger than " + std::to_string(kMaxBody) + " bytes";
      return false;
    }
    if (rc != CURLE_OK) {
      error = "unreachable (" + url_ + "): " + (errbuf[0] ? errbuf : curl_easy_strerror(rc));
      return false;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    return true;
  }

  static Decision parse(const std::string& text) {
    JsonPtr root = json_parse(text);
    if (!root || !json_is_object(root.get())) return deny("answer is not a JSON object");
    json_t* result = json_object_get(root.get(), "result");
    if (!result) return deny("answer has no \"result\" (is the policy loaded at this path?)");
    if (!json_is_object(result)) return deny("\"result\" is not an object");
    json_t* allow = json_object_get(result, "allow");
    if (!json_is_boolean(allow)) return deny("\"result.allow\" is missing or not a boolean");
    json_t* reason = json_object_get(result, "reason");
    Decision d;
    d.allow = json_is_true(allow);
    if (json_is_string(reason) && json_string_length(reason) > 0) {
      // Bounded: it lands in the ledger and in a 403 detail.
      d.reason = std::string(json_string_value(reason),
                             std::min<size_t>(json_string_length(reason), 1024));
    } else {
      d.reason = d.allow ? "allowed by policy service (no reason given)"
                         : "denied by policy service (no reason given)";
    }
    return d;
  }

  const std::string url_;
  const long timeout_ms_;
};

}  // namespace

std::unique_ptr<PolicyDecisionPoint> make_remote_policy(std::string url, long timeout_ms) {
  // Thread-safe in libcurl >= 7.84, and idempotent; done before any handle.
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (timeout_ms <= 0) timeout_ms = 1500;
  return std::make_unique<RemotePolicy>(std::move(url), timeout_ms);
}

}  // namespace realm_sidecar
