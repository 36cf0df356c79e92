// parse_jwt: compact serialization, JOSE header rules and the hostile
// shapes an attacker sends (alg none, HMAC, crit, JWE, odd base64, typ).
#include "jwt.h"

#include <cstddef>
#include <string>

#include "base64url.h"
#include "bearer.h"
#include "cmocka_cxx.h"
#include "rfc_vectors.h"

using namespace realm_auth;

namespace {

constexpr char kHeader[] = R"({"alg":"RS256","typ":"JWT","kid":"k1"})";
constexpr char kPayload[] = R"({"iss":"http://kc/realms/tenant-a","sub":"u","typ":"Bearer"})";
constexpr char kSig[] = "c2lnbmF0dXJl";  // "signature"

std::string token(const std::string& header = kHeader, const std::string& payload = kPayload,
                  const std::string& sig = kSig) {
  return base64url_encode(header) + "." + base64url_encode(payload) + "." + sig;
}

Status parse(const std::string& t, AlgSet allowed = kAllAlgs, ParseLimits limits = {}) {
  Jwt jwt;
  return parse_jwt(t, limits, allowed, jwt);
}

std::string header_with(const std::string& members) {
  return R"({"alg":"RS256","kid":"k1")" + (members.empty() ? "" : "," + members) + "}";
}

// The module skips the b64token scan (bearer.h) for tokens parse_jwt
// accepts: every accepted token must be one. Each byte of a good token,
// replaced by each of the 256 values, inserted or removed.
void accepted_tokens_are_b64tokens(void**) {
  const std::string good = token();
  size_t accepted = 0;
  auto check = [&](const std::string& t) {
    if (parse(t) != Status::kOk) return;
    accepted++;
    assert_true(is_b64token(t));
  };
  for (size_t i = 0; i <= good.size(); ++i) {
    for (int c = 0; c < 256; ++c) {
      if (i < good.size()) {
        std::string t = good;
        t[i] = static_cast<char>(c);
        check(t);
      }
      std::string t = good;
      t.insert(t.begin() + static_cast<std::ptrdiff_t>(i), static_cast<char>(c));
      check(t);
    }
    if (i < good.size()) check(std::string(good).erase(i, 1));
  }
  assert_true(accepted > good.size());  // the test saw accepted variants
}

void parses_a_good_token(void**) {
  const std::string t = token();
  Jwt jwt;
  assert_status(parse_jwt(t, {}, kAllAlgs, jwt), Status::kOk);
  assert_true(jwt.alg == Alg::kRS256);
  assert_string_equal(jwt.kid.c_str(), "k1");
  assert_string_equal(jwt.signature.c_str(), "signature");
  assert_true(jwt.signing_input == std::string_view(t).substr(0, t.rfind('.')));
  assert_true(jwt.payload.root().get("sub").string() == "u");
  assert_true(jwt.header.root().get("typ").string() == "JWT");
}

void size_limit(void**) {
  const std::string t = token();
  ParseLimits limits;
  limits.max_token_size = t.size();
  assert_status(parse(t, kAllAlgs, limits), Status::kOk);
  limits.max_token_size = t.size() - 1;
  assert_status(parse(t, kAllAlgs, limits), Status::kTokenTooLarge);
}

void segment_count(void**) {
  const std::string h = base64url_encode(kHeader);
  const std::string p = base64url_encode(kPayload);
  // Five segments are JWE, even with the empty encrypted key of "dir".
  assert_status(parse(h + "." + p + "." + kSig + ".aXY.dGFn"), Status::kTokenIsJwe);
  assert_status(parse(h + "..aXY.Y3Q.dGFn"), Status::kTokenIsJwe);
  const std::string malformed[] = {"",
                                   "abc",
                                   h,
                                   h + "." + p,
                                   h + "." + p + "." + kSig + ".x",
                                   h + "." + p + "." + kSig + ".a.b.c",
                                   h + ".." + kSig,
                                   "." + p + "." + kSig,
                                   h + "." + p + ".",
                                   ".."};
  for (const std::string& t : malformed) assert_status(parse(t), Status::kTokenMalformed);
  assert_status(parse("...."), Status::kTokenIsJwe);  // the shape alone says JWE
}

void strict_base64(void**) {
  const std::string h = base64url_encode(kHeader);
  const std::string p = base64url_encode(kPayload);
  const std::string bad_segments[] = {
      "c2lnbmF0dXJl=", "c2ln+mF0", "c2ln/mF0",      "c2ln bmF0",
      "c2lu\n",        "c2lnb",    "c2lnbmF0dXJlcx" /* trailing bits */};
  for (const std::string& s : bad_segments) {
    assert_status(parse(h + "." + p + "." + s), Status::kBadBase64);
    assert_status(parse(h + "." + s + "." + kSig), Status::kBadBase64);
    assert_status(parse(s + "." + p + "." + kSig), Status::kBadBase64);
  }
  assert_status(parse(h + "==." + p + "." + kSig), Status::kBadBase64);
}

void header_and_payload_json(void**) {
  assert_status(parse(token("[]")), Status::kHeaderNotJson);
  assert_status(parse(token("not json")), Status::kHeaderNotJson);
  assert_status(parse(token(kHeader, "[1]")), Status::kPayloadNotJson);
  assert_status(parse(token(kHeader, "Payload")), Status::kPayloadNotJson);
  assert_status(parse(token(R"({"alg":"RS256","alg":"none","kid":"k1"})")), Status::kDuplicateKey);
  assert_status(parse(token(kHeader, R"({"sub":"a","sub":"admin"})")), Status::kDuplicateKey);
  std::string deep = R"({"x":)";
  for (int i = 0; i < 20; ++i) deep += "[";
  for (int i = 0; i < 20; ++i) deep += "]";
  deep += "}";
  assert_status(parse(token(kHeader, deep)), Status::kJsonTooDeep);
  assert_status(parse(token(R"({"alg":"RS256","kid":"k1","x":)" + deep + "}")),
                Status::kJsonTooDeep);
}

void alg_rules(void**) {
  const char* refused[] = {R"("none")",  R"("None")",  R"("NONE")",   R"("HS256")",  R"("HS384")",
                           R"("HS512")", R"("rs256")", R"("RS256 ")", R"("ES256K")", R"("")",
                           "null",       "1",          R"(["RS256"])"};
  for (const char* alg : refused) {
    assert_status(parse(token(std::string(R"({"kid":"k1","alg":)") + alg + "}")),
                  Status::kAlgNotAllowed);
  }
  assert_status(parse(token(R"({"kid":"k1"})")), Status::kAlgNotAllowed);
  // Allowed by name but not by this configuration.
  assert_status(parse(token(), alg_bit(Alg::kES256)), Status::kAlgNotAllowed);
  assert_status(parse(token(), alg_bit(Alg::kRS256)), Status::kOk);
  // alg is checked before anything else in the header.
  assert_status(parse(token(R"({"alg":"none","crit":["exp"],"typ":"ID"})")),
                Status::kAlgNotAllowed);
}

void crit_refused(void**) {
  assert_status(parse(token(header_with(R"("crit":["exp"],"exp":1)"))), Status::kCritUnsupported);
  assert_status(parse(token(header_with(R"("crit":[])"))), Status::kCritUnsupported);
  assert_status(parse(token(header_with(R"("crit":["b64"],"b64":false)"))),
                Status::kCritUnsupported);
}

void header_typ(void**) {
  for (const char* typ : {"JWT", "jwt", "at+jwt", "AT+JWT", "Bearer", "bearer"}) {
    assert_status(parse(token(header_with(std::string(R"("typ":")") + typ + "\""))), Status::kOk);
  }
  for (const char* typ :
       {R"("JOSE")", R"("ID")", R"("Refresh")", R"("")", R"("JWT ")", "1", "null", R"(["JWT"])"}) {
    assert_status(parse(token(header_with(std::string(R"("typ":)") + typ))),
                  Status::kTypNotAllowed);
  }
}

void kid_rules(void**) {
  assert_status(parse(token(R"({"alg":"RS256"})")), Status::kKidInvalid);
  const std::string max(128, 'a');
  assert_status(parse(token(R"({"alg":"RS256","kid":")" + max + "\"}")), Status::kOk);
  assert_status(parse(token(R"({"alg":"RS256","kid":"aZ09._=+-"})")), Status::kOk);
  for (const std::string& kid :
       {std::string(R"("")"), std::string("42"), std::string("null"), std::string(R"(["k"])"),
        std::string(R"("../../x")"), std::string(R"("a..b")"), std::string(R"("a/b")"),
        std::string(R"("a b")"), std::string(R"("k\n")"), std::string(R"("k%2e")"),
        std::string(R"("bilbo.baggins@hobbiton.example")"), "\"" + max + "a\""}) {
    assert_status(parse(token(R"({"alg":"RS256","kid":)" + kid + "}")), Status::kKidInvalid);
  }
}

