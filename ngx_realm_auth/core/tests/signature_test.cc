// Signature checks: the published RFC 7515 / 7520 / 8037 vectors, then a
// freshly generated key for every algorithm, positive and tampered.
#include "signature.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "base64url.h"
#include "cmocka_cxx.h"
#include "rfc_vectors.h"
#include "test_support.h"
#include "token_hash.h"

using namespace realm_auth;
using namespace realm_auth::test;

namespace {

std::string rsa_jwk(const char* n) {
  return std::string(R"({"kty":"RSA","n":")") + n + R"(","e":"AQAB"})";
}
std::string ec_jwk(const char* crv, const char* x, const char* y) {
  return std::string(R"({"kty":"EC","crv":")") + crv + R"(","x":")" + x + R"(","y":")" + y +
         R"("})";
}
std::string okp_jwk(const char* x) {
  return std::string(R"({"kty":"OKP","crv":"Ed25519","x":")") + x + R"("})";
}

std::string decode(std::string_view b64url) {
  std::string out;
  assert_true(base64url_decode(b64url, out));
  return out;
}

// Both paths give `expected`: the one-shot verify_signature and, for every
// algorithm but EdDSA (which cannot stream), a PreparedVerifier of the key.
void agree(Alg alg, EVP_PKEY* key, std::string_view input, std::string_view sig, bool expected) {
  assert_int_equal(verify_signature(alg, key, input, sig), expected);
  auto prepared = PreparedVerifier::create(alg, key);
  if (alg == Alg::kEdDSA) {
    assert_null(prepared.get());
    return;
  }
  assert_non_null(prepared.get());
  assert_true(prepared->alg() == alg);
  assert_int_equal(prepared->verify(input, sig), expected);
  // A verifier is reusable: the second call sees the same untouched template.
  assert_int_equal(prepared->verify(input, sig), expected);
  // A context reused after a refused call (here a truncated signature) still
  // gives the right answer.
  assert_false(prepared->verify(input, sig.substr(0, sig.size() / 2)));
  assert_int_equal(prepared->verify(input, sig), expected);
}

// Verifies a compact JWS vector, then the same with one input byte and one
// signature byte changed.
void check_vector(Alg alg, EVP_PKEY* key, std::string_view token) {
  assert_non_null(key);
  size_t dot = token.rfind('.');
  std::string input(token.substr(0, dot));
  std::string sig = decode(token.substr(dot + 1));
  agree(alg, key, input, sig, true);

  std::string bad_input = input;
  bad_input[bad_input.size() / 2] ^= 0x01;
  agree(alg, key, bad_input, sig, false);
  std::string bad_sig = sig;
  bad_sig[bad_sig.size() / 2] ^= 0x01;
  agree(alg, key, input, bad_sig, false);
}

void rfc7515_a2_rs256(void**) {
  check_vector(Alg::kRS256, key_from_jwk(rsa_jwk(kRfc7515A2N)).get(), kRfc7515A2Token);
}

void rfc7515_a3_es256(void**) {
  check_vector(Alg::kES256, key_from_jwk(ec_jwk("P-256", kRfc7515A3X, kRfc7515A3Y)).get(),
               kRfc7515A3Token);
}

void rfc7515_a4_es512(void**) {
  check_vector(Alg::kES512, key_from_jwk(ec_jwk("P-521", kRfc7515A4X, kRfc7515A4Y)).get(),
               kRfc7515A4Token);
}

void rfc7520_rs256_ps384_es512(void**) {
  EvpPkeyPtr rsa = key_from_jwk(rsa_jwk(kRfc7520RsaN));
  EvpPkeyPtr ec = key_from_jwk(ec_jwk("P-521", kRfc7520EcX, kRfc7520EcY));
  const std::string payload = kRfc7520Payload;
  check_vector(Alg::kRS256, rsa.get(),
               std::string(kRfc7520RS256Header) + "." + payload + "." + kRfc7520RS256Signature);
  check_vector(Alg::kPS384, rsa.get(),
               std::string(kRfc7520PS384Header) + "." + payload + "." + kRfc7520PS384Signature);
  check_vector(Alg::kES512, ec.get(),
               std::string(kRfc7520ES512Header) + "." + payload + "." + kRfc7520ES512Signature);
  // RFC 7518 §3.5 fixes the PSS parameters per algorithm: the PS384
  // signature is not a PS256 or PS512 one, nor PKCS#1 v1.5.
  std::string input = std::string(kRfc7520PS384Header) + "." + payload;
  std::string sig = decode(kRfc7520PS384Signature);
  assert_false(verify_signature(Alg::kPS256, rsa.get(), input, sig));
  assert_false(verify_signature(Alg::kPS512, rsa.get(), input, sig));
  assert_false(verify_signature(Alg::kRS384, rsa.get(), input, sig));
}

void rfc8037_a4_eddsa(void**) {
  EvpPkeyPtr pub = key_from_jwk(okp_jwk(kRfc8037X));
  check_vector(Alg::kEdDSA, pub.get(), kRfc8037Token);

  // Ed25519 is deterministic: the private key of A.1 reproduces A.4 exactly.
  std::string d = decode(kRfc8037D);
  EvpPkeyPtr priv(EVP_PKEY_new_raw_private_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(d.data()), d.size()));
  std::string_view token = kRfc8037Token;
  std::string input(token.substr(0, token.rfind('.')));
  assert_string_equal(b64(sign(Alg::kEdDSA, priv.get(), input)).c_str(),
                      std::string(token.substr(token.rfind('.') + 1)).c_str());
}

