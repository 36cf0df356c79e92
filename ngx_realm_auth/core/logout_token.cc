#include "logout_token.h"

#include "header_value.h"
#include "revocation_record.h"
#include "verifier.h"

namespace realm_auth {

namespace {

// sid, sub and jti end up in revocation records (space-separated text,
// revocation_record.h: its subject rule), ledger rows and logs: printable
// ASCII without space, bounded. Keycloak's are UUIDs or base64url-like.
constexpr size_t kMaxIdentifier = kMaxRevocationSubject;

bool plain_identifier(std::string_view v) {
  if (v.empty() || v.size() > kMaxIdentifier) return false;
  for (char c : v) {
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

LogoutResult refuse(LogoutCheck c) { return LogoutResult{c, Status::kOk}; }
LogoutResult refuse(Status s) {
  // The token library's typ rule, told apart: it is the logout token's own.
  if (s == Status::kTypNotAllowed) return refuse(LogoutCheck::kTypNotLogout);
  return LogoutResult{LogoutCheck::kToken, s};
}

// The configured audience aud names; empty when none (or aud malformed).
std::string matched_audience(FlatJson::Value aud, const std::vector<std::string>& audiences) {
  auto configured = [&](std::string_view v) -> const std::string* {
    for (const std::string& a : audiences) {
      if (v == a) return &a;
    }
    return nullptr;
  };
  if (aud.is_string()) {
    const std::string* a = configured(aud.string());
    return a != nullptr ? *a : std::string();
  }
  if (!aud.is_array()) return {};
  const std::string* found = nullptr;
  for (FlatJson::Value v = aud.first(); v.present(); v = v.next()) {
    if (!v.is_string()) return {};  // a malformed list is no list
    if (found == nullptr) found = configured(v.string());
  }
  return found != nullptr ? *found : std::string();
}

// An optional identifier claim: absent is fine, present must be plain.
bool optional_identifier(FlatJson::Value v, std::string& out) {
  if (!v.present()) return true;
  if (!v.is_string() || !plain_identifier(v.string())) return false;
  out.assign(v.string());
  return true;
}

}  // namespace

LogoutResult inspect_logout_token(std::string_view token, const LogoutTokenRules& rules,
                                  InspectedLogoutToken& out) {
  Status s = parse_jwt(token, rules.limits, rules.algorithms, out.jwt, JwtUse::kLogout);
  if (s != Status::kOk) return refuse(s);
  FlatJson::Value iss = out.jwt.payload.root().get("iss");
  if (!iss.is_string() || iss.string().empty()) return refuse(LogoutCheck::kIssuerMissing);
  // Before any key lookup: an unknown issuer never causes a fetch. Only a
  // tenant realm (a wildcard pattern's slug) may end sessions here.
  if (!match_issuer(rules.issuers, iss.string(), out.match) || out.match.tenant_id.empty()) {
    return refuse(LogoutCheck::kIssuerNotAllowed);
  }
  out.issuer.assign(iss.string());
  return LogoutResult{};
}

LogoutResult verify_logout_token(const InspectedLogoutToken& t, const Jwks& keys,
                                 const LogoutTokenRules& rules, int64_t now, LogoutClaims& out) {
  if (t.match.tenant_id.empty()) return refuse(LogoutCheck::kIssuerNotAllowed);
  Status s = verify_jws(t.jwt, keys, rules.algorithms);
  if (s != Status::kOk) return refuse(s);

  const FlatJson::Value p = t.jwt.payload.root();
  out = LogoutClaims{};
  out.client = matched_audience(p.get("aud"), rules.audiences);
  if (out.client.empty()) return refuse(LogoutCheck::kAudienceMismatch);

  FlatJson::Value iat = p.get("iat");
  // Out-of-range doubles cannot be cast: bound first.
  if (!iat.is_number() || !(iat.number() > 0 && iat.number() < 1e12)) {
    return refuse(LogoutCheck::kIatInvalid);
  }
  out.iat = static_cast<int64_t>(iat.number());
  if (out.iat < now - rules.max_age_s || out.iat > now + rules.leeway_s) {
    return refuse(LogoutCheck::kIatOutOfWindow);
  }
  FlatJson::Value exp = p.get("exp");
  if (exp.present()) {
    if (!exp.is_number() || !(static_cast<double>(now) < exp.number() + rules.leeway_s)) {
      return refuse(LogoutCheck::kExpired);
    }
    out.exp = exp.number() < 1e12 ? static_cast<int64_t>(exp.number()) : 0;
  }

  FlatJson::Value event = p.get("events").get(kBackchannelLogoutEvent);
  if (!p.get("events").is_object() || !event.is_object()) {
    return refuse(LogoutCheck::kEventMissing);
  }
  if (!p.get("sid").present() && !p.get("sub").present()) {
    return refuse(LogoutCheck::kSubjectMissing);
  }
  if (!optional_identifier(p.get("sid"), out.sid) || !optional_identifier(p.get("sub"), out.sub)) {
    return refuse(LogoutCheck::kSubjectInvalid);
  }
  // An ID token carries a nonce; a logout token never does (§2.4), so an
  // ID token relabelled as a logout token still fails here.
  if (p.get("nonce").present()) return refuse(LogoutCheck::kNoncePresent);
  FlatJson::Value jti = p.get("jti");
  if (!jti.is_string() || !plain_identifier(jti.string())) return refuse(LogoutCheck::kJtiMissing);
  out.jti.assign(jti.string());
  if (!header_safe(t.jwt.header.all_strings()) || !header_safe(t.jwt.payload.all_strings())) {
    return refuse(LogoutCheck::kClaimInvalid);
  }
  out.issuer = t.issuer;
  out.tenant_id = t.match.tenant_id;
  out.realm = t.match.realm;
  return LogoutResult{};
}

std::string logout_result_name(const LogoutResult& r) {
  switch (r.check) {
    case LogoutCheck::kOk:
      return "ok";
    case LogoutCheck::kToken:
      return status_name(r.status);
    case LogoutCheck::kTypNotLogout:
      return "typ_not_logout";
    case LogoutCheck::kIssuerMissing:
      return "issuer_missing";
    case LogoutCheck::kIssuerNotAllowed:
      return "issuer_not_allowed";
    case LogoutCheck::kAudienceMismatch:
      return "audience_mismatch";
    case LogoutCheck::kIatInvalid:
      return "iat_invalid";
    case LogoutCheck::kIatOutOfWindow:
      return "iat_out_of_window";
    case LogoutCheck::kExpired:
      return "expired";
    case LogoutCheck::kEventMissing:
      return "event_missing";
    case LogoutCheck::kSubjectMissing:
      return "subject_missing";
    case LogoutCheck::kSubjectInvalid:
      return "subject_invalid";
    case LogoutCheck::kNoncePresent:
      return "nonce_present";
    case LogoutCheck::kJtiMissing:
      return "jti_missing";
    case LogoutCheck::kClaimInvalid:
      return "claim_invalid";
  }
  return "unknown";
}

std::string logout_result_detail(const LogoutResult& r, const LogoutTokenRules& rules) {
  const std::string head = "logout token refused: ";
  switch (r.check) {
    case LogoutCheck::kOk:
      return "ok";
    case LogoutCheck::kToken:
      return head + status_description(r.status);
    case LogoutCheck::kTypNotLogout:
      return head + "typ must be logout+jwt (header) and, when present, Logout (claim)";
    case LogoutCheck::kIssuerMissing:
      return head + "iss missing";
    case LogoutCheck::kIssuerNotAllowed:
      return head + "iss is not a tenant realm of this platform";
    case LogoutCheck::kAudienceMismatch:
      return head + "aud does not name a client provisioned with back-channel logout";
    case LogoutCheck::kIatInvalid:
      return head + "iat missing or not a number";
    case LogoutCheck::kIatOutOfWindow:
      return head + "iat outside the accepted window (" + std::to_string(rules.max_age_s) +
             " s old, " + std::to_string(rules.leeway_s) + " s ahead)";
    case LogoutCheck::kExpired:
      return head + "exp in the past";
    case LogoutCheck::kEventMissing:
      return head + "events must hold " + kBackchannelLogoutEvent + " as an object";
    case LogoutCheck::kSubjectMissing:
      return head + "sid or sub required";
    case LogoutCheck::kSubjectInvalid:
      return head + "sid and sub must be non-empty identifiers of at most 255 printable bytes";
    case LogoutCheck::kNoncePresent:
      return head + "nonce is not allowed in a logout token";
    case LogoutCheck::kJtiMissing:
      return head + "jti required (a non-empty identifier of at most 255 printable bytes)";
    case LogoutCheck::kClaimInvalid:
      return head + "control bytes in the token";
  }
  return head + "unknown reason";
}

}  // namespace realm_auth
