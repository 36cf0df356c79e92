// The HTTP target URI as DPoP compares it (RFC 9449 §4.3 step 9): htu and
// the request's URI are equal when their normalised forms are (RFC 3986
// §6.2.2 syntax-based and §6.2.3 scheme-based normalisation), ignoring
// query and fragment.
#pragma once

#include <string>
#include <string_view>

namespace realm_auth {

// Normalises an absolute http(s) URI: scheme and host lowercased, the
// default port (80, 443) dropped, an empty path made "/", percent-encodings
// uppercased and those of unreserved characters decoded, dot segments
// removed, query and fragment cut off. False for anything else: another
// scheme, userinfo, a port that is not 1-65535, a bad percent-encoding,
// control bytes or spaces, longer than max_size.
bool normalize_htu(std::string_view uri, std::string& out, size_t max_size = 4096);

}  // namespace realm_auth