void every_algorithm_generated(void**) {
  for (unsigned i = 0; i < static_cast<unsigned>(Alg::kCount); ++i) {
    const Alg alg = static_cast<Alg>(i);
    bool rsa = alg <= Alg::kPS512;
    EvpPkeyPtr own = rsa ? nullptr : generate_key(alg);
    EVP_PKEY* key = rsa ? shared_rsa_key() : own.get();
    const std::string input = "eyJhbGciOiJ4In0.eyJzdWIiOiJ4In0";
    std::string sig = sign(alg, key, input);
    assert_true(verify_signature(alg, key, input, sig));
    assert_false(verify_signature(alg, key, input + "x", sig));
    std::string bad = sig;
    bad[bad.size() / 3] ^= 0x40;
    assert_false(verify_signature(alg, key, input, bad));
    // Right type, wrong key (one spare RSA key: generating them is slow).
    static EvpPkeyPtr other_rsa = generate_key(Alg::kRS256);
    EvpPkeyPtr other = rsa ? nullptr : generate_key(alg);
    assert_false(verify_signature(alg, rsa ? other_rsa.get() : other.get(), input, sig));
    assert_false(verify_signature(alg, key, input, ""));
  }
}

void ecdsa_form_is_fixed_width_raw(void**) {
  EvpPkeyPtr key = generate_key(Alg::kES256);
  const std::string input = "a.b";
  std::string raw = sign(Alg::kES256, key.get(), input);
  assert_int_equal(raw.size(), 64);
  assert_false(verify_signature(Alg::kES256, key.get(), input, raw.substr(0, 63)));
  assert_false(verify_signature(Alg::kES256, key.get(), input, raw + '\0'));
  assert_false(verify_signature(Alg::kES256, key.get(), input, '\0' + raw));
  // The DER form EVP produces natively is refused (RFC 7518 §3.4).
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  size_t len = 0;
  assert_int_equal(EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key.get()), 1);
  assert_int_equal(
      EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()),
                     input.size()),
      1);
  std::string der(len, '\0');
  assert_int_equal(
      EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(der.data()), &len,
                     reinterpret_cast<const unsigned char*>(input.data()), input.size()),
      1);
  EVP_MD_CTX_free(ctx);
  der.resize(len);
  assert_false(verify_signature(Alg::kES256, key.get(), input, der));
  // R = 0 or S = 0 never verifies.
  assert_false(verify_signature(Alg::kES256, key.get(), input, std::string(64, '\0')));
}

