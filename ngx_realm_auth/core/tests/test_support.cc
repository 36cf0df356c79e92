#include "test_support.h"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <cstdio>
#include <cstdlib>
#include <memory>

#include "base64url.h"

namespace realm_auth::test {

namespace {

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "test_support: %s failed\n", what);
  std::abort();
}

const EVP_MD* digest(Alg alg) {
  switch (alg) {
    case Alg::kRS256:
    case Alg::kPS256:
    case Alg::kES256:
      return EVP_sha256();
    case Alg::kRS384:
    case Alg::kPS384:
    case Alg::kES384:
      return EVP_sha384();
    case Alg::kRS512:
    case Alg::kPS512:
    case Alg::kES512:
      return EVP_sha512();
    default:
      return nullptr;
  }
}

size_t ec_coord(Alg alg) { return alg == Alg::kES256 ? 32 : alg == Alg::kES384 ? 48 : 66; }

bool is_ec(Alg alg) { return alg == Alg::kES256 || alg == Alg::kES384 || alg == Alg::kES512; }
bool is_pss(Alg alg) { return alg == Alg::kPS256 || alg == Alg::kPS384 || alg == Alg::kPS512; }

std::string bn_b64(const BIGNUM* bn) {
  std::string bytes(static_cast<size_t>(BN_num_bytes(bn)), '\0');
  BN_bn2bin(bn, reinterpret_cast<unsigned char*>(bytes.data()));
  return b64(bytes);
}

std::string der_to_raw(const std::string& der, size_t coord) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  std::unique_ptr<ECDSA_SIG, void (*)(ECDSA_SIG*)> sig(
      d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())), ECDSA_SIG_free);
  if (!sig) die("d2i_ECDSA_SIG");
  std::string raw(2 * coord, '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  if (BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), out, static_cast<int>(coord)) < 0 ||
      BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), out + coord, static_cast<int>(coord)) < 0) {
    die("BN_bn2binpad");
  }
  return raw;
}

}  // namespace

EvpPkeyPtr generate_key(Alg alg) {
  EVP_PKEY* key = nullptr;
  switch (alg) {
    case Alg::kES256:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
      break;
    case Alg::kES384:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384");
      break;
    case Alg::kES512:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-521");
      break;
    case Alg::kEdDSA:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
      break;
    default:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048});
      break;
  }
  if (key == nullptr) die("EVP_PKEY_Q_keygen");
  return EvpPkeyPtr(key);
}

EVP_PKEY* shared_rsa_key() {
  static EvpPkeyPtr key = generate_key(Alg::kRS256);
  return key.get();
}

std::string public_jwk(EVP_PKEY* key, const std::string& kid, const std::string& alg,
                       const std::string& use) {
  std::string members;
  switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_RSA: {
      BIGNUM* n = nullptr;
      BIGNUM* e = nullptr;
      if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n) != 1 ||
          EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &e) != 1) {
        die("RSA params");
      }
      members = R"("kty":"RSA","n":")" + bn_b64(n) + R"(","e":")" + bn_b64(e) + '"';
      BN_free(n);
      BN_free(e);
      break;
    }
    case EVP_PKEY_EC: {
      unsigned char point[200];
      size_t len = 0;
      char group[32];
      if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point,
                                          &len) != 1 ||
          EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                         nullptr) != 1 ||
          point[0] != 4) {
        die("EC params");
      }
      size_t coord = (len - 1) / 2;
      std::string g = group;
      const char* crv = g == "prime256v1" ? "P-256" : g == "secp384r1" ? "P-384" : "P-521";
      std::string_view p(reinterpret_cast<const char*>(point), len);
      members = R"("kty":"EC","crv":")" + std::string(crv) + R"(","x":")" +
                b64(p.substr(1, coord)) + R"(","y":")" + b64(p.substr(1 + coord, coord)) + '"';
      break;
    }
    case EVP_PKEY_ED25519: {
      unsigned char raw[32];
      size_t len = sizeof raw;
      if (EVP_PKEY_get_raw_public_key(key, raw, &len) != 1) die("Ed25519 raw key");
      members = R"("kty":"OKP","crv":"Ed25519","x":")" +
                b64({reinterpret_cast<const char*>(raw), len}) + '"';
      break;
    }
    default:
      die("key type");
  }
  std::string jwk = R"({"kid":")" + kid + "\"," + members;
  if (!alg.empty()) jwk += R"(,"alg":")" + alg + '"';
  if (!use.empty()) jwk += R"(,"use":")" + use + '"';
  return jwk + "}";
}

std::string sign(Alg alg, EVP_PKEY* key, std::string_view input) {
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_PKEY_CTX* pctx = nullptr;
  if (!ctx || EVP_DigestSignInit(ctx.get(), &pctx, digest(alg), nullptr, key) != 1) {
    die("EVP_DigestSignInit");
  }
  if (is_pss(alg) && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
                      EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1)) {
    die("PSS params");
  }
  size_t len = 0;
  const auto* in = reinterpret_cast<const unsigned char*>(input.data());
  if (EVP_DigestSign(ctx.get(), nullptr, &len, in, input.size()) != 1) die("EVP_DigestSign");
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, in,
                     input.size()) != 1) {
    die("EVP_DigestSign");
  }
  sig.resize(len);
  return is_ec(alg) ? der_to_raw(sig, ec_coord(alg)) : sig;
}

std::string b64(std::string_view bytes) { return base64url_encode(bytes); }

std::string make_token(Alg alg, EVP_PKEY* key, std::string_view header_json,
                       std::string_view payload_json) {
  std::string input = b64(header_json) + "." + b64(payload_json);
  return input + "." + b64(sign(alg, key, input));
}

std::string tamper_signature(const std::string& token) {
  std::string out = token;
  size_t at = token.rfind('.') + (token.size() - token.rfind('.')) / 2;
  out[at] = out[at] == 'A' ? 'B' : 'A';
  return out;
}

std::string replace_payload(const std::string& token, std::string_view payload_json) {
  size_t dot1 = token.find('.');
  size_t dot2 = token.find('.', dot1 + 1);
  return token.substr(0, dot1 + 1) + b64(payload_json) + token.substr(dot2);
}

EvpPkeyPtr key_from_jwk(const std::string& jwk_json) {
  JsonPtr json;
  Jwk jwk;
  if (parse_json_object(jwk_json, 8, Status::kJwksMalformed, json) != Status::kOk ||
      parse_jwk(json.get(), jwk) != Status::kOk) {
    return nullptr;
  }
  return std::move(jwk.key);
}

}  // namespace realm_auth::test
