// What a handler sees and returns: plain values, no libmicrohttpd types, so
// the router, the API and their tests never touch the server library.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace realm_sidecar {

struct HttpRequest {
  std::string method;  // "GET", "POST" …
  std::string path;    // decoded path, no query string
  // Names lowercased; every field line, equal names in arrival order.
  std::multimap<std::string, std::string> headers;
  std::map<std::string, std::string> query;  // decoded ?name=value; first value wins
  std::string body;
  std::string client_ip;   // X-Real-IP from nginx, else the peer address
  std::string request_id;  // X-Request-Id from nginx, else generated

  // The first line's value or "" (name in lowercase).
  const std::string& header(const std::string& lower_name) const;
  // Every line's value, in arrival order (for rules that count lines,
  // such as core purpose.h).
  std::vector<std::string> header_values(const std::string& lower_name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

}  // namespace realm_sidecar