void key_and_algorithm_must_agree(void**) {
  EvpPkeyPtr p256 = generate_key(Alg::kES256);
  EvpPkeyPtr p384 = generate_key(Alg::kES384);
  EvpPkeyPtr ed = generate_key(Alg::kEdDSA);
  EVP_PKEY* rsa = shared_rsa_key();
  const std::string input = "a.b";
  // ES256 signature checked with a P-384 key of the ES384 width: refused.
  std::string es384 = sign(Alg::kES384, p384.get(), input);
  assert_false(verify_signature(Alg::kES256, p384.get(), input, es384.substr(0, 64)));
  assert_false(verify_signature(Alg::kES384, p256.get(), input, es384));
  assert_false(verify_signature(Alg::kRS256, p256.get(), input, std::string(256, 'x')));
  assert_false(verify_signature(Alg::kES256, rsa, input, sign(Alg::kES256, p256.get(), input)));
  assert_false(verify_signature(Alg::kEdDSA, p256.get(), input, std::string(64, 'x')));
  assert_false(verify_signature(Alg::kRS256, ed.get(), input, sign(Alg::kEdDSA, ed.get(), input)));
  // RS and PS signatures are not interchangeable.
  assert_false(verify_signature(Alg::kPS256, rsa, input, sign(Alg::kRS256, rsa, input)));
  assert_false(verify_signature(Alg::kRS256, rsa, input, sign(Alg::kPS256, rsa, input)));
  assert_false(verify_signature(Alg::kRS256, nullptr, input, "x"));
  assert_false(verify_signature(Alg::kCount, rsa, input, "x"));
}

// PSS signature made with other parameters than RFC 7518 §3.5 prescribes.
std::string pss_sign(EVP_PKEY* key, const std::string& input, int saltlen, const EVP_MD* mgf1) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  assert_int_equal(EVP_DigestSignInit(ctx, &pctx, EVP_sha256(), nullptr, key), 1);
  assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
  assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, saltlen), 1);
  assert_int_equal(EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, mgf1), 1);
  size_t len = 512;
  std::string sig(len, '\0');
  assert_int_equal(
      EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(input.data()), input.size()),
      1);
  EVP_MD_CTX_free(ctx);
  sig.resize(len);
  return sig;
}

void pss_parameters_are_fixed(void**) {
  EVP_PKEY* rsa = shared_rsa_key();
  const std::string input = "a.b";
  assert_true(verify_signature(Alg::kPS256, rsa, input, pss_sign(rsa, input, 32, EVP_sha256())));
  assert_false(verify_signature(Alg::kPS256, rsa, input, pss_sign(rsa, input, 20, EVP_sha256())));
  assert_false(verify_signature(Alg::kPS256, rsa, input,
                                pss_sign(rsa, input, RSA_PSS_SALTLEN_MAX, EVP_sha256())));
  assert_false(verify_signature(Alg::kPS256, rsa, input, pss_sign(rsa, input, 32, EVP_sha1())));
}

// PreparedVerifier against verify_signature for every algorithm: valid,
// tampered input, tampered signature, wrong key, wrong lengths; one
// verifier answering all of them in turn.
// RFC 8017 §8.2.2 / §8.1.2 step 1: an RSA signature is exactly as long as
// the modulus. OpenSSL also takes one with its leading zero octet left
// out, so 1 in 256 signatures had a second spelling that verified (and
// prepared_agrees_with_one_shot failed about once in 40 runs). Search for
// signatures that start with a zero octet, and refuse them shortened.
void rsa_signature_is_exactly_modulus_long(void**) {
  EVP_PKEY* key = shared_rsa_key();
  for (Alg alg : {Alg::kRS256, Alg::kPS256}) {
    std::string input, sig;
    for (int i = 0; i < 20000; ++i) {
      input = "eyJhbGciOiJ4In0.eyJuIjo" + std::to_string(i) + "In0";
      sig = sign(alg, key, input);
      if (sig[0] == '\0') break;
    }
    assert_int_equal(sig[0], 0);
    assert_int_equal(sig.size(), 256);
    agree(alg, key, input, sig, true);
    agree(alg, key, input, sig.substr(1), false);
    agree(alg, key, input, std::string(1, '\0') + sig, false);
  }
}