void payload_typ(void**) {
  auto with_typ = [](const std::string& typ) {
    return token(kHeader, R"({"sub":"u","typ":)" + typ + "}");
  };
  assert_status(parse(with_typ(R"("Bearer")")), Status::kOk);
  assert_status(parse(with_typ(R"("bearer")")), Status::kOk);
  // Keycloak's DPoP-bound access tokens (their cnf is sender_binding.h's).
  assert_status(parse(with_typ(R"("DPoP")")), Status::kOk);
  assert_status(parse(with_typ(R"("DPoPx")")), Status::kTypNotAllowed);
  assert_status(parse(token(kHeader, R"({"sub":"u"})")), Status::kOk);
  // Keycloak ID and refresh tokens are signed by the same key.
  assert_status(parse(with_typ(R"("ID")")), Status::kTypNotAllowed);
  assert_status(parse(with_typ(R"("Refresh")")), Status::kTypNotAllowed);
  assert_status(parse(with_typ(R"("Offline")")), Status::kTypNotAllowed);
  assert_status(parse(with_typ("1")), Status::kTypNotAllowed);
  assert_status(parse(with_typ("null")), Status::kTypNotAllowed);
}

void key_headers_ignored(void**) {
  // jku/jwk/x5u/x5c never supply keys; their presence changes nothing.
  assert_status(
      parse(token(header_with(
          R"("jku":"http://evil/jwks","x5u":"http://evil/c","jwk":{"kty":"oct","k":"AA"},"x5c":["AA"])"))),
      Status::kOk);
}

void rfc_tokens(void**) {
  // RFC 7515 A.2 is a valid JWS without kid: refused before any key lookup.
  assert_status(parse(test::kRfc7515A2Token), Status::kKidInvalid);
  // RFC 8037 A.4's payload is text, not a claims set.
  assert_status(parse(test::kRfc8037Token), Status::kPayloadNotJson);
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(parses_a_good_token),
      cmocka_unit_test(size_limit),
      cmocka_unit_test(segment_count),
      cmocka_unit_test(strict_base64),
      cmocka_unit_test(header_and_payload_json),
      cmocka_unit_test(alg_rules),
      cmocka_unit_test(crit_refused),
      cmocka_unit_test(header_typ),
      cmocka_unit_test(kid_rules),
      cmocka_unit_test(payload_typ),
      cmocka_unit_test(key_headers_ignored),
      cmocka_unit_test(rfc_tokens),
      cmocka_unit_test(accepted_tokens_are_b64tokens),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
