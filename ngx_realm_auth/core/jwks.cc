#include "jwks.h"

#include <openssl/core_names.h>

#include <cstring>
#include <utility>

#include "base64url.h"
#include "ossl.h"

namespace realm_auth {

namespace {

// Enough for any JWKS (keys → key → x5c is depth 3) with room for vendor
// extensions; the document comes from a trusted issuer, this only bounds work.
constexpr size_t kMaxJwksDepth = 16;

// RSA moduli below 2048 bits are refused (NIST SP 800-131A); above 16384
// OpenSSL itself refuses, and the verify cost would be a DoS lever.
constexpr int kMinRsaBits = 2048;
constexpr int kMaxRsaBits = 16384;

struct Curve {
  const char* crv;    // JWK name
  const char* group;  // OpenSSL group name
  size_t coord;       // bytes of x and of y (RFC 7518 §6.2.1.2)
};
constexpr Curve kCurves[] = {
    {"P-256", "prime256v1", 32},
    {"P-384", "secp384r1", 48},
    {"P-521", "secp521r1", 66},
};

// A member that is absent is fine; one of the wrong type makes the JWK
// unusable (a publisher that gets types wrong gets nothing right).
bool optional_string(const json_t* jwk, const char* name, std::string& out) {
  const json_t* v = json_object_get(jwk, name);
  if (v == nullptr) return true;
  if (!json_is_string(v)) return false;
  out.assign(json_string_value(v), json_string_length(v));
  return true;
}

bool b64_member(const json_t* jwk, const char* name, std::string& out) {
  std::string_view text;
  return json_get_string(jwk, name, text) && base64url_decode(text, out);
}

bool has_private_member(const json_t* jwk) {
  // RFC 7518 §6.2.2, §6.3.2 and RFC 8037 §2 private parameters, plus the
  // symmetric "k": a published set holding them was leaked, not configured.
  static const char* const kPrivate[] = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"};
  for (const char* m : kPrivate) {
    if (json_object_get(jwk, m) != nullptr) return true;
  }
  return false;
}

// RFC 7517 §4.3: when key_ops is given it must allow "verify".
bool key_ops_allow_verify(const json_t* jwk) {
  const json_t* ops = json_object_get(jwk, "key_ops");
  if (ops == nullptr) return true;
  size_t i;
  const json_t* op;
  json_array_foreach(ops, i, op) {
    if (json_is_string(op) && std::strcmp(json_string_value(op), "verify") == 0) return true;
  }
  return false;
}

EvpPkeyPtr key_from_params(const char* type, OSSL_PARAM_BLD* bld) {
  ossl::ParamPtr params(OSSL_PARAM_BLD_to_param(bld));
  ossl::PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* key = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    return nullptr;
  }
  return EvpPkeyPtr(key);
}

Status parse_rsa(const json_t* jwk, Jwk& out) {
  std::string n, e;
  if (!b64_member(jwk, "n", n) || !b64_member(jwk, "e", e)) return Status::kJwksMalformed;
  ossl::BignumPtr bn_n(BN_bin2bn(reinterpret_cast<const unsigned char*>(n.data()),
                                 static_cast<int>(n.size()), nullptr));
  ossl::BignumPtr bn_e(BN_bin2bn(reinterpret_cast<const unsigned char*>(e.data()),
                                 static_cast<int>(e.size()), nullptr));
  if (!bn_n || !bn_e) return Status::kJwksMalformed;
  int bits = BN_num_bits(bn_n.get());
  // e odd, at least 3 and at most 64 bits (what OpenSSL accepts for big n).
  if (bits < kMinRsaBits || bits > kMaxRsaBits || !BN_is_odd(bn_e.get()) ||
      BN_num_bits(bn_e.get()) < 2 || BN_num_bits(bn_e.get()) > 64) {
    return Status::kJwksMalformed;
  }
  ossl::ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1) {
    return Status::kJwksMalformed;
  }
  out.key = key_from_params("RSA", bld.get());
  return out.key ? Status::kOk : Status::kJwksMalformed;
}

Status parse_ec(const json_t* jwk, Jwk& out) {
  const Curve* curve = nullptr;
  for (const Curve& c : kCurves) {
    if (out.crv == c.crv) curve = &c;
  }
  std::string x, y;
  if (curve == nullptr || !b64_member(jwk, "x", x) || !b64_member(jwk, "y", y) ||
      x.size() != curve->coord || y.size() != curve->coord) {
    return Status::kJwksMalformed;
  }
  std::string point = "\x04" + x + y;  // SEC1 uncompressed point
  ossl::ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, curve->group, 0) !=
          1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) != 1) {
    return Status::kJwksMalformed;
  }
  out.key = key_from_params("EC", bld.get());
  if (!out.key) return Status::kJwksMalformed;
  // Off-curve points enable invalid-curve attacks; check once here rather
  // than trusting every verify to notice. The quick check (on the curve,
  // not at infinity) is the whole check for P-256/384/521: their cofactor
  // is 1, so every point on the curve is in the prime-order group, and the
  // full check's n·Q multiplication (as costly as a verify) adds nothing.
  // It matters for DPoP, where every request brings a key (dpop_proof.h).
  ossl::PkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, out.key.get(), nullptr));
  if (!check || EVP_PKEY_public_check_quick(check.get()) != 1) {
    out.key.reset();
    return Status::kJwksMalformed;
  }
  return Status::kOk;
}

