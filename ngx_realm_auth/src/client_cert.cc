#include "client_cert.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <memory>

#include "jwk_thumbprint.h"

namespace realm_auth {

std::string client_cert_x5t(ngx_connection_t* c) {
#if (NGX_HTTP_SSL)
  if (c == nullptr || c->ssl == nullptr || c->ssl->connection == nullptr) return {};
  std::unique_ptr<X509, decltype(&X509_free)> cert(SSL_get1_peer_certificate(c->ssl->connection),
                                                   X509_free);
  if (!cert) return {};
  int len = i2d_X509(cert.get(), nullptr);
  if (len <= 0) return {};
  std::string der(static_cast<size_t>(len), '\0');
  auto* p = reinterpret_cast<unsigned char*>(der.data());
  if (i2d_X509(cert.get(), &p) != len) return {};
  return sha256_base64url(der);
#else
  (void)c;
  return {};
#endif
}

}  // namespace realm_auth