// RS* take rsa_pkcs1.h, not OpenSSL's verify: the same answers on
// signatures that are not below the modulus (s + n is the same number mod
// n: a second spelling of a valid signature), on the modulus itself, and
// on every single-byte change of a valid signature of each hash.
void rsa_pkcs1_matches_openssl(void**) {
  EVP_PKEY* key = shared_rsa_key();
  BIGNUM* n = nullptr;
  assert_int_equal(EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n), 1);
  const int k = BN_num_bytes(n);
  BIGNUM* big = BN_new();
  std::string input, sig, spelled(static_cast<size_t>(k), '\0');
  bool found = false;
  for (int i = 0; i < 2000 && !found; ++i) {
    input = "eyJhbGciOiJ4In0.eyJuIjo" + std::to_string(i) + "In0";
    sig = sign(Alg::kRS256, key, input);
    // s + n, when it still fits in k bytes.
    assert_non_null(BN_bin2bn(reinterpret_cast<const unsigned char*>(sig.data()), k, big));
    assert_int_equal(BN_add(big, big, n), 1);
    found = BN_num_bytes(big) <= k;
  }
  assert_true(found);
  assert_int_equal(BN_bn2binpad(big, reinterpret_cast<unsigned char*>(spelled.data()), k), k);
  agree(Alg::kRS256, key, input, sig, true);
  agree(Alg::kRS256, key, input, spelled, false);
  // n itself, and n - 1 (in range, but no valid block).
  std::string edge(static_cast<size_t>(k), '\0');
  assert_int_equal(BN_bn2binpad(n, reinterpret_cast<unsigned char*>(edge.data()), k), k);
  agree(Alg::kRS256, key, input, edge, false);
  assert_int_equal(BN_sub_word(n, 1), 1);
  assert_int_equal(BN_bn2binpad(n, reinterpret_cast<unsigned char*>(edge.data()), k), k);
  agree(Alg::kRS256, key, input, edge, false);
  agree(Alg::kRS256, key, input, std::string(static_cast<size_t>(k), '\0'), false);
  agree(Alg::kRS256, key, input, std::string(static_cast<size_t>(k), '\xff'), false);
  BN_free(big);
  BN_free(n);

  for (Alg alg : {Alg::kRS256, Alg::kRS384, Alg::kRS512}) {
    const std::string good = sign(alg, key, input);
    auto prepared = PreparedVerifier::create(alg, key);
    assert_non_null(prepared.get());
    assert_true(prepared->verify(input, good));
    for (size_t at = 0; at < good.size(); at += 7) {
      std::string bad = good;
      bad[at] = static_cast<char>(bad[at] ^ (1 << (at % 8)));
      assert_false(prepared->verify(input, bad));
      assert_false(verify_signature(alg, key, input, bad));
    }
    // The right signature of other bytes.
    assert_false(prepared->verify(input + "x", good));
  }
  // Nothing to prepare for other algorithms or keys.
  assert_null(RsaPkcs1Verifier::create(Alg::kPS256, key).get());
  assert_null(RsaPkcs1Verifier::create(Alg::kES256, key).get());
  EvpPkeyPtr ec = generate_key(Alg::kES256);
  assert_null(RsaPkcs1Verifier::create(Alg::kRS256, ec.get()).get());
  auto direct = RsaPkcs1Verifier::create(Alg::kRS256, key);
  assert_non_null(direct.get());
  unsigned char digest[32] = {0};
  assert_false(direct->verify(digest, 31, sig));  // a digest of the wrong length
}

