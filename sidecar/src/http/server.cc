#include "http/server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <memory>

#include "http/problem.h"
#include "util/guard.h"
#include "util/random.h"

namespace realm_sidecar {

namespace {

// Per-connection state between MHD's access-callback invocations: created on
// the first call, freed in on_completed.
struct ConnState {
  HttpRequest request;
  bool too_large = false;
  bool failed = false;  // handling threw mid-body: drain it, answer 500 at the end
};

// What MHD's value iterators fill. MHD calls the collectors from C, so
// they are guarded; `failed` says a value could not be stored, and the
// request is then answered 500 rather than handled with values missing.
template <typename Map>
struct Collected {
  Map* into;
  bool failed = false;
};

void collect_header_into(std::multimap<std::string, std::string>* headers, const char* key,
                         const char* value) {
  std::string name(key);
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  // Every line is kept (header() reads the first): rules that count lines,
  // such as the one-X-Purpose rule, must see them all.
  headers->emplace(std::move(name), value != nullptr ? value : "");
}

void collect_query_into(std::map<std::string, std::string>* query, const char* key,
                        const char* value) {
  // First value wins, as for headers: ?tenant_id=a&tenant_id=b reads a.
  query->emplace(key != nullptr ? key : "", value != nullptr ? value : "");
}

template <typename Map, void (*Fn)(Map*, const char*, const char*)>
enum MHD_Result collect(void* cls, enum MHD_ValueKind, const char* key,
                        const char* value) noexcept {
  auto* c = static_cast<Collected<Map>*>(cls);
  auto report = [c](const char* what) {
    c->failed = true;
    StderrReport{"reading the request"}(what);
  };
  return guarded(report, MHD_NO, [&] {
    Fn(c->into, key, value);
    return MHD_YES;
  });
}

std::string peer_address(struct MHD_Connection* connection) {
  const union MHD_ConnectionInfo* info =
      MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  if (info == nullptr || info->client_addr == nullptr) return "";
  char buf[INET6_ADDRSTRLEN] = {0};
  const sockaddr* sa = info->client_addr;
  if (sa->sa_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, buf, sizeof buf);
  } else if (sa->sa_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, buf, sizeof buf);
  }
  return buf;
}

// Request ids end up in logs and the ledger: accept nginx's hex $request_id
// (or any short token of safe characters), otherwise make our own.
std::string pick_request_id(const std::string& offered) {
  if (!offered.empty() && offered.size() <= 64) {
    bool safe = true;
    for (char c : offered)
      safe &= std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
    if (safe) return offered;
  }
  return random_hex_id();
}

struct MhdResponseDeleter {
  void operator()(struct MHD_Response* r) const { MHD_destroy_response(r); }
};

