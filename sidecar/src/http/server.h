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

#include "http/message.h"

struct MHD_Daemon;

namespace realm_sidecar {

struct ServerConfig {
  std::string host = "127.0.0.1";  // must be a loopback address
  int port = 8081;
  unsigned threads = 4;
  size_t max_body = 65536;  // bytes; larger bodies get 413
  unsigned timeout_s = 60;  // idle connection timeout
};

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
