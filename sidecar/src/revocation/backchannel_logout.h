// POST /backchannel-logout/{tenant_id}: OpenID Connect Back-Channel Logout
// 1.0 (§2.5-2.8) for tenant realms. Keycloak POSTs
// `logout_token=<JWT>` (form-encoded) through nginx, with no bearer token:
// the logout token itself is the credential.
//
//   body → inspect (core logout_token.h: typ, iss a tenant realm) → the
//   path's tenant is the token's → the tenant exists and is active
//   (PostgreSQL) → that realm's keys (the sidecar's JWKS cache) → verify
//   (signature, aud, iat window, events, sid/sub, no nonce, jti) → the
//   tenant incarnation issued it → claim the jti (replay cache shared by
//   every sidecar) → ledger REQUEST → publish kSession(T, sid), or kUser(T,
//   sub) without sid → ledger SESSIONS_REVOKED → 200 (Cache-Control: no-store, as on every
//   response of the server).
//
// A bad logout token is a 400 problem+json naming the rule it broke and
// changes nothing (no row, no record). A dependency that fails (database,
// keys, ledger, publisher) is a 503 and releases the jti, so a retry can
// pass. The policy is not asked: the realm that issued the session ends
// it, and a policy that could refuse would keep alive what the IdP ended.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "auth/request_identity.h"
#include "governance/audit_ledger.h"
#include "http/message.h"
#include "logout_token.h"
#include "revocation/revocation_publisher.h"
#include "store/pg.h"

namespace realm_sidecar {

// Logout token ids already used, per issuer, until `expires_at` (seconds).
class JtiCache {
 public:
  enum class Claim { kNew, kSeen, kError };
  virtual ~JtiCache() = default;
  virtual Claim claim(const std::string& issuer, const std::string& jti, int64_t expires_at) = 0;
  // Undoes a claim whose logout could not be carried out.
  virtual void release(const std::string& issuer, const std::string& jti) = 0;
};

// The table logout_token_jtis (migration 0004), shared by every sidecar;
// the publisher's background pass deletes expired rows.
class PgJtiCache : public JtiCache {
 public:
  explicit PgJtiCache(PgPool& pg) : pg_(pg) {}
  Claim claim(const std::string& issuer, const std::string& jti, int64_t expires_at) override;
  void release(const std::string& issuer, const std::string& jti) override;

 private:
  PgPool& pg_;
};

struct BackchannelDeps {
  RequestAuthenticator& keys;  // the sidecar's JWKS cache and source
  RequestAuthenticator::TenantLookup tenants;
  JtiCache& jtis;
  RevocationPublisher& revocations;
  AuditLedger& ledger;
  std::function<int64_t()> clock;  // seconds; null = time()
};

class BackchannelLogout {
 public:
  BackchannelLogout(realm_auth::LogoutTokenRules rules, BackchannelDeps deps)
      : rules_(std::move(rules)), deps_(std::move(deps)) {}

  // `tenant_id` is the path's (already a valid slug).
  HttpResponse handle(const HttpRequest& req, const std::string& tenant_id);

  const realm_auth::LogoutTokenRules& rules() const { return rules_; }

 private:
  realm_auth::LogoutTokenRules rules_;
  BackchannelDeps deps_;
};

// The one logout_token of an application/x-www-form-urlencoded body,
// percent-decoded. False with `error` (missing, repeated, empty, bad escape).
bool form_logout_token(const std::string& body, std::string& out, std::string& error);

}  // namespace realm_sidecar
