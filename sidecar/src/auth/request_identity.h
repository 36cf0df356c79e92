// Defence in depth: nginx's module already verified the bearer token, the
// sidecar verifies it again with the same core library before anything
// governed happens, and builds the policy Actor from the verified identity
// (never from X-Tenant-Id / X-Actor-* headers).
//
//   RequestAuthenticator auth(config);
//   AuthOutcome a = auth.authenticate(request.header("authorization"));
//   if (!a.ok) return unauthorized(a.status);
//
// JWKS: an in-process cache per issuer with a TTL, filled through
// obtain_jwks (Redis tier shared with nginx, then HTTP). An unknown kid
// refetches once per issuer per `refetch_interval` (key rotation).
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
#include "verifier.h"

namespace realm_sidecar {

// What the tenant store says about the tenant a verified token names
// (PostgreSQL is the source of truth; the module reads Redis).
enum class TenantLiveness {
  kActive,
  kDisabled,     // disabled, or being deleted
  kGone,         // no such tenant (deleted, never finished, or never created)
  kUnavailable,  // the store could not be asked: refuse, 503
};
// Maps a tenant row's status (or "" for no row) to its liveness.
TenantLiveness liveness_of_status(const std::string& status);

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
  // Liveness of a tenant by id; called for every verified tenant token.
  // Null = every tenant counts as active (tests of the token checks only).
  using TenantLookup = std::function<TenantLiveness(const std::string& tenant_id)>;

  explicit RequestAuthenticator(AuthConfig config, Fetch fetch = nullptr,
                                TenantLookup tenants = nullptr);

  // `authorization` is the raw Authorization header value.
  AuthOutcome authenticate(const std::string& authorization);

 private:
  struct Entry {
    std::shared_ptr<const realm_auth::Jwks> keys;
    std::chrono::steady_clock::time_point expires;
    std::chrono::steady_clock::time_point fetched;
  };
  // Cached keys, or fresh ones when absent/expired/forced. Null on failure.
  std::shared_ptr<const realm_auth::Jwks> keys_for(const std::string& issuer, bool force,
                                                   realm_auth::Status& why);

  AuthConfig config_;
  Fetch fetch_;
  TenantLookup tenants_;
  std::mutex mu_;
  std::map<std::string, Entry> cache_;
};

}  // namespace realm_sidecar
