// The TLS client certificate of a connection as RFC 8705 §3.1 names it:
// x5t#S256 = base64url(SHA-256(DER certificate)).
#pragma once

#include <string>

#include "ngx.h"

namespace realm_auth {

// Empty when the connection is not TLS or the client sent no certificate.
// The certificate need not chain to a CA (ssl_verify_client
// optional_no_ca): the token binds this very certificate (RFC 8705 §2.2,
// self-signed certificate binding); nginx has already checked the client
// holds its private key (the TLS handshake).
std::string client_cert_x5t(ngx_connection_t* c);

}  // namespace realm_auth