Status parse_okp(const json_t* jwk, Jwk& out) {
  std::string x;
  if (out.crv != "Ed25519" || !b64_member(jwk, "x", x) || x.size() != 32) {
    return Status::kJwksMalformed;  // Ed448 and X25519 have no JWS algorithm here
  }
  out.key.reset(EVP_PKEY_new_raw_public_key_ex(
      nullptr, "ED25519", nullptr, reinterpret_cast<const unsigned char*>(x.data()), x.size()));
  return out.key ? Status::kOk : Status::kJwksMalformed;
}

bool family_matches(const Jwk& k, Alg alg) {
  switch (alg) {
    case Alg::kRS256:
    case Alg::kRS384:
    case Alg::kRS512:
    case Alg::kPS256:
    case Alg::kPS384:
    case Alg::kPS512:
      return k.kty == "RSA";
    case Alg::kES256:
      return k.kty == "EC" && k.crv == "P-256";
    case Alg::kES384:
      return k.kty == "EC" && k.crv == "P-384";
    case Alg::kES512:
      return k.kty == "EC" && k.crv == "P-521";
    case Alg::kEdDSA:
      return k.kty == "OKP" && k.crv == "Ed25519";
    case Alg::kCount:
      break;
  }
  return false;
}

bool usable_for(const Jwk& k, Alg alg) {
  return (k.use.empty() || k.use == "sig") && (k.alg.empty() || k.alg == alg_name(alg)) &&
         family_matches(k, alg);
}

// One PreparedVerifier per algorithm select() could pick `k` for (just its
// "alg" when published, otherwise all that fit kty/crv), made now because a
// parsed Jwks is immutable and shared between threads afterwards.
void prepare_verifiers(Jwk& k) {
  for (size_t i = 0; i < k.verifiers.size(); ++i) {
    const Alg alg = static_cast<Alg>(i);
    if (usable_for(k, alg)) k.verifiers[i] = PreparedVerifier::create(alg, k.key.get());
  }
}

}  // namespace

bool jwk_usable_for(const Jwk& k, Alg alg) { return usable_for(k, alg); }

// Statuses: kOk; kKeyMismatch for a sound key that is not for signatures
// (use/key_ops); kJwksMalformed for anything broken, weak or private.
Status parse_jwk(const json_t* jwk, Jwk& out) {
  if (!json_is_object(jwk)) return Status::kJwksMalformed;
  if (!optional_string(jwk, "kid", out.kid) || !optional_string(jwk, "kty", out.kty) ||
      !optional_string(jwk, "crv", out.crv) || !optional_string(jwk, "alg", out.alg) ||
      !optional_string(jwk, "use", out.use) || has_private_member(jwk)) {
    return Status::kJwksMalformed;
  }
  if ((!out.use.empty() && out.use != "sig") || !key_ops_allow_verify(jwk)) {
    return Status::kKeyMismatch;
  }
  if (out.kty == "RSA") return parse_rsa(jwk, out);
  if (out.kty == "EC") return parse_ec(jwk, out);
  if (out.kty == "OKP") return parse_okp(jwk, out);
  return Status::kJwksMalformed;
}

Status Jwks::parse(std::string_view json, std::shared_ptr<const Jwks>& out) {
  JsonPtr root;
  if (parse_json_object(json, kMaxJwksDepth, Status::kJwksMalformed, root) != Status::kOk) {
    return Status::kJwksMalformed;
  }
  const json_t* keys = json_object_get(root.get(), "keys");
  if (!json_is_array(keys)) return Status::kJwksMalformed;

  auto jwks = std::make_shared<Jwks>();
  size_t i;
  const json_t* entry;
  json_array_foreach(keys, i, entry) {
    Jwk jwk;
    if (parse_jwk(entry, jwk) != Status::kOk) continue;
    prepare_verifiers(jwk);
    jwks->keys_.push_back(std::move(jwk));
  }
  // Parsing failures leave OpenSSL errors behind; they are expected here.
  ERR_clear_error();
  if (jwks->keys_.empty()) return Status::kJwksMalformed;
  out = std::move(jwks);
  return Status::kOk;
}

bool Jwks::has_kid(std::string_view kid) const {
  for (const Jwk& k : keys_) {
    if (k.kid == kid) return true;
  }
  return false;
}

const Jwk* Jwks::select(std::string_view kid, Alg alg, Status& why) const {
  bool kid_seen = false;
  for (const Jwk& k : keys_) {
    if (k.kid != kid) continue;
    kid_seen = true;
    // Duplicate kids happen during rotation: the first usable one wins.
    if (usable_for(k, alg)) {
      why = Status::kOk;
      return &k;
    }
  }
  why = kid_seen ? Status::kKeyMismatch : Status::kKeyNotFound;
  return nullptr;
}

}  // namespace realm_auth
