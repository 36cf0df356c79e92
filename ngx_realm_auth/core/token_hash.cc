#include "token_hash.h"

#include <openssl/rand.h>

#include <cstdlib>

#include "ossl.h"

namespace realm_auth {

TokenHash token_cache_key(std::string_view config_fingerprint, std::string_view token,
                          SigningInputDigest* digest) {
  TokenHash out{};
  // Split at the last '.': a token's parts are unambiguous (the rest holds
  // no '.'), and a token without one hashes as an empty signing input.
  size_t dot = token.rfind('.');
  std::string_view signing_input =
      dot == std::string_view::npos ? std::string_view{} : token.substr(0, dot);
  std::string_view rest = dot == std::string_view::npos ? token : token.substr(dot);
  TokenHash input_hash{};
  const unsigned char one = 1;
  unsigned int len = 0;
  ossl::MdCtxPtr ctx(EVP_MD_CTX_new());
  if (ctx &&
      EVP_Digest(signing_input.data(), signing_input.size(), input_hash.data(), &len,
                 ossl::sha256(), nullptr) == 1 &&
      EVP_DigestInit_ex(ctx.get(), ossl::sha256(), nullptr) == 1 &&
      EVP_DigestUpdate(ctx.get(), config_fingerprint.data(), config_fingerprint.size()) == 1 &&
      EVP_DigestUpdate(ctx.get(), &one, 1) == 1 &&
      EVP_DigestUpdate(ctx.get(), input_hash.data(), input_hash.size()) == 1 &&
      EVP_DigestUpdate(ctx.get(), rest.data(), rest.size()) == 1 &&
      EVP_DigestFinal_ex(ctx.get(), out.data(), &len) == 1) {
    if (digest != nullptr && !signing_input.empty()) {
      digest->covers.assign(signing_input);
      digest->sha256 = input_hash;
    }
    return out;
  }
  // Only out of memory gets here. A fixed fallback key would let one token's
  // cache entry answer for another, so use a random key that matches
  // nothing (a cache miss); with no randomness either, stop the process
  // rather than risk accepting the wrong token. No digest is handed out.
  if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) std::abort();
  return out;
}

}  // namespace realm_auth
