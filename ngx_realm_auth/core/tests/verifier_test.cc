// The whole checklist: inspect_token then verify_token, for every algorithm,
// with the order of checks and the config fingerprint / cache key.
#include "verifier.h"

#include <openssl/evp.h>

#include <string>

#include "cmocka_cxx.h"
#include "test_support.h"
#include "token_hash.h"

using namespace realm_auth;
using namespace realm_auth::test;

namespace {

constexpr int64_t kNow = 1700000000;
constexpr char kIss[] = "http://localhost:8080/realms/tenant-demo";

VerifierConfig config() {
  VerifierConfig c;
  IssuerPattern p;
  std::string error;
  assert_true(IssuerPattern::parse("http://localhost:8080/realms/tenant-*", p, error));
  c.issuers.push_back(p);
  assert_true(IssuerPattern::parse("http://localhost:8080/realms/platform", p, error));
  c.issuers.push_back(p);
  c.claims.audiences = {"tenant-services"};
  return c;
}

std::string header(Alg alg, const std::string& kid) {
  return std::string(R"({"alg":")") + alg_name(alg) + R"(","typ":"JWT","kid":")" + kid + "\"}";
}

std::string payload(const std::string& iss = kIss, int64_t exp = kNow + 300,
                    const std::string& extra = "") {
  return R"({"iss":")" + iss + R"(","sub":"user-1","exp":)" + std::to_string(exp) +
         R"(,"aud":"tenant-services","typ":"Bearer","realm_access":{"roles":["officer"]})" +
         (extra.empty() ? "" : "," + extra) + "}";
}

// inspect + verify; `out` receives the identity.
Status run(const std::string& token, const Jwks& keys, Identity& out,
           const VerifierConfig& c = config(), int64_t now = kNow) {
  InspectedToken t;
  Status s = inspect_token(token, c, t);
  if (s != Status::kOk) return s;
  return verify_token(t, keys, c, now, out);
}

Status run(const std::string& token, const Jwks& keys) {
  Identity id;
  return run(token, keys, id);
}

std::shared_ptr<const Jwks> jwks(const std::string& doc) {
  std::shared_ptr<const Jwks> keys;
  assert_status(Jwks::parse(doc, keys), Status::kOk);
  return keys;
}

void every_algorithm_end_to_end(void**) {
  for (unsigned i = 0; i < static_cast<unsigned>(Alg::kCount); ++i) {
    const Alg alg = static_cast<Alg>(i);
    EvpPkeyPtr own = alg <= Alg::kPS512 ? nullptr : generate_key(alg);
    EVP_PKEY* key = own ? own.get() : shared_rsa_key();
    const std::string kid = std::string("kid-") + alg_name(alg);
    auto keys = jwks(R"({"keys":[)" + public_jwk(key, kid, alg_name(alg)) + "]}");
    const std::string token = make_token(alg, key, header(alg, kid), payload());

    Identity id;
    assert_status(run(token, *keys, id), Status::kOk);
    assert_string_equal(id.actor_id.c_str(), "user-1");
    assert_string_equal(id.tenant_id.c_str(), "demo");
    assert_string_equal(id.realm.c_str(), "tenant-demo");
    assert_string_equal(id.issuer.c_str(), kIss);
    assert_string_equal(join_roles(id.roles).c_str(), "officer");

    // Signature bytes changed; claims changed under the old signature.
    assert_status(run(tamper_signature(token), *keys), Status::kSignatureInvalid);
    assert_status(run(replace_payload(token, payload(kIss, kNow + 300, R"("x":1)")), *keys),
                  Status::kSignatureInvalid);
    // Same token, another tenant's issuer in the forged claims.
    assert_status(
        run(replace_payload(token, payload("http://localhost:8080/realms/tenant-other")), *keys),
        Status::kSignatureInvalid);
  }
}

void key_selection_errors(void**) {
  EVP_PKEY* rsa = shared_rsa_key();
  EvpPkeyPtr ec = generate_key(Alg::kES256);
  auto keys =
      jwks(R"({"keys":[)" + public_jwk(rsa, "r", "RS256") + "," + public_jwk(ec.get(), "e") + "]}");
  assert_status(run(make_token(Alg::kRS256, rsa, header(Alg::kRS256, "nope"), payload()), *keys),
                Status::kKeyNotFound);
  // kid of an EC key, RSA algorithm: algorithm confusion is a mismatch.
  assert_status(run(make_token(Alg::kRS256, rsa, header(Alg::kRS256, "e"), payload()), *keys),
                Status::kKeyMismatch);
  assert_status(run(make_token(Alg::kPS256, rsa, header(Alg::kPS256, "r"), payload()), *keys),
                Status::kKeyMismatch);
  assert_status(run(make_token(Alg::kES256, ec.get(), header(Alg::kES256, "e"), payload()), *keys),
                Status::kOk);
}

void checks_run_in_order(void**) {
  EVP_PKEY* rsa = shared_rsa_key();
  auto keys = jwks(R"({"keys":[)" + public_jwk(rsa, "r", "RS256") + "]}");
  const std::string h = header(Alg::kRS256, "r");
  // Signature before claims: an expired token with a bad signature is a forgery.
  const std::string expired = make_token(Alg::kRS256, rsa, h, payload(kIss, kNow - 3600));
  assert_status(run(expired, *keys), Status::kExpired);
  assert_status(run(tamper_signature(expired), *keys), Status::kSignatureInvalid);
  // Claims before identity.
  const std::string no_sub = make_token(
      Alg::kRS256, rsa, h,
      R"({"iss":")" + std::string(kIss) + R"(","exp":1800000000,"aud":"tenant-services"})");
  assert_status(run(no_sub, *keys), Status::kSubMissing);
  const std::string bad_aud =
      make_token(Alg::kRS256, rsa, h,
                 R"({"iss":")" + std::string(kIss) + R"(","sub":"u","exp":1800000000,"aud":"x"})");
  assert_status(run(bad_aud, *keys), Status::kAudienceMismatch);
  const std::string bad_email =
      make_token(Alg::kRS256, rsa, h, payload(kIss, kNow + 300, R"("email":"a\nb")"));
  assert_status(run(bad_email, *keys), Status::kClaimInvalid);
}

void issuer_checked_at_inspection(void**) {
  EVP_PKEY* rsa = shared_rsa_key();
  const std::string h = header(Alg::kRS256, "r");
  const VerifierConfig c = config();
  InspectedToken t;
  auto inspect = [&](const std::string& claims) {
    return inspect_token(make_token(Alg::kRS256, rsa, h, claims), c, t);
  };
  assert_status(inspect(payload()), Status::kOk);
  assert_string_equal(t.issuer.c_str(), kIss);
  assert_string_equal(t.match.tenant_id.c_str(), "demo");
  assert_status(inspect(payload("http://localhost:8080/realms/platform")), Status::kOk);
  assert_string_equal(t.match.tenant_id.c_str(), "");
  assert_status(inspect(payload("http://localhost:8080/realms/master")), Status::kIssuerNotAllowed);
  assert_status(inspect(payload("http://localhost:8080/realms/tenant-demo/")),
                Status::kIssuerNotAllowed);
  assert_status(inspect(payload("http://evil:8080/realms/tenant-demo")), Status::kIssuerNotAllowed);
  assert_status(inspect(R"({"sub":"u","exp":1800000000})"), Status::kIssuerMissing);
  assert_status(inspect(R"({"iss":"","sub":"u","exp":1800000000})"), Status::kIssuerMissing);
  assert_status(inspect(R"({"iss":["http://localhost:8080/realms/tenant-demo"],"sub":"u"})"),
                Status::kIssuerMissing);
  assert_status(inspect(R"({"iss":7})"), Status::kIssuerMissing);
  // Header rules come first.
  assert_status(inspect_token(make_token(Alg::kRS256, rsa, R"({"alg":"RS256"})", payload()), c, t),
                Status::kKidInvalid);
  // Nothing configured: nothing accepted.
  VerifierConfig empty;
  assert_status(inspect_token(make_token(Alg::kRS256, rsa, h, payload()), empty, t),
                Status::kIssuerNotAllowed);
}

void algorithm_allowlist(void**) {
  EVP_PKEY* rsa = shared_rsa_key();
  auto keys = jwks(R"({"keys":[)" + public_jwk(rsa, "r") + "]}");
  VerifierConfig c = config();
  c.algorithms = alg_bit(Alg::kPS256);
  Identity id;
  const std::string rs = make_token(Alg::kRS256, rsa, header(Alg::kRS256, "r"), payload());
  assert_status(run(rs, *keys, id, c), Status::kAlgNotAllowed);
  assert_status(
      run(make_token(Alg::kPS256, rsa, header(Alg::kPS256, "r"), payload()), *keys, id, c),
      Status::kOk);
  // A token inspected under a wider list is still refused by verify_token.
  InspectedToken t;
  assert_status(inspect_token(rs, config(), t), Status::kOk);
  assert_status(verify_token(t, *keys, c, kNow, id), Status::kAlgNotAllowed);
}

void fingerprint_covers_every_setting(void**) {
  const VerifierConfig base = config();
  assert_string_equal(base.fingerprint().c_str(), config().fingerprint().c_str());
  std::vector<VerifierConfig> variants(6, base);
  variants[0].issuers.pop_back();
  variants[1].claims.audiences.push_back("x");
  variants[2].claims.leeway_s = 31;
  variants[3].algorithms = alg_bit(Alg::kRS256);
  variants[4].limits.max_token_size = 4096;
  variants[5].role_clients = {"tenant-services"};
  for (const VerifierConfig& v : variants) {
    assert_string_not_equal(v.fingerprint().c_str(), base.fingerprint().c_str());
  }
  VerifierConfig depth = base;
  depth.limits.max_depth = 9;
  assert_string_not_equal(depth.fingerprint().c_str(), base.fingerprint().c_str());
  // Values cannot run into each other.
  VerifierConfig a = base, b = base;
  a.claims.audiences = {"ab", "c"};
  b.claims.audiences = {"a", "bc"};
  assert_string_not_equal(a.fingerprint().c_str(), b.fingerprint().c_str());
}

TokenHash sha256_of(std::string_view data) {
  TokenHash out{};
  unsigned int len = 0;
  assert_int_equal(EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr),
                   1);
  return out;
}

void cache_key(void**) {
  assert_true(cache_key_settings("fp").has_value());
  const CacheKeySettings fp = *cache_key_settings("fp");
  const TokenHash k1 = token_cache_key(fp, "h.p.sig");
  assert_true(k1 == token_cache_key(fp, "h.p.sig"));
  assert_true(k1 == token_cache_key(*cache_key_settings("fp"), "h.p.sig"));
  assert_false(k1 == token_cache_key(*cache_key_settings("fp2"), "h.p.sig"));
  // Any byte of the token, signing input or signature, changes the key.
  assert_false(k1 == token_cache_key(fp, "h.p.sih"));
  assert_false(k1 == token_cache_key(fp, "h.q.sig"));
  assert_false(k1 == token_cache_key(fp, "h.p.sig2"));
  assert_false(k1 == token_cache_key(fp, "h.psig"));
  // The settings are a fixed 32 bytes: ("fph", ".p.sig") is not ("fp", "h.p.sig").
  assert_false(k1 == token_cache_key(*cache_key_settings("fph"), ".p.sig"));
  // No '.': an empty signing input, never the key of a token with one.
  assert_false(token_cache_key(fp, "sig") == token_cache_key(fp, ".sig"));
  assert_false(token_cache_key(fp, "") == token_cache_key(fp, "."));
  // The last '.' splits, however many come before it.
  assert_false(token_cache_key(fp, "a.b.c") == token_cache_key(fp, "a.bc"));
  // SHA-256 over SHA-256(fingerprint) || 0x02 || SHA-256(signing input) || ".sig".
  const TokenHash settings = sha256_of("fp");
  assert_true(fp.sha256 == settings);
  const TokenHash inner = sha256_of("h.p");
  const std::string framed = std::string(reinterpret_cast<const char*>(settings.data()), 32) +
                             '\2' + std::string(reinterpret_cast<const char*>(inner.data()), 32) +
                             ".sig";
  assert_true(k1 == sha256_of(framed));
  // The same key however many keys this thread computed before (the
  // hashing context is reused).
  for (int i = 0; i < 3; ++i) token_cache_key(fp, "x.y.z" + std::to_string(i));
  assert_true(k1 == token_cache_key(fp, "h.p.sig"));
}

// The signing input's digest handed out with the key is the SHA-256 of
// exactly the bytes before the last '.', and says which bytes it covers.
void cache_key_hands_out_signing_input_digest(void**) {
  const std::string token = "header.payload.signature";
  SigningInputDigest d;
  token_cache_key(*cache_key_settings("fp"), token, &d);
  assert_true(d.sha256 == sha256_of("header.payload"));
  assert_true(d.is_of(std::string_view(token).substr(0, 14)));
  // Equal bytes anywhere are covered; other bytes are not.
  const std::string copy = token;
  assert_true(d.is_of(std::string_view(copy).substr(0, 14)));
  assert_false(d.is_of("header.paylOad"));
  assert_false(d.is_of(std::string_view(token).substr(0, 13)));
  SigningInputDigest none;
  token_cache_key(*cache_key_settings("fp"), "nodot", &none);
  assert_false(none.is_of(""));
  assert_true(none.covers.empty());
}

// The module hands verify_jws the signing input's SHA-256 computed with the
// cache key (token_hash.h) before the token is parsed. For every algorithm
// the signature must still be checked over the very bytes that were parsed:
// a digest of other bytes, or of these bytes before they changed, is never
// used, and a signature made with another hash is refused.
Status run_with_digest(const std::string& token, const SigningInputDigest& digest,
                       const Jwks& keys) {
  InspectedToken t;
  const VerifierConfig c = config();
  Status s = inspect_token(token, c, t);
  if (s != Status::kOk) return s;
  t.jwt.signing_input_sha256 = digest;
  Identity id;
  return verify_token(t, keys, c, kNow, id);
}

void digest_reuse_never_trusts_other_bytes(void**) {
  for (unsigned i = 0; i < static_cast<unsigned>(Alg::kCount); ++i) {
    const Alg alg = static_cast<Alg>(i);
    EvpPkeyPtr own = alg <= Alg::kPS512 ? nullptr : generate_key(alg);
    EVP_PKEY* key = own ? own.get() : shared_rsa_key();
    const std::string kid = std::string("kid-") + alg_name(alg);
    auto keys = jwks(R"({"keys":[)" + public_jwk(key, kid, alg_name(alg)) + "]}");
    const std::string token = make_token(alg, key, header(alg, kid), payload());
    // Same length, another subject: the old signature does not cover it.
    const std::string forged = replace_payload(token, payload(kIss, kNow + 300, R"("x":1)"));
    std::string other_sub = payload();
    other_sub.replace(other_sub.find("user-1"), 6, "user-2");
    const std::string same_length = replace_payload(token, other_sub);
    assert_int_equal(same_length.size(), token.size());

    SigningInputDigest good;
    token_cache_key(*cache_key_settings("fp"), token, &good);
    assert_status(run_with_digest(token, good, *keys), Status::kOk);
    // The digest of the good token handed with a forged one (another buffer).
    assert_status(run_with_digest(forged, good, *keys), Status::kSignatureInvalid);
    assert_status(run_with_digest(same_length, good, *keys), Status::kSignatureInvalid);
    // The payload changed in place after hashing: same address, same length.
    std::string buffer = token;
    SigningInputDigest stale;
    token_cache_key(*cache_key_settings("fp"), buffer, &stale);
    buffer.replace(0, buffer.size(), same_length);
    assert_status(run_with_digest(buffer, stale, *keys), Status::kSignatureInvalid);
    // And the digest of the forged bytes themselves does not make them valid.
    SigningInputDigest own_digest;
    token_cache_key(*cache_key_settings("fp"), same_length, &own_digest);
    assert_status(run_with_digest(same_length, own_digest, *keys), Status::kSignatureInvalid);
  }
}

// A token that says RS256 but whose signature was made over the SHA-384 of
// its signing input (RS384), and the reverse, against an RS256-only key:
// refused with and without the precomputed SHA-256.
void other_hash_signature_refused(void**) {
  EVP_PKEY* rsa = shared_rsa_key();
  auto keys = jwks(R"({"keys":[)" + public_jwk(rsa, "r", "RS256") + "]}");
  const std::string h = header(Alg::kRS256, "r");
  const std::string input = b64(h) + "." + b64(payload());
  const std::string with_384 = input + "." + b64(sign(Alg::kRS384, rsa, input));
  SigningInputDigest d;
  token_cache_key(*cache_key_settings("fp"), with_384, &d);
  assert_status(run_with_digest(with_384, d, *keys), Status::kSignatureInvalid);
  assert_status(run(with_384, *keys), Status::kSignatureInvalid);
  // PS256 (a SHA-256 digest too, other padding) under an RS256 header.
  const std::string with_pss = input + "." + b64(sign(Alg::kPS256, rsa, input));
  token_cache_key(*cache_key_settings("fp"), with_pss, &d);
  assert_status(run_with_digest(with_pss, d, *keys), Status::kSignatureInvalid);
  // An RS384 token against the RS256 key: the key's alg refuses it.
  const std::string rs384 = make_token(Alg::kRS384, rsa, header(Alg::kRS384, "r"), payload());
  token_cache_key(*cache_key_settings("fp"), rs384, &d);
  assert_status(run_with_digest(rs384, d, *keys), Status::kKeyMismatch);
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(every_algorithm_end_to_end),
      cmocka_unit_test(key_selection_errors),
      cmocka_unit_test(checks_run_in_order),
      cmocka_unit_test(issuer_checked_at_inspection),
      cmocka_unit_test(algorithm_allowlist),
      cmocka_unit_test(fingerprint_covers_every_setting),
      cmocka_unit_test(cache_key),
      cmocka_unit_test(cache_key_hands_out_signing_input_digest),
      cmocka_unit_test(digest_reuse_never_trusts_other_bytes),
      cmocka_unit_test(other_hash_signature_refused),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
