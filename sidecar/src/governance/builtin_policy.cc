// Built-in authorization rules; see builtin_policy.h for the checklist and
// conf/policy/realm_auth.rego for the same rules in Rego. Reasons are part
// of the contract (ledger, 403 detail, the OPA parity test): change them in
// both places.
#include "builtin_policy.h"

#include <algorithm>

namespace realm_sidecar {

namespace {

constexpr const char kPlatformRealm[] = "platform";
constexpr const char kPlatformAdmin[] = "platform_admin";

struct ActionRule {
  const char* action;
  const char* resource_type;
  bool one_tenant;                        // resource.tenant_id required
  std::vector<std::string> tenant_roles;  // roles that count in the actor's own tenant
  // A tenant actor must name its own tenant in resource.tenant_id: no
  // empty (all tenants) scope below platform_admin (audit.read).
  bool tenant_roles_need_tenant_id = false;
};

const std::vector<ActionRule>& rules() {
  static const std::vector<ActionRule> table = {
      {"tenant.create", "tenant", false, {}},
      {"tenant.read", "tenant", true, {"tenant_admin", "auditor"}},
      {"tenant.list", "tenant", false, {"tenant_admin", "auditor"}},
      {"tenant.update", "tenant", true, {}},
      {"tenant.delete", "tenant", true, {}},
      {"secret.rotate", "secret", true, {}},
      {"user.create", "user", true, {"tenant_admin"}},
      {"user.read", "user", true, {"tenant_admin", "auditor"}},
      // A user's life after creation: the tenant's own administrator
      // manages its own realm's users; auditors only read them.
      {"user.update", "user", true, {"tenant_admin"}},
      {"user.delete", "user", true, {"tenant_admin"}},
      {"user.password.reset", "user", true, {"tenant_admin"}},
      {"user.sessions.revoke", "user", true, {"tenant_admin"}},
      {"tenant.sessions.revoke", "tenant", true, {"tenant_admin"}},
      {"audit.read", "audit", false, {"auditor"}, true},
      // Signing keys (docs/GOVERNANCE.md §2): reading them (public in the
      // JWKS anyway) is the tenant's too; changing them is platform_admin's.
      {"key.read", "key", true, {"tenant_admin", "auditor"}},
      {"key.rotate", "key", true, {}},
      {"key.retire", "key", true, {}},
  };
  return table;
}

const ActionRule* find_rule(const std::string& action) {
  for (const auto& r : rules()) {
    if (action == r.action) return &r;
  }
  return nullptr;
}

// Only spaces and tabs (or nothing): X-Purpose: "   " is no purpose.
bool blank(const std::string& s) { return s.find_first_not_of(" \t") == std::string::npos; }

bool has_role(const Actor& actor, const std::string& role) {
  return std::find(actor.roles.begin(), actor.roles.end(), role) != actor.roles.end();
}

Decision deny(std::string reason) { return Decision{false, std::move(reason)}; }
Decision allow(std::string reason) { return Decision{true, std::move(reason)}; }

// " or tenant_admin/auditor of the same tenant"
std::string tenant_roles_text(const ActionRule& rule) {
  std::string s;
  for (const auto& role : rule.tenant_roles) {
    if (!s.empty()) s += "/";
    s += role;
  }
  return s;
}

// Appended to denials of an actor that holds platform_admin outside the
// platform realm, so the 403 says why the role did not count.
std::string platform_admin_hint(const Actor& actor) {
  if (has_role(actor, kPlatformAdmin) && actor.realm != kPlatformRealm) {
    return "; platform_admin counts only in realm platform";
  }
  return "";
}

}  // namespace

const std::vector<std::string>& known_actions() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const auto& r : rules()) v.emplace_back(r.action);
    return v;
  }();
  return names;
}

std::string resource_type_for(const std::string& action) {
  const ActionRule* rule = find_rule(action);
  return rule ? rule->resource_type : "";
}

Decision builtin_decide(const AuthorizeRequest& req) {
  const Actor& actor = req.actor;
  if (actor.actor_id.empty()) return deny("no authenticated actor");
  const ActionRule* rule = find_rule(req.action);
  if (!rule) return deny("unknown action '" + req.action + "'");
  if (blank(req.purpose)) return deny("missing purpose (X-Purpose is required)");
  if (req.resource.type != rule->resource_type) {
    return deny("resource type '" + req.resource.type + "' does not fit action " + req.action +
                " (expected '" + rule->resource_type + "')");
  }
  if (rule->one_tenant && req.resource.tenant_id.empty()) {
    return deny(req.action + " needs resource.tenant_id");
  }
  if (actor.realm == kPlatformRealm && has_role(actor, kPlatformAdmin)) {
    return allow("platform_admin of realm platform");
  }
  const std::string hint = platform_admin_hint(actor);
  if (rule->tenant_roles.empty()) {
    return deny(req.action + " requires platform_admin of realm platform" + hint);
  }
  const std::string needs = req.action + " requires platform_admin of realm platform or " +
                            tenant_roles_text(*rule) + " of the same tenant";
  if (actor.tenant_id.empty() || actor.realm != "tenant-" + actor.tenant_id) {
    return deny(needs + hint);
  }
  if (!req.resource.tenant_id.empty() && req.resource.tenant_id != actor.tenant_id) {
    return deny("actor of tenant " + actor.tenant_id + " may not act on tenant " +
                req.resource.tenant_id);
  }
  if (rule->tenant_roles_need_tenant_id && req.resource.tenant_id.empty()) {
    return deny(req.action + " of all tenants requires platform_admin of realm platform" + hint);
  }
  for (const auto& role : rule->tenant_roles) {
    if (!has_role(actor, role)) continue;
    if (req.action == "tenant.list") {
      return allow("scoped to own tenant " + actor.tenant_id + " (" + role + ")");
    }
    return allow(role + " of tenant " + actor.tenant_id);
  }
  return deny(needs + hint);
}

namespace {

class BuiltinPolicy final : public PolicyDecisionPoint {
 public:
  Decision authorize(const AuthorizeRequest& request) override { return builtin_decide(request); }
};

}  // namespace

std::unique_ptr<PolicyDecisionPoint> make_builtin_policy() {
  return std::make_unique<BuiltinPolicy>();
}

}  // namespace realm_sidecar
