#include "jwk_thumbprint.h"

#include <openssl/evp.h>

#include <cstring>

#include "base64url.h"
#include "json.h"
#include "ossl.h"

namespace realm_auth {

namespace {

// Member text allowed verbatim inside a JSON string: printable ASCII
// without '"' and '\\'.
bool plain(std::string_view v) {
  if (v.empty()) return false;
  for (char c : v) {
    if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') return false;
  }
  return true;
}

}  // namespace

std::string sha256_base64url(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), md, &len, ossl::sha256(), nullptr) != 1) return {};
  return base64url_encode(std::string_view(reinterpret_cast<const char*>(md), len));
}

bool jwk_thumbprint(const json_t* jwk, std::string& out) {
  std::string_view kty;
  if (!json_is_object(jwk) || !json_get_string(jwk, "kty", kty)) return false;
  static const char* const kRsa[] = {"e", "kty", "n", nullptr};
  static const char* const kEc[] = {"crv", "kty", "x", "y", nullptr};
  static const char* const kOkp[] = {"crv", "kty", "x", nullptr};
  const char* const* members = kty == "RSA"   ? kRsa
                               : kty == "EC"  ? kEc
                               : kty == "OKP" ? kOkp
                                              : nullptr;
  if (members == nullptr) return false;
  std::string canonical = "{";
  for (const char* const* m = members; *m != nullptr; ++m) {
    const json_t* v = json_object_get(jwk, *m);
    if (!json_is_string(v)) return false;
    std::string_view text(json_string_value(v), json_string_length(v));
    if (!plain(text)) return false;
    if (canonical.size() > 1) canonical += ',';
    canonical += '"';
    canonical += *m;
    canonical += "\":\"";
    canonical += text;
    canonical += '"';
  }
  canonical += '}';
  out = sha256_base64url(canonical);
  return !out.empty();
}

}  // namespace realm_auth
