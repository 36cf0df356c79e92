// The route table, first and declarative like nginx's command table:
//
//   static const Route kRoutes[] = {
//     {"POST", "/tenants", create_tenant},
//     {"GET",  "/tenants/{tenant_id}", get_tenant},
//   };
//
// A pattern is a '/'-separated path; a segment "{name}" captures one
// non-empty segment, "{name}:action" one that ends in ":action" (the
// capture is the non-empty part before it), every other segment is literal
// (actions such as "tenant-services:rotate" are whole literal segments). No regexes, no
// prefixes: segment counts must be equal, so "/tenants/x/" is 404.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "http/message.h"

namespace realm_sidecar {

using PathParams = std::map<std::string, std::string>;
using Handler = std::function<HttpResponse(const HttpRequest&, const PathParams&)>;

struct Route {
  std::string method;
  std::string pattern;
  Handler handler;
};

class Router {
 public:
  explicit Router(std::vector<Route> routes) : routes_(std::move(routes)) {}

  // The handler's response; 404 problem when no pattern matches the path,
  // 405 with an Allow header when the path exists for other methods.
  HttpResponse dispatch(const HttpRequest& request) const;

  // Exposed for tests: does `pattern` match `path`, capturing params?
  static bool match(const std::string& pattern, const std::string& path, PathParams& params);

 private:
  // dispatch() without the counting; `route` gets the matched pattern.
  HttpResponse route_request(const HttpRequest& request, const std::string*& route) const;
  std::vector<Route> routes_;
};

}  // namespace realm_sidecar
