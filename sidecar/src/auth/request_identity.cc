#include "auth/request_identity.h"

#include <cstdio>
#include <ctime>
#include <iterator>
#include <utility>

#include "bearer.h"

namespace realm_sidecar {

using realm_auth::Status;

bool parse_issuer_patterns(const std::vector<std::string>& texts,
                           std::vector<realm_auth::IssuerPattern>& out, std::string& error) {
  out.clear();
  for (const auto& t : texts) {
    realm_auth::IssuerPattern p;
    std::string why;
    if (!realm_auth::IssuerPattern::parse(t, p, why)) {
      error = "ALLOWED_ISSUERS: " + t + ": " + why;
      return false;
    }
    out.push_back(std::move(p));
  }
  return true;
}

RequestAuthenticator::RequestAuthenticator(AuthConfig config, Fetch fetch, TenantLookup tenants)
    : config_(std::move(config)), fetch_(std::move(fetch)), tenants_(std::move(tenants)) {
  if (!fetch_) {
    realm_auth::JwksSourceConfig source = config_.source;
    fetch_ = [source](const std::string& issuer, bool force) {
      return realm_auth::obtain_jwks(issuer, force, source);
    };
  }
}

std::shared_ptr<const realm_auth::Jwks> RequestAuthenticator::keys_for(
    const std::string& issuer, const std::string& incarnation, bool force, Status& why) {
  const auto now = std::chrono::steady_clock::now();
  const auto key = std::make_pair(issuer, incarnation);
  std::chrono::steady_clock::time_point refetched{};  // never
  {
    std::lock_guard<std::mutex> g(mu_);
    auto it = cache_.find(key);
    if (it != cache_.end()) {
      bool fresh = now < it->second.expires;
      refetched = it->second.refetched;
      // Forced refetches (unknown kid) are rate-limited per issuer: a token
      // with a random kid must not turn into a fetch per request.
      bool may_refetch = refetched == std::chrono::steady_clock::time_point{} ||
                         now - refetched >= config_.refetch_interval;
      if ((fresh && !force) || (force && !may_refetch && fresh)) return it->second.keys;
    }
  }
  if (force) refetched = now;
  // Fetch outside the lock; two threads may fetch the same issuer at once,
  // which is harmless (obtain_jwks also single-flights through Redis).
  realm_auth::JwksFetchOutcome got = fetch_(issuer, force);
  // A forged, expired or oversized Redis entry (docs/REDIS_TRUST.md) was
  // ignored and the keys fetched from the issuer; fetches are per issuer
  // and TTL, never per request, so one line each is enough.
  if (got.redis_rejected) {
    std::fprintf(stderr, "realm-sidecar: ignored Redis entry %s\n", got.rejection.c_str());
  }
  std::shared_ptr<const realm_auth::Jwks> keys;
  if (got.status != Status::kOk || realm_auth::Jwks::parse(got.body, keys) != Status::kOk) {
    why = got.status != Status::kOk ? got.status : Status::kJwksMalformed;
    std::fprintf(stderr, "realm-sidecar: JWKS for %s unavailable: %s\n", issuer.c_str(),
                 got.error.c_str());
    return nullptr;  // fail closed: no stale keys past their TTL
  }
  std::lock_guard<std::mutex> g(mu_);
  // Another incarnation's keys of this issuer are dead: drop them.
  for (auto it = cache_.lower_bound({issuer, ""});
       it != cache_.end() && it->first.first == issuer;) {
    it = it->first.second != incarnation ? cache_.erase(it) : std::next(it);
  }
  cache_[key] = {keys, now + config_.jwks_ttl, refetched};
  return keys;
}

AuthOutcome RequestAuthenticator::authenticate(const std::string& authorization) {
  AuthOutcome out;
  // Core's rule (bearer.h), the one nginx applies.
  std::string_view token;
  Status s = realm_auth::bearer_credential(authorization, token);
  out.token_presented = s != Status::kTokenMissing;
  if (s == Status::kOk && config_.verifier.claims.audiences.empty()) {
    // The core library reads an empty list as "unchecked"; the sidecar
    // never runs that way (a token for any service would do).
    s = Status::kAudienceMismatch;
  }
  realm_auth::InspectedToken t;
  if (s == Status::kOk) s = realm_auth::inspect_token(token, config_.verifier, t);
  std::shared_ptr<const realm_auth::Jwks> keys;
  realm_auth::Identity id;
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  // A tenant token: its tenant's record first, so that a deleted tenant
  // costs no key fetch.
  realm_auth::TenantRecordValue tenant;
  const bool check_tenant = s == Status::kOk && !t.match.tenant_id.empty() && tenants_;
  if (check_tenant) {
    if (!tenants_(t.match.tenant_id, tenant)) {
      out.status = Status::kTenantUnknown;
      out.unavailable = true;  // 503: the request is refused, not the token
      out.detail = "the tenant store is unavailable; the request was not performed";
      return out;
    }
    if (tenant.state == realm_auth::TenantRecord::kAbsent) {
      s = Status::kTenantUnknown;
    } else if (tenant.state != realm_auth::TenantRecord::kActive) {
      s = realm_auth::admit_tenant_token(tenant, 0);
    }
  }
  if (s == Status::kOk) {
    keys = keys_for(t.issuer, tenant.incarnation_id, false, s);
    if (keys) s = Status::kOk;
  }
  if (s == Status::kOk) {
    s = realm_auth::verify_token(t, *keys, config_.verifier, now, id);
    if (s == Status::kKeyNotFound) {
      // The realm may have rotated its keys since we cached them.
      Status why = Status::kOk;
      keys = keys_for(t.issuer, tenant.incarnation_id, true, why);
      s = keys ? realm_auth::verify_token(t, *keys, config_.verifier, now, id) : why;
    }
  }
  // Tenant state and incarnation, as nginx honours them: a disabled or
  // deleted tenant's still-valid tokens, and those of an earlier
  // incarnation, are refused here too, whoever reaches the sidecar.
  if (s == Status::kOk && check_tenant) s = realm_auth::admit_tenant_token(tenant, id.iat);
  if (check_tenant) s = realm_auth::unverified_refusal(s, tenant, realm_auth::claimed_iat(t));
  // Sender-constrained tokens (core sender_binding.h): the sidecar takes
  // Bearer only and sees no client certificate, so a DPoP- or
  // certificate-bound token is refused here, as nginx refuses it as Bearer.
  if (s == Status::kOk) {
    s = realm_auth::check_sender_binding(id.cnf, realm_auth::Presentation{}, false);
  }
  out.status = s;
  if (s != Status::kOk) {
    out.detail = realm_auth::status_description(s);
    return out;
  }
  out.ok = true;
  out.actor.actor_id = id.actor_id;
  out.actor.tenant_id = id.tenant_id;
  out.actor.realm = id.realm;
  out.actor.roles = id.roles;
  out.actor.username = id.username;
  out.actor.department_id = id.department_id;
  out.actor.tenant_incarnation = tenant.incarnation_id;
  out.email = id.email;
  return out;
}

}  // namespace realm_sidecar
