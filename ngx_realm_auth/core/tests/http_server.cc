#include "http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

namespace realm_auth::test {

HttpServer::HttpServer() {
  listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (listen_fd_ < 0 || bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(listen_fd_, 16) != 0 ||
      getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::perror("HttpServer");
    std::abort();
  }
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread(&HttpServer::serve, this);
}

HttpServer::~HttpServer() {
  stop_ = true;
  thread_.join();
  close(listen_fd_);
}

std::string HttpServer::base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }

void HttpServer::respond(int status, std::string body, std::string extra_headers) {
  std::lock_guard<std::mutex> lock(mu_);
  status_ = status;
  body_ = std::move(body);
  headers_ = std::move(extra_headers);
}

std::string HttpServer::last_path() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_path_;
}

std::string HttpServer::last_request() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_request_;
}

void HttpServer::serve() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (poll(&p, 1, 20) <= 0) continue;  // wake up regularly to notice stop_
    int fd = accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) continue;
    ++connections_;
    // Keep-alive: serve requests on this connection until the client
    // closes it (or a request does not arrive within the poll timeout).
    while (handle(fd) && keep_alive_ && !stop_) {
    }
    close(fd);
  }
}

bool HttpServer::handle(int fd) {
  std::string request;
  char buf[4096];
  while (request.find("\r\n\r\n") == std::string::npos) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 2000) <= 0) return false;
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) return false;
    request.append(buf, static_cast<size_t>(n));
  }
  // The body, when the request announces one.
  size_t head_end = request.find("\r\n\r\n") + 4;
  size_t want = 0;
  for (const char* name : {"\r\nContent-Length:", "\r\ncontent-length:"}) {
    size_t at = request.find(name);
    if (at != std::string::npos && at < head_end) want = std::stoul(request.substr(at + 17));
  }
  while (request.size() < head_end + want) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 2000) <= 0) return false;
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) return false;
    request.append(buf, static_cast<size_t>(n));
  }
  ++requests_;
  std::string response;
  {
    std::lock_guard<std::mutex> lock(mu_);
    size_t sp1 = request.find(' ');
    size_t sp2 = request.find(' ', sp1 + 1);
    last_path_ = request.substr(sp1 + 1, sp2 - sp1 - 1);
    last_request_ = request;
    response = "HTTP/1.1 " + std::to_string(status_) + " Canned\r\n";
    if (!keep_alive_) response += "Connection: close\r\n";
    if (send_length_) response += "Content-Length: " + std::to_string(body_.size()) + "\r\n";
    response += headers_ + "\r\n" + body_;
  }
  // Sleep in small steps so a stopping server does not hang the test.
  for (int waited = 0; waited < delay_ms_ && !stop_; waited += 10) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  size_t off = 0;
  while (off < response.size()) {
    ssize_t n = send(fd, response.data() + off, response.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace realm_auth::test
