#include "http/router.h"

#include <chrono>

#include "http/problem.h"
#include "metrics/sidecar_metrics.h"

namespace realm_sidecar {

namespace {

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> out;
  size_t i = 1;  // paths start with '/'
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    out.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

}  // namespace

bool Router::match(const std::string& pattern, const std::string& path, PathParams& params) {
  if (path.empty() || path[0] != '/') return false;
  std::vector<std::string> want = split_path(pattern);
  std::vector<std::string> got = split_path(path);
  if (want.size() != got.size()) return false;
  PathParams captured;
  for (size_t i = 0; i < want.size(); i++) {
    const std::string& w = want[i];
    const size_t close = w.find('}');
    if (w.size() > 2 && w.front() == '{' && close != std::string::npos && close > 1) {
      // "{name}" or "{name}:action": the capture is what precedes the
      // literal suffix, and never empty.
      const std::string suffix = w.substr(close + 1);
      const std::string& seg = got[i];
      if (seg.size() <= suffix.size() ||
          seg.compare(seg.size() - suffix.size(), suffix.size(), suffix) != 0) {
        return false;
      }
      captured[w.substr(1, close - 1)] = seg.substr(0, seg.size() - suffix.size());
    } else if (w != got[i]) {
      return false;
    }
  }
  params = std::move(captured);
  return true;
}

namespace {

// The method label: a client may send any token as the method, so only the
// ones the API knows are named (bounded label values).
std::string method_label(const std::string& m) {
  static const char* const kKnown[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
  for (const char* k : kKnown) {
    if (m == k) return m;
  }
  return "other";
}

}  // namespace

// Counted here, where the route template is known: the label is the
// pattern ("/tenants/{tenant_id}"), never the path a client sent.
HttpResponse Router::dispatch(const HttpRequest& request) const {
  const auto started = std::chrono::steady_clock::now();
  const std::string* route = nullptr;
  auto count = [&](int status) {
    std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
    metrics::http_request(method_label(request.method), route ? *route : "unmatched", status,
                          took.count());
  };
  try {
    HttpResponse resp = route_request(request, route);
    count(resp.status);
    return resp;
  } catch (...) {
    count(500);  // the server's guard answers 500 (http/server.cc)
    throw;
  }
}

HttpResponse Router::route_request(const HttpRequest& request, const std::string*& route) const {
  std::string allow;
  for (const Route& r : routes_) {
    PathParams params;
    if (!match(r.pattern, request.path, params)) continue;
    route = &r.pattern;
    if (r.method == request.method) return r.handler(request, params);
    allow += allow.empty() ? r.method : ", " + r.method;
  }
  if (!allow.empty()) {
    HttpResponse resp = problem(
        405,
        "method " + request.method + " is not allowed on " + request.path + "; allowed: " + allow,
        "", request.request_id);
    resp.headers.emplace_back("Allow", allow);
    return resp;
  }
  return problem(404, "no resource at " + request.path, "", request.request_id);
}

}  // namespace realm_sidecar
