// Internal to the core library: RAII owners for the OpenSSL handles the
// library touches, and the message digests it uses, fetched once.
#pragma once

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <memory>

namespace realm_auth {
namespace ossl {

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};

using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX, EVP_MD_CTX_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using BignumPtr = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;
using BnCtxPtr = std::unique_ptr<BN_CTX, Deleter<BN_CTX, BN_CTX_free>>;
using BnMontCtxPtr = std::unique_ptr<BN_MONT_CTX, Deleter<BN_MONT_CTX, BN_MONT_CTX_free>>;
using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, Deleter<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>>;
using ParamPtr = std::unique_ptr<OSSL_PARAM, Deleter<OSSL_PARAM, OSSL_PARAM_free>>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, Deleter<ECDSA_SIG, ECDSA_SIG_free>>;
using MdPtr = std::unique_ptr<EVP_MD, Deleter<EVP_MD, EVP_MD_free>>;

// Explicitly fetched digests. EVP_sha256() and friends make OpenSSL 3 look
// the implementation up again (a locked provider query) on every init; a
// fetched EVP_MD skips that, which matters on the per-request verify path.
// Fetched on first use (thread-safe static init), freed at exit.
inline const EVP_MD* sha256() {
  static const MdPtr md(EVP_MD_fetch(nullptr, "SHA256", nullptr));
  return md.get();
}
inline const EVP_MD* sha384() {
  static const MdPtr md(EVP_MD_fetch(nullptr, "SHA384", nullptr));
  return md.get();
}
inline const EVP_MD* sha512() {
  static const MdPtr md(EVP_MD_fetch(nullptr, "SHA512", nullptr));
  return md.get();
}

}  // namespace ossl
}  // namespace realm_auth