void prepared_agrees_with_one_shot(void**) {
  static EvpPkeyPtr other_rsa = generate_key(Alg::kRS256);
  for (unsigned i = 0; i < static_cast<unsigned>(Alg::kCount); ++i) {
    const Alg alg = static_cast<Alg>(i);
    const bool rsa = alg <= Alg::kPS512;
    EvpPkeyPtr own = rsa ? nullptr : generate_key(alg);
    EvpPkeyPtr own_other = rsa ? nullptr : generate_key(alg);
    EVP_PKEY* key = rsa ? shared_rsa_key() : own.get();
    EVP_PKEY* other = rsa ? other_rsa.get() : own_other.get();
    const std::string input = "eyJhbGciOiJ4In0.eyJzdWIiOiJ4In0";
    const std::string sig = sign(alg, key, input);
    std::string bad_sig = sig;
    bad_sig[bad_sig.size() / 3] ^= 0x40;
    std::string bad_input = input;
    bad_input[5] ^= 0x01;

    agree(alg, key, input, sig, true);
    agree(alg, key, input + "x", sig, false);
    agree(alg, key, bad_input, sig, false);
    agree(alg, key, input, bad_sig, false);
    agree(alg, key, input, "", false);
    agree(alg, key, input, sig.substr(1), false);
    agree(alg, key, input, sig + '\0', false);
    agree(alg, key, "", sig, false);
    agree(alg, other, input, sig, false);  // right type, wrong key
    // The other key's own signature is fine for its own verifier.
    agree(alg, other, input, sign(alg, other, input), true);

    // And mixed on one verifier, so no answer leaks into the next.
    if (alg == Alg::kEdDSA) continue;
    auto p = PreparedVerifier::create(alg, key);
    assert_non_null(p.get());
    for (int round = 0; round < 3; ++round) {
      assert_true(p->verify(input, sig));
      assert_false(p->verify(input, bad_sig));
      assert_false(p->verify(bad_input, sig));
      assert_true(p->verify(input, sig));
    }
  }
}

// create() refuses what verify_signature refuses up front; the caller then
// falls back to verify_signature, which says no.
void prepared_refuses_mismatched_keys(void**) {
  EvpPkeyPtr p256 = generate_key(Alg::kES256);
  EvpPkeyPtr p384 = generate_key(Alg::kES384);
  EvpPkeyPtr p521 = generate_key(Alg::kES512);
  EvpPkeyPtr ed = generate_key(Alg::kEdDSA);
  EVP_PKEY* rsa = shared_rsa_key();
  assert_null(PreparedVerifier::create(Alg::kES256, p384.get()).get());
  assert_null(PreparedVerifier::create(Alg::kES384, p256.get()).get());
  assert_null(PreparedVerifier::create(Alg::kES512, p384.get()).get());
  assert_null(PreparedVerifier::create(Alg::kES256, rsa).get());
  assert_null(PreparedVerifier::create(Alg::kRS256, p256.get()).get());
  assert_null(PreparedVerifier::create(Alg::kPS256, ed.get()).get());
  assert_null(PreparedVerifier::create(Alg::kEdDSA, ed.get()).get());  // one-shot only
  assert_null(PreparedVerifier::create(Alg::kRS256, nullptr).get());
  assert_null(PreparedVerifier::create(Alg::kCount, rsa).get());
  assert_non_null(PreparedVerifier::create(Alg::kES512, p521.get()).get());
  assert_non_null(PreparedVerifier::create(Alg::kPS512, rsa).get());
  assert_int_equal(ERR_peek_error(), 0);  // nothing left on the error queue
}

