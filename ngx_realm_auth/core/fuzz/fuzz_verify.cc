// libFuzzer target: the per-request path on attacker-controlled tokens.
//
// Every input is tried twice: as a compact token (what arrives in the
// Authorization header), and as "<header JSON>\n<payload JSON>" wrapped into
// a token here, so mutations reach the JSON, header and claim rules instead
// of dying in base64url.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base64url.h"
#include "token_hash.h"
#include "verifier.h"

using namespace realm_auth;

namespace {

// RFC 7515 A.2 (RSA), A.3 (P-256) and RFC 8037 A.2 (Ed25519) public keys.
constexpr char kJwks[] = R"({"keys":[
 {"kty":"RSA","kid":"rsa","use":"sig","alg":"RS256","e":"AQAB",
  "n":"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ"},
 {"kty":"EC","kid":"ec","crv":"P-256",
  "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
 {"kty":"OKP","kid":"ed","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]})";

constexpr int64_t kNow = 1700000000;

struct Fixture {
  std::shared_ptr<const Jwks> keys;
  VerifierConfig config;
  CacheKeySettings key_settings;

  Fixture() {
    if (Jwks::parse(kJwks, keys) != Status::kOk) __builtin_trap();
    std::string error;
    for (const char* p : {"http://kc/realms/tenant-*", "http://kc/realms/platform"}) {
      IssuerPattern pattern;
      if (!IssuerPattern::parse(p, pattern, error)) __builtin_trap();
      config.issuers.push_back(pattern);
    }
    config.claims.audiences = {"svc"};
    config.role_clients = {"svc"};
    key_settings = cache_key_settings(config.fingerprint()).value();
  }
};

void run(const Fixture& f, std::string_view token) {
  InspectedToken t;
  if (inspect_token(token, f.config, t) != Status::kOk) return;
  Identity id;
  verify_token(t, *f.keys, f.config, kNow, id);
  // No fuzzer forges a signature: drive the claim and identity rules directly.
  if (check_claims(t.jwt.payload.root(), f.config.claims, kNow) == Status::kOk) {
    extract_identity(t.jwt.payload.root(), t.match, t.issuer, f.config.role_clients, id);
    join_roles(id.roles);
  }
  token_cache_key(f.key_settings, token);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Fixture fixture;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  run(fixture, input);

  size_t nl = input.find('\n');
  if (nl != std::string_view::npos) {
    std::string token = base64url_encode(input.substr(0, nl)) + "." +
                        base64url_encode(input.substr(nl + 1)) + ".c2ln";
    run(fixture, token);
  }
  return 0;
}
