#include "revocation/backchannel_logout.h"

#include <cctype>
#include <cstdio>
#include <ctime>

#include "http/problem.h"
#include "tenant_incarnation.h"
#include "util/json_helpers.h"

namespace realm_sidecar {

using realm_auth::LogoutResult;
using realm_auth::RevocationKind;
using realm_auth::Status;

namespace {

constexpr char kAction[] = "session.logout";
constexpr char kPurpose[] = "OpenID Connect back-channel logout from the tenant realm";
constexpr char kField[] = "logout_token";

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool form_decode(const std::string& in, std::string& out) {
  out.clear();
  for (size_t i = 0; i < in.size(); i++) {
    if (in[i] == '+') {
      out += ' ';
    } else if (in[i] == '%') {
      if (i + 2 >= in.size()) return false;
      const int hi = hex_value(in[i + 1]);
      const int lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += in[i];
    }
  }
  return true;
}

bool form_content_type(const std::string& value) {
  std::string v = value.substr(0, value.find(';'));
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.pop_back();
  for (char& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return v == "application/x-www-form-urlencoded";
}

HttpResponse bad_token(const HttpRequest& req, const std::string& tenant, const std::string& why,
                       const std::string& detail) {
  // One line per refusal, no token: nginx's limit_req bounds the rate.
  std::fprintf(stderr, "realm-sidecar: back-channel logout refused: %s tenant=%s request_id=%s\n",
               why.c_str(), tenant.c_str(), req.request_id.c_str());
  return problem(400, detail, kField, req.request_id);
}

HttpResponse unavailable(const HttpRequest& req, const std::string& detail,
                         const std::string& log) {
  std::fprintf(stderr, "realm-sidecar: back-channel logout: 503 %s request_id=%s\n", log.c_str(),
               req.request_id.c_str());
  return problem(503, detail, "", req.request_id);
}

AuditEvent event(const char* type, const HttpRequest& req, const realm_auth::LogoutClaims& c) {
  AuditEvent e;
  e.event_type = type;
  e.request_id = req.request_id;
  // The realm acts: no person or client of ours authenticated, the
  // tenant's realm signed the logout token.
  e.actor_id = c.realm;
  e.actor_realm = c.realm;
  e.tenant_id = c.tenant_id;
  e.action = kAction;
  e.purpose = kPurpose;
  return e;
}

}  // namespace

bool form_logout_token(const std::string& body, std::string& out, std::string& error) {
  bool found = false;
  size_t pos = 0;
  while (pos <= body.size()) {
    size_t amp = body.find('&', pos);
    if (amp == std::string::npos) amp = body.size();
    const std::string pair = body.substr(pos, amp - pos);
    const size_t eq = pair.find('=');
    if (pair.substr(0, eq) == kField) {
      if (found) {
        error = "logout_token given more than once";
        return false;
      }
      found = true;
      if (eq == std::string::npos || !form_decode(pair.substr(eq + 1), out)) {
        error = "logout_token is not form-encoded";
        return false;
      }
    }
    pos = amp + 1;
  }
  if (!found || out.empty()) {
    error = "logout_token required (application/x-www-form-urlencoded body)";
    return false;
  }
  return true;
}

JtiCache::Claim PgJtiCache::claim(const std::string& issuer, const std::string& jti,
                                  int64_t expires_at) {
  PgSession s = pg_.acquire();
  if (!s.healthy()) return Claim::kError;
  PgResult r = s.exec(
      "INSERT INTO logout_token_jtis (issuer, jti, expires_at) VALUES ($1, $2, $3)"
      " ON CONFLICT (issuer, jti) DO NOTHING",
      {issuer, jti, std::to_string(expires_at)});
  if (!r.ok) return Claim::kError;
  return std::string(PQcmdTuples(r.res.get())) == "1" ? Claim::kNew : Claim::kSeen;
}

void PgJtiCache::release(const std::string& issuer, const std::string& jti) {
  PgSession s = pg_.acquire();
  if (s.healthy()) {
    s.exec("DELETE FROM logout_token_jtis WHERE issuer = $1 AND jti = $2", {issuer, jti});
  }
}

HttpResponse BackchannelLogout::handle(const HttpRequest& req, const std::string& tenant_id) {
  std::string token, error;
  if (!form_content_type(req.header("content-type"))) {
    return problem(400, "the body must be application/x-www-form-urlencoded", "Content-Type",
                   req.request_id);
  }
  if (!form_logout_token(req.body, token, error)) {
    return bad_token(req, tenant_id, "no_logout_token", error);
  }
  const int64_t now = deps_.clock ? deps_.clock() : static_cast<int64_t>(std::time(nullptr));

  realm_auth::InspectedLogoutToken t;
  LogoutResult r = realm_auth::inspect_logout_token(token, rules_, t);
  if (!r.ok()) {
    return bad_token(req, tenant_id, realm_auth::logout_result_name(r),
                     realm_auth::logout_result_detail(r, rules_));
  }
  // Each tenant's client names its own endpoint: a realm cannot end
  // sessions through another tenant's.
  if (t.match.tenant_id != tenant_id) {
    return bad_token(req, tenant_id, "tenant_mismatch",
                     "logout token refused: iss is not the realm of tenant '" + tenant_id + "'");
  }
  // Before any key is fetched: the tenant exists and is active here.
  realm_auth::TenantRecordValue tenant;
  if (!deps_.tenants || !deps_.tenants(tenant_id, tenant)) {
    return unavailable(req, "the tenant store is unavailable; nobody was logged out",
                       "tenant lookup failed");
  }
  if (tenant.state != realm_auth::TenantRecord::kActive) {
    return bad_token(req, tenant_id, "tenant_not_active",
                     "logout token refused: tenant '" + tenant_id + "' is " +
                         (tenant.state == realm_auth::TenantRecord::kAbsent
                              ? std::string("unknown")
                              : realm_auth::tenant_state_name(tenant.state)));
  }
  Status why = Status::kOk;
  auto keys = deps_.keys.keys_for(t.issuer, tenant.incarnation_id, false, why);
  if (!keys) {
    return unavailable(req, "the realm's signing keys cannot be obtained now; retry later",
                       std::string("keys: ") + realm_auth::status_name(why));
  }
  realm_auth::LogoutClaims c;
  r = realm_auth::verify_logout_token(t, *keys, rules_, now, c);
  if (r.check == realm_auth::LogoutCheck::kToken && r.status == Status::kKeyNotFound) {
    // The realm may have rotated its keys since we cached them (the
    // refetch is rate-limited per issuer inside keys_for).
    keys = deps_.keys.keys_for(t.issuer, tenant.incarnation_id, true, why);
    if (keys) r = realm_auth::verify_logout_token(t, *keys, rules_, now, c);
  }
  if (!r.ok()) {
    return bad_token(req, tenant_id, realm_auth::logout_result_name(r),
                     realm_auth::logout_result_detail(r, rules_));
  }
  // A logout token of an earlier life of this slug names sessions that
  // died with it.
  if (realm_auth::admit_tenant_token(tenant, c.iat) != Status::kOk) {
    return bad_token(
        req, tenant_id, "earlier_incarnation",
        "logout token refused: issued by an earlier incarnation of tenant '" + tenant_id + "'");
  }

  // Past its iat window no copy of this token can pass again: the jti
  // needs keeping until then only.
  const int64_t jti_expires = c.iat + rules_.max_age_s + rules_.leeway_s + 1;
  switch (deps_.jtis.claim(c.issuer, c.jti, jti_expires)) {
    case JtiCache::Claim::kNew:
      break;
    case JtiCache::Claim::kSeen:
      return bad_token(req, tenant_id, "jti_replayed",
                       "logout token refused: jti already used (replay)");
    case JtiCache::Claim::kError:
      return unavailable(req, "the replay cache is unavailable; nobody was logged out",
                         "jti claim failed");
  }

  JsonPtr req_details(json_object());
  json_set(req_details.get(), "client", c.client);
  if (!c.sid.empty()) json_set(req_details.get(), "sid", c.sid);
  if (!c.sub.empty()) json_set(req_details.get(), "sub", c.sub);
  json_set(req_details.get(), "jti", c.jti);
  json_set(req_details.get(), "iat", static_cast<long long>(c.iat));
  AuditEvent request = event("REQUEST", req, c);
  request.details_json = json_text(req_details.get());
  if (!deps_.ledger.append(request)) {
    deps_.jtis.release(c.issuer, c.jti);
    return unavailable(req, "the audit ledger is unavailable; nobody was logged out",
                       "ledger REQUEST");
  }

  const bool by_session = !c.sid.empty();
  realm_auth::RevocationRecord rec =
      deps_.revocations.make(by_session ? RevocationKind::kSession : RevocationKind::kUser,
                             c.tenant_id, by_session ? c.sid : c.sub);
  if (!deps_.revocations.publish(rec, error)) {
    deps_.jtis.release(c.issuer, c.jti);
    AuditEvent failed = event("PROVISIONING_FAILED", req, c);
    failed.reason = "revocation not recorded: " + error;
    failed.details_json = request.details_json;
    deps_.ledger.append(failed);
    return unavailable(req, "the revocation could not be recorded; nobody was logged out",
                       "publish: " + error);
  }
  JsonPtr out(json_object());
  json_set(out.get(), "revoked", by_session ? "session" : "user");
  json_set(out.get(), "subject", rec.subject);
  if (by_session && !c.sub.empty()) json_set(out.get(), "sub", c.sub);
  json_set(out.get(), "client", c.client);
  json_set(out.get(), "not_before", static_cast<long long>(rec.not_before));
  json_set(out.get(), "expires", static_cast<long long>(rec.expires));
  AuditEvent done = event("SESSIONS_REVOKED", req, c);
  done.details_json = json_text(out.get());
  if (!deps_.ledger.append(done)) {
    // The revocation is promised and cannot be taken back: answer it, and
    // make the gap loud for operators.
    std::fprintf(stderr,
                 "realm-sidecar: AUDIT GAP: outcome SESSIONS_REVOKED of %s not recorded "
                 "request_id=%s\n",
                 kAction, req.request_id.c_str());
  }
  HttpResponse ok;
  ok.status = 200;
  ok.body = "{}";
  // §2.8 wants Cache-Control: no-store: the server sends it on every
  // response (http/server.cc), so it is not added twice here.
  return ok;
}

}  // namespace realm_sidecar
