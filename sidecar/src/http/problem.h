// application/problem+json (RFC 9457) for every error the sidecar returns.
//
//   {"type":"about:blank","title":"Bad Request","status":400,
//    "detail":"slug must be a lowercase DNS label ...","field":"slug",
//    "request_id":"…"}
//
// `field` (an extension member) names the offending JSON member or header
// for 400s, so clients can point at the input without parsing prose.
// `detail` is written for the caller: it never carries secrets, tokens,
// passwords, SQL or stack traces.
#pragma once

#include <string>

#include "http/message.h"
#include "status.h"

namespace realm_sidecar {

// Reason phrase of an HTTP status ("Not Found"); "Error" when unknown.
const char* http_reason(int status);

HttpResponse problem(int status, const std::string& detail, const std::string& field = "",
                     const std::string& request_id = "");

// 401 for a refused credential: detail status_description(status), and
// core's WWW-Authenticate challenge (bearer.h), the one nginx sends.
HttpResponse unauthorized(realm_auth::Status status, const std::string& request_id = "");

}  // namespace realm_sidecar
