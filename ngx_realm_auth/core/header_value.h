// The one rule for bytes the project hands to HTTP headers and nginx
// variables: no control byte (0x00-0x1f, tab included, and 0x7f). A value
// that breaks it is refused where it enters (a token's strings at
// verification, a client's X-Purpose at selection), never escaped: an
// escaped value would differ between the module, the sidecar and the
// upstream, and the escape itself could be mistaken for data.
#pragma once

#include <string_view>

namespace realm_auth {

// True when `v` holds no control byte.
bool header_safe(std::string_view v);

}  // namespace realm_auth