// The prepared path keeps the ECDSA form rules and the PSS parameters.
void prepared_keeps_form_and_pss_rules(void**) {
  EvpPkeyPtr key = generate_key(Alg::kES256);
  const std::string input = "a.b";
  auto es = PreparedVerifier::create(Alg::kES256, key.get());
  assert_non_null(es.get());
  std::string raw = sign(Alg::kES256, key.get(), input);
  assert_true(es->verify(input, raw));
  assert_false(es->verify(input, raw.substr(0, 63)));
  assert_false(es->verify(input, raw + '\0'));
  assert_false(es->verify(input, '\0' + raw));
  assert_false(es->verify(input, std::string(64, '\0')));

  EVP_PKEY* rsa = shared_rsa_key();
  auto ps = PreparedVerifier::create(Alg::kPS256, rsa);
  assert_non_null(ps.get());
  assert_true(ps->verify(input, pss_sign(rsa, input, 32, EVP_sha256())));
  assert_false(ps->verify(input, pss_sign(rsa, input, 20, EVP_sha256())));
  assert_false(ps->verify(input, pss_sign(rsa, input, RSA_PSS_SALTLEN_MAX, EVP_sha256())));
  assert_false(ps->verify(input, pss_sign(rsa, input, 32, EVP_sha1())));
  assert_false(ps->verify(input, sign(Alg::kRS256, rsa, input)));
  auto rs = PreparedVerifier::create(Alg::kRS256, rsa);
  assert_false(rs->verify(input, sign(Alg::kPS256, rsa, input)));
  assert_true(rs->verify(input, sign(Alg::kRS256, rsa, input)));
  // PS384 signature is neither PS256 nor PS512 (RFC 7518 §3.5).
  std::string ps384 = sign(Alg::kPS384, rsa, input);
  assert_true(PreparedVerifier::create(Alg::kPS384, rsa)->verify(input, ps384));
  assert_false(PreparedVerifier::create(Alg::kPS256, rsa)->verify(input, ps384));
  assert_false(PreparedVerifier::create(Alg::kPS512, rsa)->verify(input, ps384));
  assert_int_equal(ERR_peek_error(), 0);
}

// A SHA-256 of the signing input computed elsewhere (the cache key's,
// token_hash.h) replaces hashing again only where it covers exactly those
// bytes and the algorithm signs a SHA-256 digest; otherwise it is ignored.
void prepared_uses_known_digest_only_for_its_bytes(void**) {
  EVP_PKEY* rsa = shared_rsa_key();
  const std::string token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0";
  const std::string_view input(token);
  const std::string rs256 = sign(Alg::kRS256, rsa, input);
  auto rs = PreparedVerifier::create(Alg::kRS256, rsa);
  assert_non_null(rs.get());

  SigningInputDigest right;
  token_cache_key(*cache_key_settings("fp"), token + ".sig", &right);  // covers a copy of `input`
  SigningInputDigest here{std::string(input), right.sha256};
  assert_true(rs->verify(input, rs256, &here));
  // A wrong digest over these bytes is used, and refuses: proof it is read.
  SigningInputDigest wrong = here;
  wrong.sha256[0] ^= 1;
  assert_false(rs->verify(input, rs256, &wrong));
  // A digest of other bytes is ignored: hashed again.
  std::string changed(input);
  changed.back() ^= 1;
  SigningInputDigest elsewhere{changed, wrong.sha256};
  assert_true(rs->verify(input, rs256, &elsewhere));
  SigningInputDigest shorter{std::string(input.substr(0, input.size() - 1)), wrong.sha256};
  assert_true(rs->verify(input, rs256, &shorter));
  // RS384 hashes with SHA-384: a SHA-256 digest is never used.
  const std::string rs384 = sign(Alg::kRS384, rsa, input);
  auto rs3 = PreparedVerifier::create(Alg::kRS384, rsa);
  assert_true(rs3->verify(input, rs384, &wrong));
  // ES256 and PS256 take it as RS256 does.
  EvpPkeyPtr p256 = generate_key(Alg::kES256);
  const std::string es = sign(Alg::kES256, p256.get(), input);
  auto es256 = PreparedVerifier::create(Alg::kES256, p256.get());
  assert_true(es256->verify(input, es, &here));
  assert_false(es256->verify(input, es, &wrong));
  auto ps = PreparedVerifier::create(Alg::kPS256, rsa);
  const std::string ps256 = sign(Alg::kPS256, rsa, input);
  assert_true(ps->verify(input, ps256, &here));
  assert_false(ps->verify(input, ps256, &wrong));
  assert_int_equal(ERR_peek_error(), 0);
}

