// The external policy service, in Open Policy Agent's data API shape:
//   POST <url>  {"input": <AuthorizeRequest>}
//   200 {"result": {"allow": true|false, "reason": "…"}}
// Fail closed: no answer within the timeout, connection refused, a status
// other than 200, a body that is not JSON, no "result" object (OPA answers
// {} when the rule is undefined, e.g. the policy is not loaded) or an
// "allow" that is not a JSON boolean is a deny whose reason says which.
// One HTTP session (core/http_fetch.h) per request thread, thread_local: a
// session is not shareable between threads, and keeping it keeps its
// connection to the policy service alive between decisions.
#include <algorithm>
#include <string>

#include "authorize.h"
#include "http_fetch.h"
#include "util/json_helpers.h"

namespace realm_sidecar {

namespace {

constexpr size_t kMaxBody = 64 * 1024;  // a decision is a few hundred bytes

Decision deny(std::string reason) { return Decision{false, "policy service: " + reason}; }

class RemotePolicy final : public PolicyDecisionPoint {
 public:
  RemotePolicy(std::string url, long timeout_ms) : url_(std::move(url)), timeout_ms_(timeout_ms) {}

  Decision authorize(const AuthorizeRequest& request) override {
    bool well_formed = false;
    return ask(request, well_formed);
  }

  bool answers(std::string& why) override {
    AuthorizeRequest probe;
    probe.action = "readiness.probe";  // no rule allows it; any well-formed answer will do
    probe.request_id = "readyz";
    bool well_formed = false;
    Decision d = ask(probe, well_formed);
    if (well_formed) {
      why.clear();
      return true;
    }
    why = d.reason;
    return false;
  }

 private:
  // The decision, and whether it came from a well-formed answer (false:
  // a fail-closed deny of ours).
  Decision ask(const AuthorizeRequest& request, bool& well_formed) {
    well_formed = false;
    std::string body;
    long status = 0;
    std::string error;
    if (!post(request, body, status, error)) return deny(error);
    if (status != 200) return deny("HTTP status " + std::to_string(status) + " from " + url_);
    return parse(body, well_formed);
  }

  bool post(const AuthorizeRequest& request, std::string& body, long& status, std::string& error) {
    thread_local realm_auth::HttpSession session;
    realm_auth::HttpCall call;
    call.method = "POST";
    call.url = url_;
    call.headers = {"Content-Type: application/json", "Accept: application/json"};
    call.body = "{\"input\":" + authorize_request_json(request) + "}";
    call.timeout_ms = timeout_ms_;
    call.max_body = kMaxBody;
    call.user_agent = "realm-sidecar";
    realm_auth::HttpAnswer a = session.perform(call);
    switch (a.failure) {
      case realm_auth::HttpAnswer::Failure::kNone:
        status = a.status;
        body = std::move(a.body);
        return true;
      case realm_auth::HttpAnswer::Failure::kTimeout:
        error = "no answer from " + url_ + " within " + std::to_string(timeout_ms_) + " ms";
        return false;
      case realm_auth::HttpAnswer::Failure::kTooLarge:
        error = "answer larger than " + std::to_string(kMaxBody) + " bytes";
        return false;
      default:
        error = "unreachable (" + url_ + "): " + a.error;
        return false;
    }
  }

  static Decision parse(const std::string& text, bool& well_formed) {
    JsonPtr root = json_parse(text);
    if (!root || !json_is_object(root.get())) return deny("answer is not a JSON object");
    json_t* result = json_object_get(root.get(), "result");
    if (!result) return deny("answer has no \"result\" (is the policy loaded at this path?)");
    if (!json_is_object(result)) return deny("\"result\" is not an object");
    json_t* allow = json_object_get(result, "allow");
    if (!json_is_boolean(allow)) return deny("\"result.allow\" is missing or not a boolean");
    well_formed = true;
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
  if (timeout_ms <= 0) timeout_ms = 1500;
  return std::make_unique<RemotePolicy>(std::move(url), timeout_ms);
}

}  // namespace realm_sidecar