enum MHD_Result send(struct MHD_Connection* connection, const HttpResponse& r) {
  // MUST_COPY: MHD keeps its own copy, `r` may go away before the send ends.
  std::unique_ptr<struct MHD_Response, MhdResponseDeleter> resp(MHD_create_response_from_buffer(
      r.body.size(), const_cast<char*>(r.body.data()), MHD_RESPMEM_MUST_COPY));
  if (!resp) return MHD_NO;
  if (!r.body.empty() || r.status != 204) {
    MHD_add_response_header(resp.get(), MHD_HTTP_HEADER_CONTENT_TYPE, r.content_type.c_str());
  }
  // Responses may carry a one-time password: never cache any of them.
  MHD_add_response_header(resp.get(), MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
  for (const auto& h : r.headers) {
    MHD_add_response_header(resp.get(), h.first.c_str(), h.second.c_str());
  }
  // MHD holds its own reference once queued; ours is released on return.
  return MHD_queue_response(connection, static_cast<unsigned>(r.status), resp.get());
}

// What a request gets when its handling threw (std::bad_alloc, a bug): a
// fixed problem+json that needs no allocation. MHD_NO (MHD closes the
// connection) when MHD cannot take a response at this point.
enum MHD_Result send_internal_error(struct MHD_Connection* connection) noexcept {
  static const char kBody[] =
      "{\"type\":\"about:blank\",\"title\":\"Internal Server Error\",\"status\":500,"
      "\"detail\":\"the request could not be completed (internal error)\"}";
  struct MHD_Response* resp = MHD_create_response_from_buffer(
      sizeof kBody - 1, const_cast<char*>(kBody), MHD_RESPMEM_PERSISTENT);
  if (resp == nullptr) return MHD_NO;
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/problem+json");
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
  enum MHD_Result rc = MHD_queue_response(connection, 500, resp);
  MHD_destroy_response(resp);
  return rc;
}

enum MHD_Result on_access(void* cls, struct MHD_Connection* connection, const char* url,
                          const char* method, const char*, const char* upload_data,
                          size_t* upload_data_size, void** con_cls) {
  auto* server = static_cast<HttpServer*>(cls);
  auto* st = static_cast<ConnState*>(*con_cls);
  if (st == nullptr) {
    // First call: headers only. Returning here lets MHD send 100-continue
    // and start feeding the body.
    st = new ConnState;
    *con_cls = st;  // on_completed frees it, whatever happens next
    st->request.method = method;
    st->request.path = url;
    using Headers = std::multimap<std::string, std::string>;
    using Query = std::map<std::string, std::string>;
    Collected<Headers> headers{&st->request.headers};
    Collected<Query> query{&st->request.query};
    MHD_get_connection_values(connection, MHD_HEADER_KIND, collect<Headers, collect_header_into>,
                              &headers);
    MHD_get_connection_values(connection, MHD_GET_ARGUMENT_KIND, collect<Query, collect_query_into>,
                              &query);
    if (headers.failed || query.failed) return send_internal_error(connection);
    return MHD_YES;
  }
  if (*upload_data_size != 0 && st->failed) {
    *upload_data_size = 0;
    return MHD_YES;
  }
  if (*upload_data_size != 0) {
    // Past the limit the body is drained and dropped; 413 is sent at the end.
    if (!st->too_large &&
        st->request.body.size() + *upload_data_size <= server->config().max_body) {
      st->request.body.append(upload_data, *upload_data_size);
    } else {
      st->too_large = true;
      st->request.body.clear();
    }
    *upload_data_size = 0;
    return MHD_YES;
  }
  if (st->failed) return send_internal_error(connection);
  HttpRequest& req = st->request;
  apply_forwarded(req, peer_address(connection), server->config().trusted_proxies);
  if (st->too_large) {
    return send(connection, problem(413,
                                    "request body larger than " +
                                        std::to_string(server->config().max_body) + " bytes",
                                    "", req.request_id));
  }
  HttpResponse resp = server->handle(req);
  resp.headers.emplace_back("X-Request-Id", req.request_id);
  std::fprintf(stderr, "realm-sidecar: %s %s -> %d request_id=%s\n", req.method.c_str(),
               req.path.c_str(), resp.status, req.request_id.c_str());
  return send(connection, resp);
}

// MHD's callbacks, guarded (util/guard.h): nothing thrown reaches MHD.
enum MHD_Result guarded_access(void* cls, struct MHD_Connection* connection, const char* url,
                               const char* method, const char* version, const char* upload_data,
                               size_t* upload_data_size, void** con_cls) noexcept {
  enum MHD_Result rc = MHD_NO;
  if (guarded(StderrReport{"HTTP request"}, [&] {
        rc = on_access(cls, connection, url, method, version, upload_data, upload_data_size,
                       con_cls);
      })) {
    return rc;
  }
  auto* st = static_cast<ConnState*>(*con_cls);
  if (st != nullptr && *upload_data_size != 0) {  // MHD takes no response mid-body
    st->failed = true;
    *upload_data_size = 0;
    return MHD_YES;
  }
  return send_internal_error(connection);
}

void on_completed(void*, struct MHD_Connection*, void** con_cls, enum MHD_RequestTerminationCode) {
  auto* st = static_cast<ConnState*>(*con_cls);
  if (st != nullptr) {
    // The body may hold a password-free but still private payload: wipe it.
    std::fill(st->request.body.begin(), st->request.body.end(), '\0');
    delete st;
  }
  *con_cls = nullptr;
}

void guarded_completed(void* cls, struct MHD_Connection* connection, void** con_cls,
                       enum MHD_RequestTerminationCode code) noexcept {
  guarded(StderrReport{"request completion"},
          [&] { on_completed(cls, connection, con_cls, code); });
}

}  // namespace

void apply_forwarded(HttpRequest& req, const std::string& peer,
                     const std::vector<std::string>& trusted_proxies) {
  // Loopback-only does not mean nginx-only: any local process can connect.
  const bool trusted = !peer.empty() && std::find(trusted_proxies.begin(), trusted_proxies.end(),
                                                  peer) != trusted_proxies.end();
  req.request_id = pick_request_id(trusted ? req.header("x-request-id") : "");
  const std::string& real_ip = req.header("x-real-ip");
  req.client_ip = trusted && !real_ip.empty() && real_ip.size() <= 45 ? real_ip : peer;
}

HttpServer::HttpServer(ServerConfig config, Dispatch dispatch)
    : config_(std::move(config)), dispatch_(std::move(dispatch)) {}

HttpServer::~HttpServer() { stop(); }

HttpResponse HttpServer::handle(const HttpRequest& request) const { return dispatch_(request); }

bool HttpServer::start(std::string& error) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(config_.port));
  if (inet_pton(AF_INET, config_.host.c_str(), &addr.sin_addr) != 1) {
    error = "listen host " + config_.host + " is not an IPv4 address";
    return false;
  }
  // Loopback only: 127.0.0.0/8. The sidecar trusts X-Real-IP and relies on
  // nginx in front; exposing it directly would bypass the module.
  if ((ntohl(addr.sin_addr.s_addr) >> 24) != 127) {
    error = "listen host " + config_.host + " is not a loopback address (127.0.0.0/8)";
    return false;
  }
  daemon_ = MHD_start_daemon(
      MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, nullptr, nullptr,
      &guarded_access, this, MHD_OPTION_SOCK_ADDR, reinterpret_cast<const sockaddr*>(&addr),
      MHD_OPTION_THREAD_POOL_SIZE, config_.threads, MHD_OPTION_CONNECTION_TIMEOUT,
      config_.timeout_s, MHD_OPTION_NOTIFY_COMPLETED, &guarded_completed, nullptr,
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, static_cast<size_t>(128 * 1024), MHD_OPTION_END);
  if (daemon_ == nullptr) {
    error = "cannot listen on " + config_.host + ":" + std::to_string(config_.port) +
            " (address in use or not permitted)";
    return false;
  }
  return true;
}

void HttpServer::stop() {
  if (daemon_ != nullptr) {
    MHD_stop_daemon(daemon_);
    daemon_ = nullptr;
  }
}

}  // namespace realm_sidecar