// One verifier shared by 4 threads × 200 verifications, as a Jwks is shared
// between the sidecar's threads: every answer right, valid and invalid
// interleaved. (Under the sanitizer build this also exercises the template
// copy for memory errors.)
void prepared_is_thread_safe(void**) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 200;
  EvpPkeyPtr p256 = generate_key(Alg::kES256);
  EvpPkeyPtr p521 = generate_key(Alg::kES512);
  const struct {
    Alg alg;
    EVP_PKEY* key;
  } cases[] = {{Alg::kRS256, shared_rsa_key()},
               {Alg::kPS256, shared_rsa_key()},
               {Alg::kES256, p256.get()},
               {Alg::kES512, p521.get()}};
  for (const auto& c : cases) {
    auto p = PreparedVerifier::create(c.alg, c.key);
    assert_non_null(p.get());
    // Per-thread inputs, so a copy mixing two threads' data would show.
    std::vector<std::string> inputs, sigs;
    for (int t = 0; t < kThreads; ++t) {
      inputs.push_back("eyJhbGciOiJ4In0.thread" + std::to_string(t));
      sigs.push_back(sign(c.alg, c.key, inputs.back()));
    }
    std::atomic<int> wrong{0}, done{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        // No cmocka asserts here: they longjmp and are not thread-safe.
        for (int i = 0; i < kPerThread; ++i) {
          const int kind = i % 4;
          const std::string& sig = sigs[t];
          bool ok;
          switch (kind) {
            case 0:
              ok = p->verify(inputs[t], sig) == true;
              break;
            case 1:  // another thread's signature over this thread's input
              ok = p->verify(inputs[t], sigs[(t + 1) % kThreads]) == false;
              break;
            case 2: {
              std::string bad = sig;
              bad[bad.size() / 2] ^= 0x10;
              ok = p->verify(inputs[t], bad) == false;
              break;
            }
            default:
              ok = p->verify(inputs[t] + "x", sig) == false;
              break;
          }
          if (!ok) wrong.fetch_add(1);
          done.fetch_add(1);
        }
      });
    }
    for (std::thread& th : threads) th.join();
    assert_int_equal(done.load(), kThreads * kPerThread);
    assert_int_equal(wrong.load(), 0);
  }
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(rfc7515_a2_rs256),
      cmocka_unit_test(rfc7515_a3_es256),
      cmocka_unit_test(rfc7515_a4_es512),
      cmocka_unit_test(rfc7520_rs256_ps384_es512),
      cmocka_unit_test(rfc8037_a4_eddsa),
      cmocka_unit_test(every_algorithm_generated),
      cmocka_unit_test(ecdsa_form_is_fixed_width_raw),
      cmocka_unit_test(key_and_algorithm_must_agree),
      cmocka_unit_test(pss_parameters_are_fixed),
      cmocka_unit_test(rsa_signature_is_exactly_modulus_long),
      cmocka_unit_test(rsa_pkcs1_matches_openssl),
      cmocka_unit_test(prepared_agrees_with_one_shot),
      cmocka_unit_test(prepared_refuses_mismatched_keys),
      cmocka_unit_test(prepared_keeps_form_and_pss_rules),
      cmocka_unit_test(prepared_uses_known_digest_only_for_its_bytes),
      cmocka_unit_test(prepared_is_thread_safe),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
