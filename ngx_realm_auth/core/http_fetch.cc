#include "http_fetch.h"

#include <curl/curl.h>
#include <strings.h>

#include <algorithm>
#include <mutex>

#include "guarded.h"

namespace realm_auth {

namespace {

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using SlistPtr = std::unique_ptr<curl_slist, SlistDeleter>;

struct Sink {
  std::string* body;
  size_t max_body;
  bool too_large = false;
};

// Enforces max_body as bytes arrive: Content-Length may be absent or lie.
size_t on_body(char* data, size_t size, size_t nmemb, void* userdata) {
  auto* sink = static_cast<Sink*>(userdata);
  size_t n = size * nmemb;
  if (n > sink->max_body - sink->body->size()) {
    sink->too_large = true;
    return 0;  // makes curl stop with CURLE_WRITE_ERROR
  }
  sink->body->append(data, n);
  return n;
}

// Keeps the Location header (a 201's new resource); other headers are
// not retained.
size_t on_header(char* data, size_t size, size_t nmemb, void* userdata) {
  auto* location = static_cast<std::string*>(userdata);
  size_t n = size * nmemb;
  if (n > 9 && strncasecmp(data, "location:", 9) == 0) {
    std::string v(data + 9, n - 9);
    v.erase(0, v.find_first_not_of(" \t"));
    while (!v.empty() && (v.back() == '\r' || v.back() == '\n' || v.back() == ' ')) v.pop_back();
    *location = v.substr(0, 2048);
  }
  return n;
}

// What curl calls (from C): an exception must not unwind through curl.
// 0 makes curl stop with CURLE_WRITE_ERROR, and the call fails.
template <size_t (*Fn)(char*, size_t, size_t, void*)>
size_t guarded_callback(char* data, size_t size, size_t nmemb, void* userdata) noexcept {
  return guarded([](const char*) {}, size_t{0}, [&] { return Fn(data, size, nmemb, userdata); });
}

// Every option checked: one refused option means the call is not made.
template <typename T>
bool set(CURL* c, CURLoption opt, T value) {
  return curl_easy_setopt(c, opt, value) == CURLE_OK;
}

bool configure(CURL* c, const HttpCall& call, curl_slist* headers, Sink& sink,
               std::string& location, char* errbuf) {
  const long connect_ms = call.connect_timeout_ms > 0
                              ? std::min(call.connect_timeout_ms, call.timeout_ms)
                              : call.timeout_ms;
  bool ok = set(c, CURLOPT_URL, call.url.c_str()) && set(c, CURLOPT_PROTOCOLS_STR, "http,https") &&
            // A redirect could lead anywhere, including back into the
            // network the issuer allowlist is meant to fence off.
            set(c, CURLOPT_FOLLOWLOCATION, 0L) &&
            // Signals are process-wide; curl's alarm-based DNS timeout is
            // unsafe in worker threads.
            set(c, CURLOPT_NOSIGNAL, 1L) && set(c, CURLOPT_TIMEOUT_MS, call.timeout_ms) &&
            set(c, CURLOPT_CONNECTTIMEOUT_MS, connect_ms) && set(c, CURLOPT_SSL_VERIFYPEER, 1L) &&
            set(c, CURLOPT_SSL_VERIFYHOST, 2L) &&
            set(c, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(call.max_body)) &&
            set(c, CURLOPT_USERAGENT, call.user_agent.c_str()) &&
            set(c, CURLOPT_ERRORBUFFER, errbuf) &&
            set(c, CURLOPT_WRITEFUNCTION, guarded_callback<on_body>) &&
            set(c, CURLOPT_WRITEDATA, &sink) &&
            set(c, CURLOPT_HEADERFUNCTION, guarded_callback<on_header>) &&
            set(c, CURLOPT_HEADERDATA, &location) && set(c, CURLOPT_HTTPHEADER, headers);
  if (!ok) return false;
  if (call.method == "GET") {
    ok = set(c, CURLOPT_HTTPGET, 1L);
  } else {
    ok = set(c, CURLOPT_CUSTOMREQUEST, call.method.c_str());
  }
  if (ok && !call.body.empty()) {
    // The pointer stays valid: `call` outlives curl_easy_perform.
    ok = set(c, CURLOPT_POSTFIELDS, call.body.data()) &&
         set(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(call.body.size()));
  }
  return ok;
}

HttpAnswer::Failure classify(CURLcode rc, bool too_large) {
  if (too_large || rc == CURLE_FILESIZE_EXCEEDED) return HttpAnswer::Failure::kTooLarge;
  switch (rc) {
    case CURLE_OK:
      return HttpAnswer::Failure::kNone;
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      return HttpAnswer::Failure::kNotSent;
    case CURLE_OPERATION_TIMEDOUT:
      return HttpAnswer::Failure::kTimeout;
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
      return HttpAnswer::Failure::kSetup;
    default:
      return HttpAnswer::Failure::kTransport;
  }
}

}  // namespace

struct HttpSession::Handle {
  std::unique_ptr<CURL, CurlDeleter> curl;
  bool used = false;
};

HttpSession::HttpSession() : handle_(std::make_unique<Handle>()) {
  if (http_fetch_global_init()) handle_->curl.reset(curl_easy_init());
}

HttpSession::~HttpSession() = default;

HttpAnswer HttpSession::perform(const HttpCall& call) {
  HttpAnswer a;
  CURL* c = handle_->curl.get();
  if (c == nullptr) {
    a.error = "libcurl handle unavailable";
    return a;
  }
  // Options of the previous call go; the connection cache stays.
  if (handle_->used) curl_easy_reset(c);
  handle_->used = true;
  SlistPtr headers;
  for (const std::string& h : call.headers) {
    curl_slist* next = curl_slist_append(headers.get(), h.c_str());
    if (next == nullptr) {
      a.error = "out of memory building request headers";
      return a;
    }
    (void)headers.release();
    headers.reset(next);
  }
  char errbuf[CURL_ERROR_SIZE] = {0};
  Sink sink{&a.body, call.max_body};
  if (!configure(c, call, headers.get(), sink, a.location, errbuf)) {
    a.error = "libcurl refused an option for " + call.method + " (check the URL)";
    return a;
  }
  CURLcode rc = curl_easy_perform(c);
  if (curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a.status) != CURLE_OK) a.status = 0;
  // Drop the per-call pointers (errbuf, sink, headers die with this frame).
  (void)curl_easy_setopt(c, CURLOPT_ERRORBUFFER, nullptr);
  (void)curl_easy_setopt(c, CURLOPT_HTTPHEADER, nullptr);
  a.failure = classify(rc, sink.too_large);
  switch (a.failure) {
    case HttpAnswer::Failure::kNone:
      return a;
    case HttpAnswer::Failure::kTooLarge:
      a.error = "response body larger than " + std::to_string(call.max_body) + " bytes";
      break;
    case HttpAnswer::Failure::kTimeout:
      a.error = "no answer within " + std::to_string(call.timeout_ms) + " ms";
      break;
    default:
      a.error = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc);
  }
  a.body.clear();
  return a;
}

HttpAnswer http_call(const HttpCall& call) {
  HttpSession session;
  return session.perform(call);
}

std::string url_escape(std::string_view s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    // RFC 3986 unreserved characters pass; everything else is encoded.
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

FetchResult http_get(const std::string& url, long timeout_ms, size_t max_body) {
  HttpCall call;
  call.url = url;
  call.timeout_ms = timeout_ms;
  call.max_body = max_body;
  HttpAnswer a = http_call(call);
  FetchResult r;
  r.http_status = a.status;
  if (!a.transported()) {
    r.error = a.error;
  } else if (a.status != 200) {
    r.error = "HTTP status " + std::to_string(a.status);
  } else {
    r.ok = true;
    r.body = std::move(a.body);
  }
  return r;
}

std::string jwks_url(std::string_view issuer) {
  std::string url(issuer);
  url += "/protocol/openid-connect/certs";
  return url;
}

bool http_fetch_global_init() {
  static std::once_flag once;
  static bool ok = false;
  std::call_once(once, [] { ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK; });
  return ok;
}

}  // namespace realm_auth
