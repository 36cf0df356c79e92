#include "signature.h"

#include <openssl/rsa.h>

#include <cstring>
#include <string>

#include "ossl.h"

namespace realm_auth {

namespace {

enum class Family { kRsaPkcs1, kRsaPss, kEcdsa, kEdDsa };

struct AlgInfo {
  Family family;
  const EVP_MD* md;  // nullptr for EdDSA (the hash is part of the scheme)
  size_t ec_coord;   // ECDSA: bytes of R and of S (RFC 7518 §3.4)
};

AlgInfo info(Alg alg) {
  switch (alg) {
    case Alg::kRS256:
      return {Family::kRsaPkcs1, ossl::sha256(), 0};
    case Alg::kRS384:
      return {Family::kRsaPkcs1, ossl::sha384(), 0};
    case Alg::kRS512:
      return {Family::kRsaPkcs1, ossl::sha512(), 0};
    case Alg::kPS256:
      return {Family::kRsaPss, ossl::sha256(), 0};
    case Alg::kPS384:
      return {Family::kRsaPss, ossl::sha384(), 0};
    case Alg::kPS512:
      return {Family::kRsaPss, ossl::sha512(), 0};
    case Alg::kES256:
      return {Family::kEcdsa, ossl::sha256(), 32};
    case Alg::kES384:
      return {Family::kEcdsa, ossl::sha384(), 48};
    case Alg::kES512:
      return {Family::kEcdsa, ossl::sha512(), 66};
    case Alg::kEdDSA:
    case Alg::kCount:  // refused by the caller before we get here
      break;
  }
  return {Family::kEdDsa, nullptr, 0};
}

bool key_fits(Family family, EVP_PKEY* key, size_t ec_coord) {
  switch (family) {
    case Family::kRsaPkcs1:
    case Family::kRsaPss:
      return EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA;
    case Family::kEcdsa:
      // The coordinate width pins the curve: P-256 → 32, P-384 → 48, P-521 → 66.
      return EVP_PKEY_get_base_id(key) == EVP_PKEY_EC &&
             static_cast<size_t>((EVP_PKEY_get_bits(key) + 7) / 8) == ec_coord;
    case Family::kEdDsa:
      return EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519;
  }
  return false;
}

// JOSE carries ECDSA signatures as fixed-width R||S; EVP wants DER.
bool raw_to_der(std::string_view raw, size_t coord, std::string& der) {
  if (raw.size() != 2 * coord) return false;
  const auto* p = reinterpret_cast<const unsigned char*>(raw.data());
  ossl::BignumPtr r(BN_bin2bn(p, static_cast<int>(coord), nullptr));
  ossl::BignumPtr s(BN_bin2bn(p + coord, static_cast<int>(coord), nullptr));
  ossl::EcdsaSigPtr sig(ECDSA_SIG_new());
  if (!r || !s || !sig || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) return false;
  r.release();  // owned by sig now
  s.release();
  int len = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (len <= 0) return false;
  der.resize(static_cast<size_t>(len));
  auto* out = reinterpret_cast<unsigned char*>(der.data());
  return i2d_ECDSA_SIG(sig.get(), &out) == len;
}

// For PS*, the RFC 7518 §3.5 parameters: salt as long as the hash, MGF1
// with the same hash. Shared by the one-shot path and
// PreparedVerifier::create so both check the same.
bool set_pss_parameters(const AlgInfo& a, EVP_PKEY_CTX* pctx) {
  if (a.family != Family::kRsaPss) return true;
  return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1 &&
         EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, a.md) == 1;
}

bool init_verify(const AlgInfo& a, EVP_MD_CTX* ctx, EVP_PKEY* key) {
  EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
  return EVP_DigestVerifyInit(ctx, &pctx, a.md, nullptr, key) == 1 && set_pss_parameters(a, pctx);
}

bool digest_verify(const AlgInfo& a, EVP_PKEY* key, std::string_view input, std::string_view sig) {
  ossl::MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || !init_verify(a, ctx.get(), key)) return false;
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                          reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
}

// RFC 8017 §8.1.2 and §8.2.2, step 1: an RSA signature is exactly k octets
// (k = the modulus length). OpenSSL also accepts a shorter one, read as a
// number with leading zeros: a signature starting with 0x00 (1 in 256)
// would verify with that octet cut off, a second spelling of one token.
bool rsa_length_ok(Family family, size_t modulus_len, std::string_view signature) {
  if (family != Family::kRsaPkcs1 && family != Family::kRsaPss) return true;
  return signature.size() == modulus_len;
}

size_t modulus_len(Family family, EVP_PKEY* key) {
  if (family != Family::kRsaPkcs1 && family != Family::kRsaPss) return 0;
  return static_cast<size_t>(EVP_PKEY_get_size(key));
}

}  // namespace

