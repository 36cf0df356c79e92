// Policy decisions for governed operations: AuthorizeRequest → Decision.
// The contract is docs/IDENTITY_CONTRACT.md ("AuthorizeRequest"). Two
// implementations: built-in rules (default) and an external policy service
// spoken to in Open Policy Agent's data API shape. Both fail closed: any
// doubt is a deny with a reason.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace realm_sidecar {

struct Actor {
  std::string actor_id;   // sub
  std::string tenant_id;  // slug of the issuer's realm; empty for the platform realm
  std::string realm;      // "platform" or "tenant-<slug>"
  std::vector<std::string> roles;
  std::string username;
  std::string department_id;
  // The incarnation of tenant_id that issued the token (verified against
  // the tenants table); empty for the platform realm. Not sent to policy.
  std::string tenant_incarnation;
};

struct Resource {
  std::string type;       // "tenant", "user", "secret", "audit", "key"
  std::string tenant_id;  // the tenant acted on; empty for tenant.list and for
                          // audit.read of the whole ledger
  std::string id;         // user id, client id, kid …; may be empty
};

struct AuthorizeRequest {
  Actor actor;
  std::string action;  // tenant.create, tenant.read, tenant.list, tenant.update, tenant.delete,
                       // user.create, user.read, user.update, user.delete,
                       // user.password.reset, user.sessions.revoke,
                       // tenant.sessions.revoke, secret.rotate, audit.read,
                       // key.read, key.rotate, key.retire
  Resource resource;
  std::string purpose;  // X-Purpose
  std::string request_id;
  std::string client_ip;
};

struct Decision {
  bool allow = false;
  std::string reason;  // always set, allow or deny; goes to the ledger and 403 detail
};

class PolicyDecisionPoint {
 public:
  virtual ~PolicyDecisionPoint() = default;
  // Never throws; transport or format problems are a deny with a reason.
  virtual Decision authorize(const AuthorizeRequest& request) = 0;
  // Readiness (GET /readyz): does the decision point answer in its
  // contract's shape right now? Built-in rules always do; a policy service
  // is asked a fixed probe question, and any answer that would have been a
  // fail-closed deny (unreachable, slow, not 200, malformed) is false with
  // that reason in `why`. The decision itself (allow or deny) does not matter.
  virtual bool answers(std::string& why) {
    why.clear();
    return true;
  }
};

// Built-in rules implementing DESIGN.md's table.
std::unique_ptr<PolicyDecisionPoint> make_builtin_policy();

// POST {"input": AuthorizeRequest} to `url` (OPA data API, e.g.
// http://127.0.0.1:8181/v1/data/realm_auth/decision) → {"result":{"allow":…,"reason":…}}.
std::unique_ptr<PolicyDecisionPoint> make_remote_policy(std::string url, long timeout_ms);

// JSON of the request as sent to a policy service and written to the ledger.
std::string authorize_request_json(const AuthorizeRequest& request);

}  // namespace realm_sidecar
