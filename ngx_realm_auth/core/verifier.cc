#include "verifier.h"

#include "header_value.h"
#include "signature.h"

namespace realm_auth {

namespace {

// Length-prefixed, so no value can imitate a separator: "2:ab" vs "1:a1:b".
void append_field(std::string& out, std::string_view value) {
  out += std::to_string(value.size());
  out += ':';
  out.append(value.data(), value.size());
}

void append_list(std::string& out, const char* name, const std::vector<std::string>& values) {
  out += name;
  out += '=';
  for (const std::string& v : values) append_field(out, v);
  out += '\n';
}

}  // namespace

std::string VerifierConfig::fingerprint() const {
  std::string out = "realm_auth/1\n";
  std::vector<std::string> issuer_texts;
  issuer_texts.reserve(issuers.size());
  for (const IssuerPattern& p : issuers) issuer_texts.push_back(p.text());
  append_list(out, "issuers", issuer_texts);
  append_list(out, "audiences", claims.audiences);
  out += "leeway=" + std::to_string(claims.leeway_s) + '\n';
  out += "algorithms=";
  for (unsigned i = 0; i < static_cast<unsigned>(Alg::kCount); ++i) {
    if (algorithms & alg_bit(static_cast<Alg>(i))) {
      out += alg_name(static_cast<Alg>(i));
      out += ',';
    }
  }
  out += "\nmax_token_size=" + std::to_string(limits.max_token_size);
  out += "\nmax_depth=" + std::to_string(limits.max_depth) + '\n';
  append_list(out, "role_clients", role_clients);
  return out;
}

Status inspect_token(std::string_view token, const VerifierConfig& config, InspectedToken& out) {
  Status s = parse_jwt(token, config.limits, config.algorithms, out.jwt);
  if (s != Status::kOk) return s;
  std::string_view iss = out.jwt.payload.root().get("iss").string();
  if (iss.empty()) return Status::kIssuerMissing;
  // Checked before any key lookup: an unknown issuer never causes a fetch.
  if (!match_issuer(config.issuers, iss, out.match)) return Status::kIssuerNotAllowed;
  out.issuer.assign(iss);
  return Status::kOk;
}

int64_t claimed_iat(const InspectedToken& t) {
  FlatJson::Value iat = t.jwt.payload.root().get("iat");
  if (!iat.is_number()) return 0;
  double v = iat.number();
  // Out-of-range doubles cannot be cast: anything absurd counts as absent.
  return v > 0 && v < 1e12 ? static_cast<int64_t>(v) : 0;
}

Status verify_jws(const Jwt& jwt, const Jwks& keys, AlgSet algorithms) {
  // Cheap guard against a token parsed under a wider algorithm list.
  if ((algorithms & alg_bit(jwt.alg)) == 0) return Status::kAlgNotAllowed;

  Status s;
  const Jwk* key = keys.select(jwt.kid, jwt.alg, s);
  if (key == nullptr) return s;
  // The prepared verifier (made at Jwks::parse) skips OpenSSL's per-call
  // algorithm lookup; it gives the same answers, and EdDSA keys or keys whose
  // preparation failed have none and take the one-shot path.
  const PreparedVerifier* prepared = key->verifier(jwt.alg);
  const bool valid =
      prepared != nullptr
          ? prepared->verify(jwt.signing_input, jwt.signature, &jwt.signing_input_sha256)
          : verify_signature(jwt.alg, key->key.get(), jwt.signing_input, jwt.signature);
  return valid ? Status::kOk : Status::kSignatureInvalid;
}

Status verify_token(const InspectedToken& t, const Jwks& keys, const VerifierConfig& config,
                    int64_t now, Identity& out) {
  Status s = verify_jws(t.jwt, keys, config.algorithms);
  if (s != Status::kOk) return s;
  s = check_claims(t.jwt.payload.root(), config.claims, now);
  if (s != Status::kOk) return s;
  // Any string of the token may end up in a header or an nginx variable
  // ($jwt_claim_*, $jwt_header_*, identity headers): one control byte
  // anywhere, member names included, refuses the token (header_value.h).
  if (!header_safe(t.jwt.header.all_strings()) || !header_safe(t.jwt.payload.all_strings())) {
    return Status::kClaimInvalid;
  }
  s = extract_identity(t.jwt.payload.root(), t.match, t.issuer, config.role_clients, out);
  out.key_id = t.jwt.kid;
  if (s != Status::kOk) return s;
  return read_confirmation(t.jwt.payload.root(), out.cnf);
}

}  // namespace realm_auth
