// A throwaway HTTP/1.1 server on 127.0.0.1 for fetch tests: one thread,
// one request per connection, a canned response, a request counter.
#pragma once

#include <atomic>
#include <mutex>
#include <string>
#include <thread>

namespace realm_auth::test {

class HttpServer {
 public:
  HttpServer();  // listens on an ephemeral port and starts serving
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // "http://127.0.0.1:<port>"
  std::string base_url() const;

  // What every following request gets. `extra_headers` lines end in "\r\n".
  void respond(int status, std::string body, std::string extra_headers = "");
  // Wait this long before answering (timeout tests).
  void set_delay_ms(int ms) { delay_ms_ = ms; }
  // Without Content-Length the body simply runs until the connection closes.
  void set_send_length(bool send) { send_length_ = send; }

  int requests() const { return requests_; }
  std::string last_path() const;
  // The last request as received: request line, headers and body.
  std::string last_request() const;
  // Connections accepted so far (a reused keep-alive connection counts once).
  int connections() const { return connections_; }
  // Keep the connection open for further requests (no "Connection: close").
  void set_keep_alive(bool on) { keep_alive_ = on; }

 private:
  void serve();
  bool handle(int fd);  // one request; false when the connection is done

  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> requests_{0};
  std::atomic<int> delay_ms_{0};
  std::atomic<bool> send_length_{true};
  std::atomic<bool> keep_alive_{false};
  std::atomic<int> connections_{0};
  mutable std::mutex mu_;  // guards the three fields below
  int status_ = 200;
  std::string body_;
  std::string headers_;
  std::string last_path_;
  std::string last_request_;
  std::thread thread_;
};

}  // namespace realm_auth::test
