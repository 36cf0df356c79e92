// The HTTP listener: libmicrohttpd with an internal thread pool, bound to a
// loopback address only (nginx is the front door; the sidecar is never
// exposed). It accumulates the request body up to a limit, turns the
// connection into an HttpRequest, calls the router and writes the response.
//
// Handlers block (Keycloak, PostgreSQL): each pool thread serves one
// request at a time, so `threads` bounds concurrent provisioning work.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "http/message.h"

struct MHD_Daemon;

namespace realm_sidecar {

struct ServerConfig {
  std::string host = "127.0.0.1";  // must be a loopback address
  int port = 8081;
  unsigned threads = 4;
  size_t max_body = 65536;  // bytes; larger bodies get 413
  unsigned timeout_s = 60;  // idle connection timeout
  // Peers (exact IP text) whose X-Real-IP and X-Request-Id are believed:
  // the nginx in front. From anyone else the peer address and a fresh
  // request id are used, so a local process cannot forge ledger context.
  std::vector<std::string> trusted_proxies = {"127.0.0.1"};
};

// The request's client_ip and request_id from the peer address and the
// forwarded headers, honouring the headers only from a trusted proxy.
void apply_forwarded(HttpRequest& request, const std::string& peer,
                     const std::vector<std::string>& trusted_proxies);

class HttpServer {
 public:
  using Dispatch = std::function<HttpResponse(const HttpRequest&)>;

  HttpServer(ServerConfig config, Dispatch dispatch);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts the threads; false with `error` set (bad or
  // non-loopback address, port in use).
  bool start(std::string& error);
  void stop();

  // For the daemon's internals (the access callback).
  const ServerConfig& config() const { return config_; }
  HttpResponse handle(const HttpRequest& request) const;

 private:
  ServerConfig config_;
  Dispatch dispatch_;
  MHD_Daemon* daemon_ = nullptr;
};

}  // namespace realm_sidecar
