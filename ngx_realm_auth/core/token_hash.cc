#include "token_hash.h"

#include <openssl/rand.h>

#include <cstdlib>

#include "ossl.h"

namespace realm_auth {

TokenHash token_cache_key(std::string_view config_fingerprint, std::string_view token) {
  TokenHash out{};
  ossl::MdCtxPtr ctx(EVP_MD_CTX_new());
  const unsigned char zero = 0;
  unsigned int len = 0;
  if (ctx && EVP_DigestInit_ex(ctx.get(), ossl::sha256(), nullptr) == 1 &&
      EVP_DigestUpdate(ctx.get(), config_fingerprint.data(), config_fingerprint.size()) == 1 &&
      EVP_DigestUpdate(ctx.get(), &zero, 1) == 1 &&
      EVP_DigestUpdate(ctx.get(), token.data(), token.size()) == 1 &&
      EVP_DigestFinal_ex(ctx.get(), out.data(), &len) == 1) {
    return out;
  }
  // Only out of memory gets here. A fixed fallback key would let one token's
  // cache entry answer for another, so use a random key that matches
  // nothing (a cache miss); with no randomness either, stop the process
  // rather than risk accepting the wrong token.
  if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) std::abort();
  return out;
}

}  // namespace realm_auth
