#include "rsa_pkcs1.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>

#include <utility>
#include <vector>

#include "ossl.h"

namespace realm_auth {

namespace {

// DER of DigestInfo up to the digest itself (RFC 8017 §9.2, note 1).
constexpr unsigned char kSha256Prefix[] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60,
                                           0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                                           0x01, 0x05, 0x00, 0x04, 0x20};
constexpr unsigned char kSha384Prefix[] = {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60,
                                           0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                                           0x02, 0x05, 0x00, 0x04, 0x30};
constexpr unsigned char kSha512Prefix[] = {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60,
                                           0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                                           0x03, 0x05, 0x00, 0x04, 0x40};
constexpr size_t kPrefixLen = sizeof kSha256Prefix;
static_assert(sizeof kSha384Prefix == kPrefixLen && sizeof kSha512Prefix == kPrefixLen);

// The JWK rules (jwks.cc) cap RSA moduli at 16384 bits.
constexpr size_t kMaxModulusBytes = 16384 / 8;

// One BN_CTX per thread: its pool is reused, never shared between threads.
BN_CTX* scratch_bn_ctx() {
  thread_local ossl::BnCtxPtr ctx(BN_CTX_new());
  return ctx.get();
}

}  // namespace

struct RsaPkcs1Verifier::Key {
  ossl::BignumPtr n;
  ossl::BignumPtr e;
  ossl::BnMontCtxPtr mont;  // of n; only read by BN_mod_exp_mont
  size_t k = 0;             // bytes of n: every signature and block is this long
  size_t digest_len = 0;
  // The block every valid signature gives, up to the digest (EMSA-PKCS1-v1_5,
  // §9.2): 00 01, FF padding, 00, the hash's DigestInfo prefix. Built once.
  std::vector<unsigned char> encoded_prefix;
};

std::unique_ptr<const RsaPkcs1Verifier> RsaPkcs1Verifier::create(Alg alg, EVP_PKEY* key) {
  auto k = std::make_unique<Key>();
  const unsigned char* prefix = nullptr;
  switch (alg) {
    case Alg::kRS256:
      prefix = kSha256Prefix;
      k->digest_len = 32;
      break;
    case Alg::kRS384:
      prefix = kSha384Prefix;
      k->digest_len = 48;
      break;
    case Alg::kRS512:
      prefix = kSha512Prefix;
      k->digest_len = 64;
      break;
    default:
      return nullptr;
  }
  if (key == nullptr || EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) return nullptr;
  BIGNUM* n = nullptr;
  BIGNUM* e = nullptr;
  bool got = EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n) == 1 &&
             EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &e) == 1;
  k->n.reset(n);
  k->e.reset(e);
  k->k = got ? static_cast<size_t>(BN_num_bytes(k->n.get())) : 0;
  k->mont.reset(BN_MONT_CTX_new());
  BN_CTX* ctx = scratch_bn_ctx();
  // Montgomery needs an odd modulus; the block needs room for at least 8
  // bytes of padding (RFC 8017 §9.2 step 3).
  if (!got || !k->mont || ctx == nullptr || !BN_is_odd(k->n.get()) || k->k > kMaxModulusBytes ||
      k->k < kPrefixLen + k->digest_len + 11 ||
      BN_MONT_CTX_set(k->mont.get(), k->n.get(), ctx) != 1) {
    ERR_clear_error();
    return nullptr;
  }
  const size_t pad = k->k - 3 - kPrefixLen - k->digest_len;
  k->encoded_prefix.assign(2 + pad, 0xff);
  k->encoded_prefix[0] = 0x00;
  k->encoded_prefix[1] = 0x01;
  k->encoded_prefix.push_back(0x00);
  k->encoded_prefix.insert(k->encoded_prefix.end(), prefix, prefix + kPrefixLen);
  return std::unique_ptr<const RsaPkcs1Verifier>(new RsaPkcs1Verifier(std::move(k)));
}

RsaPkcs1Verifier::RsaPkcs1Verifier(std::unique_ptr<Key> key) : key_(std::move(key)) {}

RsaPkcs1Verifier::~RsaPkcs1Verifier() = default;

bool RsaPkcs1Verifier::verify(const unsigned char* digest, size_t digest_len,
                              std::string_view signature) const {
  const Key& key = *key_;
  // §8.2.2 step 1: exactly k bytes (a shorter one would be a second
  // spelling of the same number).
  if (digest_len != key.digest_len || signature.size() != key.k) return false;
  BN_CTX* ctx = scratch_bn_ctx();
  if (ctx == nullptr) return false;

  unsigned char block[kMaxModulusBytes];
  BN_CTX_start(ctx);
  BIGNUM* s = BN_CTX_get(ctx);
  BIGNUM* m = BN_CTX_get(ctx);
  // RSAVP1 (§5.2.2): s must be below n, or s and s + n would both verify.
  bool ok = m != nullptr &&
            BN_bin2bn(reinterpret_cast<const unsigned char*>(signature.data()),
                      static_cast<int>(signature.size()), s) != nullptr &&
            BN_ucmp(s, key.n.get()) < 0 &&
            BN_mod_exp_mont(m, s, key.e.get(), key.n.get(), ctx, key.mont.get()) == 1 &&
            BN_bn2binpad(m, block, static_cast<int>(key.k)) == static_cast<int>(key.k);
  BN_CTX_end(ctx);
  if (!ok) {
    ERR_clear_error();
    return false;
  }
  // The whole block: the fixed part built at create(), then the digest.
  const size_t fixed = key.encoded_prefix.size();
  return CRYPTO_memcmp(block, key.encoded_prefix.data(), fixed) == 0 &&
         CRYPTO_memcmp(block + fixed, digest, key.digest_len) == 0;
}

}  // namespace realm_auth
