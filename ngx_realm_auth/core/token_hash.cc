#include "token_hash.h"

#include <openssl/rand.h>

#include <cstdlib>
#include <cstring>

#include "ossl.h"

namespace realm_auth {

namespace {

// One hashing context per thread, reset for every digest: a new token
// would otherwise pay an allocation and a free of OpenSSL's context twice.
EVP_MD_CTX* scratch_md_ctx() {
  thread_local ossl::MdCtxPtr ctx(EVP_MD_CTX_new());
  return ctx.get();
}

bool sha256(EVP_MD_CTX* ctx, std::string_view bytes, TokenHash& out) {
  unsigned int len = 0;
  return EVP_DigestInit_ex(ctx, ossl::sha256(), nullptr) == 1 &&
         EVP_DigestUpdate(ctx, bytes.data(), bytes.size()) == 1 &&
         EVP_DigestFinal_ex(ctx, out.data(), &len) == 1;
}

}  // namespace

std::optional<CacheKeySettings> cache_key_settings(std::string_view config_fingerprint) {
  CacheKeySettings s;
  EVP_MD_CTX* ctx = scratch_md_ctx();
  if (ctx == nullptr || !sha256(ctx, config_fingerprint, s.sha256)) return std::nullopt;
  return s;
}

TokenHash token_cache_key(const CacheKeySettings& settings, std::string_view token,
                          SigningInputDigest* digest) {
  TokenHash out{};
  // Split at the last '.': a token's parts are unambiguous (the rest holds
  // no '.'), and a token without one hashes as an empty signing input.
  // memrchr, not rfind: rfind walks the ~350-byte signature a byte at a
  // time, which cost a new token a quarter of its whole cache key.
  const void* last_dot = token.empty() ? nullptr : memrchr(token.data(), '.', token.size());
  size_t dot = last_dot == nullptr
                   ? std::string_view::npos
                   : static_cast<size_t>(static_cast<const char*>(last_dot) - token.data());
  std::string_view signing_input =
      dot == std::string_view::npos ? std::string_view{} : token.substr(0, dot);
  std::string_view rest = dot == std::string_view::npos ? token : token.substr(dot);
  TokenHash input_hash{};
  const unsigned char format = 2;
  unsigned int len = 0;
  EVP_MD_CTX* ctx = scratch_md_ctx();
  if (ctx != nullptr && sha256(ctx, signing_input, input_hash) &&
      EVP_DigestInit_ex(ctx, ossl::sha256(), nullptr) == 1 &&
      EVP_DigestUpdate(ctx, settings.sha256.data(), settings.sha256.size()) == 1 &&
      EVP_DigestUpdate(ctx, &format, 1) == 1 &&
      EVP_DigestUpdate(ctx, input_hash.data(), input_hash.size()) == 1 &&
      EVP_DigestUpdate(ctx, rest.data(), rest.size()) == 1 &&
      EVP_DigestFinal_ex(ctx, out.data(), &len) == 1) {
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
