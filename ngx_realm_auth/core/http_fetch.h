// The one libcurl wrapper of the project: blocking HTTP calls for the
// module's JWKS fetches (nginx thread pool) and the sidecar's Keycloak
// Admin API and policy-service calls (request threads). Never call it from
// an event loop.
//
// Every call has the same guards: http/https only, no redirects followed,
// total and connect timeouts, a response body cap enforced while bytes
// arrive, no signals (NOSIGNAL), TLS peer and host verified, and every
// curl_easy_setopt checked (a refused option fails the call, it is never
// sent half-configured).
//
//   HttpCall c;  c.method = "POST";  c.url = …;  c.body = …;
//   c.headers = {"Content-Type: application/json"};
//   HttpAnswer a = http_call(c);          // or session.perform(c) to reuse
//   if (!a.transported()) … a.failure, a.error
//   else … a.status, a.body, a.location
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace realm_auth {

struct HttpCall {
  std::string method = "GET";        // GET, POST, PUT, DELETE …
  std::string url;                   // http:// or https://
  std::vector<std::string> headers;  // "Name: value" lines
  std::string body;                  // sent when non-empty (POST/PUT …)
  long timeout_ms = 5000;            // whole call
  long connect_timeout_ms = 0;       // 0: timeout_ms
  size_t max_body = 1024 * 1024;     // larger answers fail with kTooLarge
  std::string user_agent = "realm-auth";
};

struct HttpAnswer {
  enum class Failure {
    kNone,       // an HTTP answer arrived (any status)
    kNotSent,    // no connection (refused, DNS): the request provably never left
    kTimeout,    // no full answer within the timeout; the request may have happened
    kTooLarge,   // body above max_body (Content-Length or streamed)
    kSetup,      // libcurl refused an option or a handle (out of memory, bad URL scheme)
    kTransport,  // any other transfer error (TLS, reset connection …)
  };
  Failure failure = Failure::kSetup;
  long status = 0;       // HTTP status, 0 when none arrived
  std::string body;      // empty unless failure == kNone
  std::string location;  // Location header, if any
  std::string error;     // why not transported, for logs (never a header or body)
  bool transported() const { return failure == Failure::kNone; }
};

// One libcurl easy handle, owned (RAII). Reusing a session keeps its
// connection alive between calls; one thread at a time per session.
class HttpSession {
 public:
  HttpSession();
  ~HttpSession();
  HttpSession(const HttpSession&) = delete;
  HttpSession& operator=(const HttpSession&) = delete;

  HttpAnswer perform(const HttpCall& call);

 private:
  struct Handle;
  std::unique_ptr<Handle> handle_;
};

// One call on a fresh session.
HttpAnswer http_call(const HttpCall& call);

// Percent-encodes `s` for a URL path segment or a form value.
std::string url_escape(std::string_view s);

// --- JWKS documents -----------------------------------------------------------

struct FetchResult {
  bool ok = false;       // 200 and body within limits
  long http_status = 0;  // 0 when no response arrived
  std::string body;
  std::string error;  // why not ok, for the error log (no secrets)
};

// GET `url`, ok only for 200 (see the guards above).
FetchResult http_get(const std::string& url, long timeout_ms, size_t max_body);

// "<iss>/protocol/openid-connect/certs"
std::string jwks_url(std::string_view issuer);

// curl_global_init once per process, before threads use this file; false
// when libcurl could not initialise (the caller refuses to start). Sessions
// call it too, so a forgotten call cannot race.
bool http_fetch_global_init();

}  // namespace realm_auth
