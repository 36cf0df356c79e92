// DPoP proofs, JWK thumbprints, htu normalisation and the sender binding
// (dpop_proof.h, jwk_thumbprint.h, dpop_htu.h, sender_binding.h).
#include <string>

#include "bearer.h"
#include "cmocka_cxx.h"
#include "dpop_htu.h"
#include "dpop_proof.h"
#include "json.h"
#include "jwk_thumbprint.h"
#include "sender_binding.h"
#include "test_support.h"

using namespace realm_auth;
using namespace realm_auth::test;

namespace {

// RFC 7638 §3.1: the published example key and its thumbprint.
constexpr char kRfc7638N[] =
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_"
    "BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_"
    "FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-"
    "bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
constexpr char kRfc7638Thumbprint[] = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";

JsonPtr parse(const std::string& text) {
  JsonPtr out;
  assert_status(parse_json_object(text, 8, Status::kHeaderNotJson, out), Status::kOk);
  return out;
}

std::string thumbprint_of(const std::string& jwk_json) {
  std::string out;
  JsonPtr jwk = parse(jwk_json);
  return jwk_thumbprint(jwk.get(), out) ? out : std::string("<none>");
}

void rfc7638_example(void**) {
  std::string n = kRfc7638N;
  // As published: with alg and kid, which the thumbprint ignores.
  std::string jwk = "{\"kty\":\"RSA\",\"n\":\"" + n +
                    "\",\"e\":\"AQAB\",\"alg\":\"RS256\",\"kid\":\"2011-04-29\"}";
  assert_string_equal(thumbprint_of(jwk).c_str(), kRfc7638Thumbprint);
  // Member order does not matter.
  jwk = "{\"e\":\"AQAB\",\"n\":\"" + n + "\",\"kty\":\"RSA\"}";
  assert_string_equal(thumbprint_of(jwk).c_str(), kRfc7638Thumbprint);
  // Another value does.
  jwk = "{\"e\":\"AQAA\",\"n\":\"" + n + "\",\"kty\":\"RSA\"}";
  assert_string_not_equal(thumbprint_of(jwk).c_str(), kRfc7638Thumbprint);
}

void thumbprint_kinds(void**) {
  // EC and OKP: computed by hand over the canonical member text.
  std::string ec = "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"AAAA\",\"y\":\"BBBB\"}";
  assert_string_equal(
      thumbprint_of("{\"y\":\"BBBB\",\"x\":\"AAAA\",\"kty\":\"EC\",\"crv\":\"P-256\","
                    "\"use\":\"sig\"}")
          .c_str(),
      sha256_base64url(ec).c_str());
  std::string okp = "{\"crv\":\"Ed25519\",\"kty\":\"OKP\",\"x\":\"CCCC\"}";
  assert_string_equal(thumbprint_of("{\"x\":\"CCCC\",\"kty\":\"OKP\",\"crv\":\"Ed25519\"}").c_str(),
                      sha256_base64url(okp).c_str());
  // Refused: unknown kty, missing or non-string members, bytes needing escapes.
  assert_string_equal(thumbprint_of("{\"kty\":\"oct\",\"k\":\"AAAA\"}").c_str(), "<none>");
  assert_string_equal(thumbprint_of("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AAAA\"}").c_str(),
                      "<none>");
  assert_string_equal(thumbprint_of("{\"kty\":\"RSA\",\"n\":\"AAAA\",\"e\":1}").c_str(), "<none>");
  assert_string_equal(thumbprint_of("{\"kty\":\"RSA\",\"n\":\"A\\\"A\",\"e\":\"AQAB\"}").c_str(),
                      "<none>");
  assert_string_equal(thumbprint_of("{\"kty\":\"RSA\",\"n\":\"A\\u00e9\",\"e\":\"AQAB\"}").c_str(),
                      "<none>");
}

void expect_htu(const char* in, const char* want) {
  std::string out;
  bool ok = normalize_htu(in, out);
  if (want == nullptr) {
    if (ok) fail_msg("%s normalised to %s, expected refusal", in, out.c_str());
    return;
  }
  if (!ok) fail_msg("%s refused", in);
  if (out != want) fail_msg("%s -> %s, want %s", in, out.c_str(), want);
}

void htu_normalisation(void**) {
  expect_htu("https://api.example.com/x", "https://api.example.com/x");
  expect_htu("HTTPS://API.Example.COM/x", "https://api.example.com/x");
  expect_htu("https://api.example.com:443/x", "https://api.example.com/x");
  expect_htu("http://api.example.com:80/x", "http://api.example.com/x");
  expect_htu("http://api.example.com:443/x", "http://api.example.com:443/x");
  expect_htu("https://api.example.com:8443/x", "https://api.example.com:8443/x");
  expect_htu("https://api.example.com", "https://api.example.com/");
  expect_htu("https://api.example.com:/x", "https://api.example.com/x");
  expect_htu("https://api.example.com/x?a=1#f", "https://api.example.com/x");
  expect_htu("https://api.example.com/x#f?a", "https://api.example.com/x");
  expect_htu("https://api.example.com/a/./b/../c", "https://api.example.com/a/c");
  expect_htu("https://api.example.com/%7euser/%2f", "https://api.example.com/~user/%2F");
  expect_htu("https://api.example.com/X", "https://api.example.com/X");  // path keeps its case
  expect_htu("https://[::1]:8443/x", "https://[::1]:8443/x");
  expect_htu("https://h/%2e%2e/x", "https://h/x");
  expect_htu("ftp://api.example.com/x", nullptr);
  expect_htu("api.example.com/x", nullptr);
  expect_htu("/x", nullptr);
  expect_htu("https://user@api.example.com/x", nullptr);
  expect_htu("https://api.example.com:99999/x", nullptr);
  expect_htu("https://api.example.com:0/x", nullptr);
  expect_htu("https://api.example.com:8x/x", nullptr);
  expect_htu("https:///x", nullptr);
  expect_htu("https://api.example.com/a b", nullptr);
  expect_htu("https://api.example.com/%zz", nullptr);
  expect_htu("https://api.example.com/%4", nullptr);
  expect_htu("https://api.exa\tmple.com/", nullptr);
  // Found by fuzz_dpop: a host with a ':' or a quote read as another port.
  expect_htu("HTTPS://API.E:\"hpl/x", nullptr);
  expect_htu("https://a:b:443/x", nullptr);
  expect_htu("https://a%41/x", nullptr);
  expect_htu("https://[]/x", nullptr);
  expect_htu("https://[::g]/x", nullptr);
  expect_htu(("https://h/" + std::string(5000, 'a')).c_str(), nullptr);
}

// A proof signed by `key` with `alg`; header and payload as given.
std::string proof_with(Alg alg, EVP_PKEY* key, const std::string& header,
                       const std::string& payload) {
  return make_token(alg, key, header, payload);
}

struct Fixture {
  EvpPkeyPtr key = generate_key(Alg::kES256);
  std::string jwk = public_jwk(key.get(), "", "", "");
  std::string token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln";
  int64_t now = 1700000000;

