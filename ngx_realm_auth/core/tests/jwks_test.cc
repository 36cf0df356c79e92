// JWKS parsing and key selection: which keys are kept, which are skipped,
// and which one a token's kid + alg gets.
#include "jwks.h"

#include <string>
#include <vector>

#include "cmocka_cxx.h"
#include "rfc_vectors.h"
#include "test_support.h"

using namespace realm_auth;
using namespace realm_auth::test;

namespace {

std::shared_ptr<const Jwks> parse_ok(const std::string& doc) {
  std::shared_ptr<const Jwks> keys;
  assert_status(Jwks::parse(doc, keys), Status::kOk);
  assert_non_null(keys.get());
  return keys;
}

std::string set_of(const std::vector<std::string>& jwks) {
  std::string doc = R"({"keys":[)";
  for (size_t i = 0; i < jwks.size(); ++i) doc += (i ? "," : "") + jwks[i];
  return doc + "]}";
}

// Inserts `members` (without braces) into the JWK object text.
std::string with(const std::string& jwk, const std::string& members) {
  return jwk.substr(0, jwk.size() - 1) + "," + members + "}";
}

size_t usable(const std::string& jwk) {
  std::shared_ptr<const Jwks> keys;
  return Jwks::parse(set_of({jwk}), keys) == Status::kOk ? keys->size() : 0;
}

const std::string kRfcRsa =
    std::string(R"({"kty":"RSA","kid":"2010-12-29","n":")") + kRfc7515A2N + R"(","e":"AQAB"})";

void rfc7515_jwks(void**) {
  auto keys = parse_ok(set_of(
      {kRfcRsa,
       std::string(R"({"kty":"EC","crv":"P-256","kid":"e1","x":")") + kRfc7515A3X + R"(","y":")" +
           kRfc7515A3Y + R"("})",
       std::string(R"({"kty":"EC","crv":"P-521","kid":"e5","x":")") + kRfc7515A4X + R"(","y":")" +
           kRfc7515A4Y + R"("})",
       std::string(R"({"kty":"OKP","crv":"Ed25519","kid":"ed","x":")") + kRfc8037X + R"("})"}));
  assert_int_equal(keys->size(), 4);
  Status why;
  assert_non_null(keys->select("2010-12-29", Alg::kRS256, why));
  assert_non_null(keys->select("2010-12-29", Alg::kPS512, why));
  assert_non_null(keys->select("e1", Alg::kES256, why));
  assert_non_null(keys->select("e5", Alg::kES512, why));
  assert_non_null(keys->select("ed", Alg::kEdDSA, why));
  assert_status(why, Status::kOk);
}

