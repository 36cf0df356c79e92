// Defence in depth: nginx's module already verified the bearer token, the
// sidecar verifies it again with the same core library before anything
// governed happens, and builds the policy Actor from the verified identity
// (never from X-Tenant-Id / X-Actor-* headers).
//
//   RequestAuthenticator auth(config);
//   AuthOutcome a = auth.authenticate(request.header("authorization"));
//   if (!a.ok) return unauthorized(a.status);
//
// JWKS: an in-process cache per issuer and tenant incarnation with a TTL,
// filled through obtain_jwks (Redis tier shared with nginx, then HTTP). An
// unknown kid refetches at once, then at most once per entry per
// `refetch_interval` (key rotation; as nginx does).
//
// Tenant tokens (an issuer with a tenant slug) are checked against the
// tenant's record in PostgreSQL on every request (TenantLookup; one indexed
// read, the database down → 503): a deleted
// tenant (or a tombstoned slug) is refused as tenant_deleted before any key
// is fetched, a disabled one as tenant_disabled, one the sidecar does not
// know as tenant_unknown, and a token issued before the tenant's current
// incarnation began (a deleted realm whose slug came back) as
// tenant_deleted: core admit_tenant_token, the rule nginx applies too.
// The keys of a new incarnation never come from the old one's cache entry.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "governance/authorize.h"
#include "jwks.h"
#include "jwks_source.h"
#include "tenant_incarnation.h"
#include "verifier.h"

namespace realm_sidecar {

struct AuthConfig {
  // verifier.claims.audiences: at least one must be in `aud`. Never
  // unchecked here: with an empty list every token is refused
  // (config.cc's default is realm-sidecar).
  realm_auth::VerifierConfig verifier;
  realm_auth::JwksSourceConfig source;
  std::chrono::seconds jwks_ttl{300};
  std::chrono::seconds refetch_interval{30};
};

struct AuthOutcome {
  bool ok = false;
  bool token_presented = false;  // false → plain "WWW-Authenticate: Bearer"
  bool unavailable = false;      // a dependency (tenant store) failed: 503, not 401
  realm_auth::Status status = realm_auth::Status::kTokenMissing;
  std::string detail;  // client-safe text (status_description)
  Actor actor;
  std::string email;
};

// Patterns from strings (ALLOWED_ISSUERS); false with `error` naming the bad one.
bool parse_issuer_patterns(const std::vector<std::string>& texts,
                           std::vector<realm_auth::IssuerPattern>& out, std::string& error);

class RequestAuthenticator {
 public:
  // Fetches a JWKS document for an issuer; replaceable in tests.
  using Fetch = std::function<realm_auth::JwksFetchOutcome(const std::string& issuer, bool force)>;
  // The record of a tenant slug from PostgreSQL, the source of truth
  // (kAbsent when the sidecar does not know it); false when the database
  // could not be asked: the token is then refused with a 503 (fail closed,
  // AuthOutcome::unavailable).
  using TenantLookup =
      std::function<bool(const std::string& slug, realm_auth::TenantRecordValue& out)>;

  // Without `tenants`, tenant tokens are not checked against any record
  // (unit tests of the token checks alone).
  explicit RequestAuthenticator(AuthConfig config, Fetch fetch = nullptr,
                                TenantLookup tenants = nullptr);

  // `authorization` is the raw Authorization header value.
  AuthOutcome authenticate(const std::string& authorization);

  // Cached keys, or fresh ones when absent/expired/forced. Null on failure.
  // `incarnation` keys the entry with the issuer: a new incarnation of a
  // slug starts from an empty entry, and the entries of the issuer's other
  // incarnations are dropped when it is filled. Public for the other
  // tokens the sidecar verifies with the same keys (back-channel logout).
  std::shared_ptr<const realm_auth::Jwks> keys_for(const std::string& issuer,
                                                   const std::string& incarnation, bool force,
                                                   realm_auth::Status& why);

 private:
  struct Entry {
    std::shared_ptr<const realm_auth::Jwks> keys;
    std::chrono::steady_clock::time_point expires;
    // The last unknown-kid refetch (not the last fetch: a realm that rotates
    // right after a regular fetch must not wait refetch_interval).
    std::chrono::steady_clock::time_point refetched;
  };

  AuthConfig config_;
  Fetch fetch_;
  TenantLookup tenants_;
  std::mutex mu_;
  std::map<std::pair<std::string, std::string>, Entry> cache_;  // (issuer, incarnation)
};

}  // namespace realm_sidecar
