#include "http_fetch.h"

#include <curl/curl.h>

#include <memory>
#include <mutex>

#include "guarded.h"

namespace realm_auth {

namespace {

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
using CurlPtr = std::unique_ptr<CURL, CurlDeleter>;

struct Sink {
  std::string* body;
  size_t max_body;
  bool too_large = false;
  bool out_of_memory = false;  // the body could not be stored (see store_body)
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

// What curl calls (from C): an exception must not unwind through curl.
// 0 makes curl stop with CURLE_WRITE_ERROR, and the fetch fails.
size_t store_body(char* data, size_t size, size_t nmemb, void* userdata) noexcept {
  auto* sink = static_cast<Sink*>(userdata);
  return guarded([sink](const char*) { sink->out_of_memory = true; }, size_t{0},
                 [&] { return on_body(data, size, nmemb, userdata); });
}

bool configure(CURL* curl, const std::string& url, long timeout_ms, Sink& sink, char* errbuf) {
  return curl_easy_setopt(curl, CURLOPT_URL, url.c_str()) == CURLE_OK &&
         curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
         // A redirect could lead anywhere, including back into the network
         // the issuer allowlist is meant to fence off.
         curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK &&
         // Signals are process-wide; curl's alarm-based DNS timeout is unsafe
         // in worker threads.
         curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
         curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms) == CURLE_OK &&
         curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms) == CURLE_OK &&
         curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L) == CURLE_OK &&
         curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L) == CURLE_OK &&
         curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE,
                          static_cast<curl_off_t>(sink.max_body)) == CURLE_OK &&
         curl_easy_setopt(curl, CURLOPT_USERAGENT, "realm-auth") == CURLE_OK &&
         curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf) == CURLE_OK &&
         curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, store_body) == CURLE_OK &&
         curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink) == CURLE_OK;
}

}  // namespace

FetchResult http_get(const std::string& url, long timeout_ms, size_t max_body) {
  FetchResult r;
  CurlPtr curl(curl_easy_init());
  if (!curl) {
    r.error = "curl_easy_init failed";
    return r;
  }
  char errbuf[CURL_ERROR_SIZE] = {0};
  Sink sink{&r.body, max_body};
  if (!configure(curl.get(), url, timeout_ms, sink, errbuf)) {
    r.error = "curl setup failed";
    return r;
  }
  CURLcode rc = curl_easy_perform(curl.get());
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &r.http_status);
  if (sink.out_of_memory) {
    r.error = "out of memory while reading the response body";
  } else if (sink.too_large || rc == CURLE_FILESIZE_EXCEEDED) {
    r.error = "response body larger than " + std::to_string(max_body) + " bytes";
  } else if (rc != CURLE_OK) {
    r.error = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc);
  } else if (r.http_status != 200) {
    r.error = "HTTP status " + std::to_string(r.http_status);
  } else {
    r.ok = true;
    return r;
  }
  r.body.clear();
  return r;
}

std::string jwks_url(std::string_view issuer) {
  std::string url(issuer);
  url += "/protocol/openid-connect/certs";
  return url;
}

void http_fetch_global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace realm_auth