bool verify_signature(Alg alg, EVP_PKEY* key, std::string_view signing_input,
                      std::string_view signature) {
  if (key == nullptr || alg >= Alg::kCount) return false;
  const AlgInfo a = info(alg);
  if (a.family != Family::kEdDsa && a.md == nullptr) return false;  // fetch failed
  if (!key_fits(a.family, key, a.ec_coord)) return false;
  if (!rsa_length_ok(a.family, modulus_len(a.family, key), signature)) return false;

  bool ok;
  if (a.family == Family::kEcdsa) {
    std::string der;
    ok = raw_to_der(signature, a.ec_coord, der) && digest_verify(a, key, signing_input, der);
  } else {
    ok = digest_verify(a, key, signing_input, signature);
  }
  // A failed verify leaves entries on this thread's OpenSSL error queue;
  // clear them so they are not blamed on the next, unrelated TLS call.
  if (!ok) ERR_clear_error();
  return ok;
}

std::unique_ptr<const PreparedVerifier> PreparedVerifier::create(Alg alg, EVP_PKEY* key) {
  // The same refusals as verify_signature, so a missing verifier and a
  // refusing one are indistinguishable to the caller.
  if (key == nullptr || alg >= Alg::kCount) return nullptr;
  const AlgInfo a = info(alg);
  if (a.family == Family::kEdDsa || a.md == nullptr) return nullptr;
  if (!key_fits(a.family, key, a.ec_coord)) return nullptr;

  // The context holds its own reference to the key.
  ossl::PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
  // RSA keys verify PKCS#1 v1.5 unless told otherwise, as with
  // EVP_DigestVerifyInit on the one-shot path.
  bool ok = ctx && EVP_PKEY_verify_init(ctx.get()) == 1 &&
            EVP_PKEY_CTX_set_signature_md(ctx.get(), a.md) == 1 && set_pss_parameters(a, ctx.get());
  if (!ok) {
    ERR_clear_error();
    return nullptr;
  }
  std::unique_ptr<const RsaPkcs1Verifier> rsa_pkcs1;
  if (a.family == Family::kRsaPkcs1) rsa_pkcs1 = RsaPkcs1Verifier::create(alg, key);
  return std::unique_ptr<const PreparedVerifier>(new PreparedVerifier(
      alg, a.md, a.ec_coord, modulus_len(a.family, key), ctx.release(), std::move(rsa_pkcs1)));
}

PreparedVerifier::CtxPtr PreparedVerifier::take() const {
  CtxPtr ctx;
  if (idle_mutex_.try_lock()) {
    if (!idle_.empty()) {
      ctx = std::move(idle_.back());
      idle_.pop_back();
    }
    idle_mutex_.unlock();
  }
  // EVP_PKEY_CTX_dup only reads the template.
  if (!ctx) ctx.reset(EVP_PKEY_CTX_dup(template_.get()));
  return ctx;
}

void PreparedVerifier::give_back(CtxPtr ctx) const {
  if (idle_mutex_.try_lock()) {
    if (idle_.size() < kMaxIdle) idle_.push_back(std::move(ctx));
    idle_mutex_.unlock();
  }
  // Otherwise ctx is freed here.
}

bool PreparedVerifier::verify(std::string_view signing_input, std::string_view signature,
                              const SigningInputDigest* known) const {
  if (rsa_len_ != 0 && signature.size() != rsa_len_) return false;  // as rsa_length_ok
  std::string der;
  if (ec_coord_ != 0) {
    // Malformed R||S never reaches OpenSSL, as in verify_signature.
    if (!raw_to_der(signature, ec_coord_, der)) {
      ERR_clear_error();
      return false;
    }
    signature = der;
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  bool hashed;
  if (known != nullptr && md_ == ossl::sha256() && known->is_of(signing_input)) {
    std::memcpy(digest, known->sha256.data(), known->sha256.size());
    digest_len = static_cast<unsigned int>(known->sha256.size());
    hashed = true;
  } else {
    hashed = EVP_Digest(signing_input.data(), signing_input.size(), digest, &digest_len, md_,
                        nullptr) == 1;
  }
  if (rsa_pkcs1_) {
    // It keeps the error queue clean itself.
    return hashed && rsa_pkcs1_->verify(digest, digest_len, signature);
  }
  CtxPtr ctx;
  bool ok = hashed && (ctx = take()) != nullptr &&
            EVP_PKEY_verify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                            signature.size(), digest, digest_len) == 1;
  if (ctx) give_back(std::move(ctx));
  // As in verify_signature: keep failures off this thread's error queue.
  if (!ok) ERR_clear_error();
  return ok;
}

}  // namespace realm_auth
