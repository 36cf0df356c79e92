#include "http/problem.h"

#include "bearer.h"
#include "util/json_helpers.h"

namespace realm_sidecar {

const std::string& HttpRequest::header(const std::string& lower_name) const {
  static const std::string kEmpty;
  auto it = headers.lower_bound(lower_name);  // the first of equal keys
  return it == headers.end() || it->first != lower_name ? kEmpty : it->second;
}

std::vector<std::string> HttpRequest::header_values(const std::string& lower_name) const {
  std::vector<std::string> out;
  auto range = headers.equal_range(lower_name);
  for (auto it = range.first; it != range.second; ++it) out.push_back(it->second);
  return out;
}

const char* http_reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 409:
      return "Conflict";
    case 413:
      return "Content Too Large";
    case 415:
      return "Unsupported Media Type";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "Error";
  }
}

HttpResponse problem(int status, const std::string& detail, const std::string& field,
                     const std::string& request_id) {
  JsonPtr p(json_object());
  // about:blank: the status code says it all; title is then the reason
  // phrase, as RFC 9457 section 4.2.1 asks.
  json_set(p.get(), "type", "about:blank");
  json_set(p.get(), "title", http_reason(status));
  json_set(p.get(), "status", static_cast<long long>(status));
  json_set(p.get(), "detail", detail);
  if (!field.empty()) json_set(p.get(), "field", field);
  if (!request_id.empty()) json_set(p.get(), "request_id", request_id);
  HttpResponse r;
  r.status = status;
  r.content_type = "application/problem+json";
  r.body = json_text(p.get());
  return r;
}

HttpResponse unauthorized(realm_auth::Status status, const std::string& request_id) {
  HttpResponse r = problem(401, realm_auth::status_description(status), "", request_id);
  r.headers.emplace_back("WWW-Authenticate", realm_auth::bearer_challenge(status));
  return r;
}

}  // namespace realm_sidecar
