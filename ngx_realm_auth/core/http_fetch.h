// Blocking HTTP GET with libcurl for JWKS documents. Call only from a worker
// thread (nginx thread pool, sidecar request thread), never an event loop.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace realm_auth {

struct FetchResult {
  bool ok = false;       // 200 and body within limits
  long http_status = 0;  // 0 when no response arrived
  std::string body;
  std::string error;  // why not ok, for the error log (no secrets)
};

// GET `url`; no redirects followed, http/https only, total time bounded by
// timeout_ms, body larger than max_body refused.
FetchResult http_get(const std::string& url, long timeout_ms, size_t max_body);

// "<iss>/protocol/openid-connect/certs"
std::string jwks_url(std::string_view issuer);

// curl_global_init once per process, before threads use http_get.
void http_fetch_global_init();

}  // namespace realm_auth
