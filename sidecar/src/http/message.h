// What a handler sees and returns: plain values, no libmicrohttpd types, so
// the router, the API and their tests never touch the server library.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace realm_sidecar {

struct HttpRequest {
  std::string method;                          // "GET", "POST" …
  std::string path;                            // decoded path, no query string
  std::map<std::string, std::string> headers;  // names lowercased; first value wins
  std::map<std::string, std::string> query;    // decoded ?name=value; first value wins
  std::string body;
  std::string client_ip;   // X-Real-IP from nginx, else the peer address
  std::string request_id;  // X-Request-Id from nginx, else generated

  // Header value or "" (name in lowercase).
  const std::string& header(const std::string& lower_name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

}  // namespace realm_sidecar
