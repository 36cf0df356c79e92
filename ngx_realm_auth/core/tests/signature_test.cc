// Signature checks: the published RFC 7515 / 7520 / 8037 vectors, then a
// freshly generated key for every algorithm, positive and tampered.
#include "signature.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <string>

#include "base64url.h"
#include "cmocka_cxx.h"
#include "rfc_vectors.h"
#include "test_support.h"

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

// Verifies a compact JWS vector, then the same with one input byte and one
// signature byte changed.
void check_vector(Alg alg, EVP_PKEY* key, std::string_view token) {
  assert_non_null(key);
  size_t dot = token.rfind('.');
  std::string input(token.substr(0, dot));
  std::string sig = decode(token.substr(dot + 1));
  assert_true(verify_signature(alg, key, input, sig));

  std::string bad_input = input;
  bad_input[bad_input.size() / 2] ^= 0x01;
  assert_false(verify_signature(alg, key, bad_input, sig));
  std::string bad_sig = sig;
  bad_sig[bad_sig.size() / 2] ^= 0x01;
  assert_false(verify_signature(alg, key, input, bad_sig));
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
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