void private_members_refused(void**) {
  // The RFC 7515 A.2 JWK as published, with "d": a leaked private key.
  assert_int_equal(usable(with(kRfcRsa, std::string(R"("d":")") + kRfc7515A2D + "\"")), 0);
  for (const char* m : {"p", "q", "dp", "dq", "qi", "oth", "k"}) {
    assert_int_equal(usable(with(kRfcRsa, std::string("\"") + m + R"(":"AQAB")")), 0);
  }
  assert_int_equal(usable(std::string(R"({"kty":"OKP","crv":"Ed25519","x":")") + kRfc8037X +
                          R"(","d":")" + kRfc8037D + R"("})"),
                   0);
}

// A realm JWKS as Keycloak publishes it: an RS256 signing key and an
// RSA-OAEP encryption key, kids in the same (thumbprint) scheme.
void keycloak_shaped_jwks(void**) {
  EVP_PKEY* rsa = shared_rsa_key();
  EvpPkeyPtr enc_key = generate_key(Alg::kRS256);
  const std::string sig_kid = "Bf5y3eDYHyUvwxd6aUKcxeC8TNxXhcVWSI2hDUpv2vE";
  const std::string enc_kid = "q3Td_2GHDtlYcMVV1B9GZFqw5Tt8Fzv3HJNR3nB8LEE";
  const std::string enc = with(public_jwk(enc_key.get(), enc_kid, "RSA-OAEP", "enc"),
                               R"("x5c":["MIICrz"],"x5t":"abc","x5t#S256":"def")");
  const std::string sig = with(public_jwk(rsa, sig_kid, "RS256", "sig"), R"("x5c":["MIICrz"])");
  auto keys = parse_ok(set_of({enc, sig}));
  assert_int_equal(keys->size(), 1);  // the encryption key is not even kept

  Status why;
  const Jwk* k = keys->select(sig_kid, Alg::kRS256, why);
  assert_non_null(k);
  assert_string_equal(k->alg.c_str(), "RS256");
  assert_null(keys->select(enc_kid, Alg::kRS256, why));
  assert_status(why, Status::kKeyNotFound);
  assert_null(keys->select(sig_kid, Alg::kPS256, why));  // alg published as RS256
  assert_status(why, Status::kKeyMismatch);

  // Same kid on both keys, encryption key first: the signing key is chosen.
  auto same = parse_ok(set_of({public_jwk(enc_key.get(), sig_kid, "RSA-OAEP", "enc"),
                               public_jwk(rsa, sig_kid, "RS256", "sig")}));
  k = same->select(sig_kid, Alg::kRS256, why);
  assert_non_null(k);
  assert_string_equal(k->use.c_str(), "sig");

  // Only an encryption key: nothing usable.
  std::shared_ptr<const Jwks> none;
  assert_status(Jwks::parse(set_of({enc}), none), Status::kJwksMalformed);
}

void use_and_key_ops(void**) {
  EVP_PKEY* rsa = shared_rsa_key();
  assert_int_equal(usable(public_jwk(rsa, "k", "", "")), 1);
  assert_int_equal(usable(public_jwk(rsa, "k", "", "sig")), 1);
  assert_int_equal(usable(public_jwk(rsa, "k", "", "enc")), 0);
  assert_int_equal(usable(public_jwk(rsa, "k", "", "SIG")), 0);
  assert_int_equal(usable(with(public_jwk(rsa, "k", "", ""), R"("use":1)")), 0);
  assert_int_equal(usable(with(public_jwk(rsa, "k"), R"("key_ops":["verify"])")), 1);
  assert_int_equal(usable(with(public_jwk(rsa, "k"), R"("key_ops":["encrypt","wrapKey"])")), 0);
  assert_int_equal(usable(with(public_jwk(rsa, "k"), R"("key_ops":"verify")")), 0);
  assert_int_equal(usable(with(public_jwk(rsa, "k", "", ""), R"("alg":7)")), 0);
  assert_int_equal(usable(R"({"kid":7,"kty":"RSA","n":"AQAB","e":"AQAB"})"), 0);
}

void weak_or_broken_rsa(void**) {
  EvpPkeyPtr small(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{1024}));
  assert_int_equal(usable(public_jwk(small.get(), "k")), 0);
  std::string n = kRfc7515A2N;
  auto rsa = [&](const std::string& n_value, const std::string& e_value) {
    return R"({"kty":"RSA","kid":"k","n":")" + n_value + R"(","e":")" + e_value + R"("})";
  };
  assert_int_equal(usable(rsa(n, "AQAB")), 1);
  assert_int_equal(usable(rsa(n, "AQAC")), 0);                  // even e
  assert_int_equal(usable(rsa(n, "AQ")), 0);                    // e = 1
  assert_int_equal(usable(rsa(n, "AQAB==")), 0);                // padded
  assert_int_equal(usable(rsa(n, "AQABAQABAQABAQABAQAB")), 0);  // e over 64 bits
  assert_int_equal(usable(rsa(n + "=", "AQAB")), 0);            // padded n
  assert_int_equal(usable(rsa(n.substr(0, 200), "AQAB")), 0);   // 1200-bit n
  assert_int_equal(usable(R"({"kty":"RSA","kid":"k","e":"AQAB"})"), 0);
  assert_int_equal(usable(R"({"kty":"RSA","kid":"k","n":7,"e":"AQAB"})"), 0);
}

void ec_parameters(void**) {
  auto ec = [](const std::string& crv, const std::string& x, const std::string& y) {
    return R"({"kty":"EC","kid":"k","crv":")" + crv + R"(","x":")" + x + R"(","y":")" + y + R"("})";
  };
  const std::string x = kRfc7515A3X, y = kRfc7515A3Y;
  assert_int_equal(usable(ec("P-256", x, y)), 1);
  assert_int_equal(usable(ec("P-384", x, y)), 0);  // lengths of another curve
  assert_int_equal(usable(ec("P-256K", x, y)), 0);
  assert_int_equal(usable(ec("p-256", x, y)), 0);
  assert_int_equal(usable(ec("P-256", x.substr(0, 42), y)), 0);  // 31-byte x
  assert_int_equal(usable(ec("P-256", "AA" + x, y)), 0);         // 33-byte x
  // A point off the curve (y changed in one byte) enables invalid-curve attacks.
  std::string bad_y = y;
  bad_y[10] = bad_y[10] == 'A' ? 'B' : 'A';
  assert_int_equal(usable(ec("P-256", x, bad_y)), 0);
  assert_int_equal(usable(ec("P-521", kRfc7515A4X, kRfc7515A4Y)), 1);
  assert_int_equal(usable(R"({"kty":"EC","kid":"k","x":")" + x + R"(","y":")" + y + R"("})"), 0);
}

void okp_parameters(void**) {
  const std::string x = kRfc8037X;
  assert_int_equal(usable(R"({"kty":"OKP","kid":"k","crv":"Ed25519","x":")" + x + R"("})"), 1);
  assert_int_equal(usable(R"({"kty":"OKP","kid":"k","crv":"Ed448","x":")" + x + R"("})"), 0);
  assert_int_equal(usable(R"({"kty":"OKP","kid":"k","crv":"X25519","x":")" + x + R"("})"), 0);
  assert_int_equal(usable(R"({"kty":"OKP","kid":"k","crv":"Ed25519","x":"AAAA"})"), 0);
  assert_int_equal(usable(R"({"kty":"oct","kid":"k","k":"AAAA"})"), 0);
  assert_int_equal(usable(R"({"kid":"k"})"), 0);
}

void alg_must_fit_key(void**) {
  EVP_PKEY* rsa = shared_rsa_key();
  EvpPkeyPtr p256 = generate_key(Alg::kES256);
  EvpPkeyPtr ed = generate_key(Alg::kEdDSA);
  // An RSA key labelled ES256 parses but serves no algorithm.
  auto keys = parse_ok(set_of(
      {public_jwk(rsa, "r", "ES256"), public_jwk(p256.get(), "e"), public_jwk(ed.get(), "d")}));
  Status why;
  assert_null(keys->select("r", Alg::kES256, why));
  assert_status(why, Status::kKeyMismatch);
  assert_null(keys->select("r", Alg::kRS256, why));
  assert_status(why, Status::kKeyMismatch);
  // No alg published: the family decides.
  assert_non_null(keys->select("e", Alg::kES256, why));
  assert_null(keys->select("e", Alg::kES384, why));
  assert_status(why, Status::kKeyMismatch);
  assert_null(keys->select("e", Alg::kRS256, why));
  assert_status(why, Status::kKeyMismatch);
  assert_null(keys->select("e", Alg::kEdDSA, why));
  assert_non_null(keys->select("d", Alg::kEdDSA, why));
  assert_null(keys->select("d", Alg::kES256, why));
  assert_status(why, Status::kKeyMismatch);
  assert_null(keys->select("missing", Alg::kRS256, why));
  assert_status(why, Status::kKeyNotFound);
  assert_null(keys->select("", Alg::kRS256, why));
  assert_status(why, Status::kKeyNotFound);
}

void duplicate_kids_first_usable_wins(void**) {
  EVP_PKEY* rsa = shared_rsa_key();
  EvpPkeyPtr other = generate_key(Alg::kRS256);
  auto keys =
      parse_ok(set_of({public_jwk(rsa, "dup", "PS256"), public_jwk(other.get(), "dup", "RS256"),
                       public_jwk(rsa, "dup", "RS256")}));
  assert_int_equal(keys->size(), 3);
  Status why;
  const Jwk* ps = keys->select("dup", Alg::kPS256, why);
  const Jwk* rs = keys->select("dup", Alg::kRS256, why);
  assert_non_null(ps);
  assert_non_null(rs);
  assert_string_equal(ps->alg.c_str(), "PS256");
  assert_true(EVP_PKEY_eq(rs->key.get(), other.get()) == 1);
}

void every_algorithm_round_trip(void**) {
  for (unsigned i = 0; i < static_cast<unsigned>(Alg::kCount); ++i) {
    const Alg alg = static_cast<Alg>(i);
    EvpPkeyPtr own = alg <= Alg::kPS512 ? nullptr : generate_key(alg);
    EVP_PKEY* key = own ? own.get() : shared_rsa_key();
    auto keys = parse_ok(set_of({public_jwk(key, "k", alg_name(alg))}));
    Status why;
    const Jwk* k = keys->select("k", alg, why);
    assert_non_null(k);
    assert_true(EVP_PKEY_eq(k->key.get(), key) == 1);
    // The prepared verifier made at parse time checks this key's signatures.
    const std::string input = "eyJhbGciOiJ4In0.eyJzdWIiOiJ4In0";
    const PreparedVerifier* p = k->verifier(alg);
    if (alg == Alg::kEdDSA) {
      assert_null(p);  // cannot stream: one-shot verify_signature only
      continue;
    }
    assert_non_null(p);
    assert_true(p->verify(input, sign(alg, key, input)));
    assert_false(p->verify(input + "x", sign(alg, key, input)));
  }
}

// Jwks::parse prepares exactly the algorithms select() may pick a key for:
// the published alg only, or every one its kty/crv fits; never EdDSA.
void prepared_verifiers_follow_select(void**) {
  EVP_PKEY* rsa = shared_rsa_key();
  EvpPkeyPtr p256 = generate_key(Alg::kES256);
  EvpPkeyPtr p384 = generate_key(Alg::kES384);
  EvpPkeyPtr p521 = generate_key(Alg::kES512);
  EvpPkeyPtr ed = generate_key(Alg::kEdDSA);
  auto keys =
      parse_ok(set_of({public_jwk(rsa, "rsa-any"), public_jwk(rsa, "rsa-ps384", "PS384"),
                       public_jwk(rsa, "rsa-rs512", "RS512", ""), public_jwk(p256.get(), "p256"),
                       public_jwk(p384.get(), "p384"), public_jwk(p521.get(), "p521", "ES512"),
                       public_jwk(ed.get(), "ed", "EdDSA")}));
  const char* kids[] = {"rsa-any", "rsa-ps384", "rsa-rs512", "p256", "p384", "p521", "ed"};
  const size_t expected[] = {6, 1, 1, 1, 1, 1, 0};  // prepared algorithms per key
  constexpr unsigned kAlgs = static_cast<unsigned>(Alg::kCount);
  for (size_t n = 0; n < 7; ++n) {
    // Every key here has a unique kid and serves at least one algorithm.
    const Jwk* k = nullptr;
    Status why;
    for (unsigned i = 0; i < kAlgs && k == nullptr; ++i) {
      k = keys->select(kids[n], static_cast<Alg>(i), why);
    }
    assert_non_null(k);
    size_t prepared = 0;
    for (unsigned i = 0; i < kAlgs; ++i) {
      const Alg alg = static_cast<Alg>(i);
      const bool selectable = keys->select(kids[n], alg, why) == k;
      const PreparedVerifier* p = k->verifier(alg);
      assert_int_equal(p != nullptr, selectable && alg != Alg::kEdDSA);
      if (p != nullptr) {
        assert_true(p->alg() == alg);
        ++prepared;
      }
    }
    assert_int_equal(prepared, expected[n]);
    assert_null(k->verifier(Alg::kCount));
  }
}

void document_errors(void**) {
  const std::string good = kRfcRsa;
  const std::string bad[] = {"",
                             "not json",
                             "[]",
                             R"({})",
                             R"({"keys":{}})",
                             R"({"keys":[]})",
                             R"({"keys":[1,"x",null]})",
                             R"({"keys":[)" + good + R"(],"keys":[]})",
                             R"({"keys":[)" + good + "]} trailing"};
  for (const std::string& doc : bad) {
    std::shared_ptr<const Jwks> keys;
    assert_status(Jwks::parse(doc, keys), Status::kJwksMalformed);
    assert_null(keys.get());
  }
  // Unusable entries next to a good one are skipped, not fatal.
  auto keys = parse_ok(R"({"keys":[1,{"kty":"oct","k":"AA"},)" + good + "]}");
  assert_int_equal(keys->size(), 1);
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(rfc7515_jwks),
      cmocka_unit_test(private_members_refused),
      cmocka_unit_test(keycloak_shaped_jwks),
      cmocka_unit_test(use_and_key_ops),
      cmocka_unit_test(weak_or_broken_rsa),
      cmocka_unit_test(ec_parameters),
      cmocka_unit_test(okp_parameters),
      cmocka_unit_test(alg_must_fit_key),
      cmocka_unit_test(duplicate_kids_first_usable_wins),
      cmocka_unit_test(every_algorithm_round_trip),
      cmocka_unit_test(prepared_verifiers_follow_select),
      cmocka_unit_test(document_errors),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