  std::string header(const std::string& typ = "dpop+jwt", const std::string& alg = "ES256") {
    return "{\"typ\":\"" + typ + "\",\"alg\":\"" + alg + "\",\"jwk\":" + jwk + "}";
  }
  std::string payload(const std::string& extra = "", int64_t iat_offset = 0,
                      const std::string& htu = "https://api.example.com/x",
                      const std::string& htm = "GET") {
    return "{\"jti\":\"j-1\",\"htm\":\"" + htm + "\",\"htu\":\"" + htu +
           "\",\"iat\":" + std::to_string(now + iat_offset) + ",\"ath\":\"" +
           sha256_base64url(token) + "\"" + extra + "}";
  }
  Status verify(const std::string& proof, DpopProof* out = nullptr) {
    DpopRequest req;
    req.method = "GET";
    req.htu = "https://api.example.com/x";
    req.access_token = token;
    req.now = now;
    req.window = 60;
    req.algorithms = kAllAlgs;
    DpopProof p;
    Status s = verify_dpop_proof(proof, req, p);
    if (out != nullptr) *out = p;
    return s;
  }
};

void proof_accepted(void**) {
  Fixture f;
  DpopProof p;
  assert_status(f.verify(proof_with(Alg::kES256, f.key.get(), f.header(), f.payload()), &p),
                Status::kOk);
  assert_string_equal(p.jti.c_str(), "j-1");
  assert_int_equal(p.iat, f.now);
  JsonPtr jwk = parse(f.jwk);
  std::string want;
  assert_true(jwk_thumbprint(jwk.get(), want));
  assert_string_equal(p.jkt.c_str(), want.c_str());
  // typ is a media type: case-insensitive; a query in htu is ignored.
  assert_status(f.verify(proof_with(Alg::kES256, f.key.get(), f.header("DPoP+JWT"),
                                    f.payload("", 0, "https://API.example.com:443/x?q=1"))),
                Status::kOk);
  // Each key type.
  for (Alg alg : {Alg::kRS256, Alg::kPS256, Alg::kES384, Alg::kES512, Alg::kEdDSA}) {
    EvpPkeyPtr owned = alg == Alg::kRS256 || alg == Alg::kPS256 ? nullptr : generate_key(alg);
    EVP_PKEY* key = owned ? owned.get() : shared_rsa_key();
    f.jwk = public_jwk(key, "", "", "");
    assert_status(f.verify(proof_with(alg, key, f.header("dpop+jwt", alg_name(alg)), f.payload())),
                  Status::kOk);
  }
}

void proof_refused(void**) {
  Fixture f;
  EVP_PKEY* k = f.key.get();
  std::string good = proof_with(Alg::kES256, k, f.header(), f.payload());
  assert_status(f.verify(""), Status::kDpopProofInvalid);
  assert_status(f.verify("a.b"), Status::kDpopProofInvalid);
  assert_status(f.verify(good + ".x"), Status::kDpopProofInvalid);
  assert_status(f.verify(tamper_signature(good)), Status::kDpopProofInvalid);
  assert_status(f.verify(std::string(9000, 'a')), Status::kDpopProofInvalid);
  // typ
  assert_status(f.verify(proof_with(Alg::kES256, k, f.header("JWT"), f.payload())),
                Status::kDpopProofInvalid);
  assert_status(f.verify(proof_with(Alg::kES256, k, "{\"alg\":\"ES256\",\"jwk\":" + f.jwk + "}",
                                    f.payload())),
                Status::kDpopProofInvalid);
  // alg: the header's alg must fit the key; none / HS256 never.
  assert_status(f.verify(proof_with(Alg::kES256, k, f.header("dpop+jwt", "ES384"), f.payload())),
                Status::kDpopProofInvalid);
  assert_status(f.verify(proof_with(Alg::kES256, k, f.header("dpop+jwt", "none"), f.payload())),
                Status::kDpopProofInvalid);
  assert_status(f.verify(proof_with(Alg::kES256, k, f.header("dpop+jwt", "HS256"), f.payload())),
                Status::kDpopProofInvalid);
  // crit
  assert_status(f.verify(proof_with(
                    Alg::kES256, k,
                    "{\"typ\":\"dpop+jwt\",\"alg\":\"ES256\",\"crit\":[],\"jwk\":" + f.jwk + "}",
                    f.payload())),
                Status::kDpopProofInvalid);
  // jwk: missing, private member, a key of another proof.
  assert_status(
      f.verify(proof_with(Alg::kES256, k, "{\"typ\":\"dpop+jwt\",\"alg\":\"ES256\"}", f.payload())),
      Status::kDpopProofInvalid);
  std::string priv = f.jwk;
  priv.insert(priv.size() - 1, ",\"d\":\"AAAA\"");
  assert_status(f.verify(proof_with(Alg::kES256, k,
                                    "{\"typ\":\"dpop+jwt\",\"alg\":\"ES256\",\"jwk\":" + priv + "}",
                                    f.payload())),
                Status::kDpopProofInvalid);
  EvpPkeyPtr other = generate_key(Alg::kES256);
  assert_status(f.verify(proof_with(Alg::kES256, other.get(), f.header(), f.payload())),
                Status::kDpopProofInvalid);
  // Duplicate members.
  assert_status(f.verify(proof_with(Alg::kES256, k, f.header(), f.payload(",\"jti\":\"j-2\""))),
                Status::kDpopProofInvalid);
  // Claims.
  assert_status(f.verify(proof_with(Alg::kES256, k, f.header(),
                                    f.payload("", 0, "https://api.example.com/y"))),
                Status::kDpopUrlMismatch);
  assert_status(f.verify(proof_with(Alg::kES256, k, f.header(),
                                    f.payload("", 0, "http://api.example.com/x"))),
                Status::kDpopUrlMismatch);
  assert_status(f.verify(proof_with(Alg::kES256, k, f.header(),
                                    f.payload("", 0, "https://api.example.com/x", "POST"))),
                Status::kDpopMethodMismatch);
  assert_status(f.verify(proof_with(Alg::kES256, k, f.header(),
                                    f.payload("", 0, "https://api.example.com/x", "get"))),
                Status::kDpopMethodMismatch);
  assert_status(f.verify(proof_with(Alg::kES256, k, f.header(), f.payload("", -61))),
                Status::kDpopProofStale);
  assert_status(f.verify(proof_with(Alg::kES256, k, f.header(), f.payload("", 61))),
                Status::kDpopProofStale);
  assert_status(f.verify(proof_with(Alg::kES256, k, f.header(), f.payload("", -60))), Status::kOk);
  std::string wrong_ath = f.payload();
  wrong_ath.replace(wrong_ath.find(sha256_base64url(f.token)), 43, sha256_base64url("other"));
  assert_status(f.verify(proof_with(Alg::kES256, k, f.header(), wrong_ath)),
                Status::kDpopAthMismatch);
  std::string long_jti = "{\"jti\":\"" + std::string(257, 'j') + "\"}";
  assert_status(f.verify(proof_with(Alg::kES256, k, f.header(), long_jti)),
                Status::kDpopProofInvalid);
  assert_status(f.verify(proof_with(Alg::kES256, k, f.header(), "{\"jti\":\"\"}")),
                Status::kDpopProofInvalid);
}

void binding(void**) {
  Confirmation none, dpop{"jkt-A", ""}, cert{"", "x5t-A"};
  Presentation bearer;
  Presentation dpop_a{TokenScheme::kDpop, "jkt-A", ""};
  Presentation dpop_b{TokenScheme::kDpop, "jkt-B", ""};
  assert_status(check_sender_binding(none, bearer, false), Status::kOk);
  assert_status(check_sender_binding(none, bearer, true), Status::kDpopRequired);
  assert_status(check_sender_binding(dpop, bearer, false), Status::kDpopBoundAsBearer);
  assert_status(check_sender_binding(dpop, dpop_a, true), Status::kOk);
  assert_status(check_sender_binding(dpop, dpop_b, false), Status::kDpopBindingMismatch);
  assert_status(check_sender_binding(none, dpop_a, false), Status::kDpopBindingMismatch);
  assert_status(check_sender_binding(cert, bearer, false), Status::kCertBindingMismatch);
  Presentation with_cert{TokenScheme::kBearer, "", "x5t-A"};
  Presentation other_cert{TokenScheme::kBearer, "", "x5t-B"};
  assert_status(check_sender_binding(cert, with_cert, false), Status::kOk);
  assert_status(check_sender_binding(cert, other_cert, false), Status::kCertBindingMismatch);
}

void confirmation_claim(void**) {
  std::string t43 = sha256_base64url("x");
  auto read = [](const std::string& payload, Confirmation& c) {
    FlatJson doc;
    assert_status(doc.parse(payload, 8, Status::kPayloadNotJson), Status::kOk);
    return read_confirmation(doc.root(), c);
  };
  Confirmation c;
  assert_status(read("{}", c), Status::kOk);
  assert_true(c.jkt.empty() && c.x5t_s256.empty());
  // Extra members tolerated (Keycloak's).
  assert_status(read("{\"cnf\":{\"jkt\":\"" + t43 + "\",\"other\":[1]}}", c), Status::kOk);
  assert_string_equal(c.jkt.c_str(), t43.c_str());
  Confirmation m;
  assert_status(read("{\"cnf\":{\"x5t#S256\":\"" + t43 + "\"}}", m), Status::kOk);
  assert_string_equal(m.x5t_s256.c_str(), t43.c_str());
  Confirmation bad;
  assert_status(read("{\"cnf\":\"" + t43 + "\"}", bad), Status::kClaimInvalid);
  assert_status(read("{\"cnf\":{\"jkt\":1}}", bad), Status::kClaimInvalid);
  assert_status(read("{\"cnf\":{\"jkt\":\"short\"}}", bad), Status::kClaimInvalid);
  assert_status(read("{\"cnf\":{\"jkt\":null}}", bad), Status::kClaimInvalid);
  assert_status(read("{\"cnf\":{\"x5t#S256\":\"" + t43 + "=\"}}", bad), Status::kClaimInvalid);
  assert_status(read("{\"cnf\":[]}", bad), Status::kClaimInvalid);
}

void challenges(void**) {
  AlgSet algs = alg_bit(Alg::kES256) | alg_bit(Alg::kRS256);
  assert_string_equal(dpop_challenge(Status::kTokenMissing, algs).c_str(),
                      "DPoP algs=\"RS256 ES256\"");
  assert_string_equal(dpop_challenge(Status::kDpopReplayed, algs).c_str(),
                      "DPoP algs=\"RS256 ES256\", error=\"invalid_dpop_proof\", "
                      "error_description=\"DPoP proof replayed\"");
  assert_string_equal(dpop_challenge(Status::kDpopBindingMismatch, algs).c_str(),
                      "DPoP algs=\"RS256 ES256\", error=\"invalid_token\", "
                      "error_description=\"DPoP proof does not match the token binding\"");
  std::string_view cred;
  assert_status(authorization_scheme("DPoP abc", "DPoP", cred), Status::kOk);
  assert_true(cred == "abc");
  assert_status(authorization_scheme("dpop  abc", "DPoP", cred), Status::kOk);
  assert_status(authorization_scheme("DPoPx abc", "DPoP", cred), Status::kTokenMissing);
  assert_status(authorization_scheme("Bearer abc", "DPoP", cred), Status::kTokenMissing);
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(rfc7638_example),    cmocka_unit_test(thumbprint_kinds),
      cmocka_unit_test(htu_normalisation),  cmocka_unit_test(proof_accepted),
      cmocka_unit_test(proof_refused),      cmocka_unit_test(binding),
      cmocka_unit_test(confirmation_claim), cmocka_unit_test(challenges),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
