// The built-in rules (DESIGN.md, "The sidecar" table), exposed for tests and
// for the CLI. conf/policy/realm_auth.rego states the same rules for Open
// Policy Agent; sidecar/tests/policy_matrix_test checks that both give the
// same decision for every actor × action × resource of a generated matrix.
//
// Evaluation is an ordered checklist; the first step that decides wins:
//   1. no actor_id                                  → deny
//   2. action not in known_actions()                → deny
//   3. purpose empty or only spaces/tabs            → deny
//   4. resource.type != resource_type_for(action)   → deny
//   5. action acts on one tenant, resource.tenant_id empty → deny
//   6. platform_admin role AND realm == "platform"  → allow
//   7. action has no tenant-level role              → deny (platform_admin only)
//   8. actor is not a tenant actor (realm == "tenant-" + tenant_id) → deny
//   9. resource.tenant_id is another tenant         → deny
//  10. action needs a tenant scope below platform_admin (audit.read) and
//      resource.tenant_id is empty                 → deny
//  11. actor holds one of the action's tenant roles → allow, else deny
// Tenant-level roles: tenant.read, tenant.list, user.read, key.read:
// tenant_admin or auditor; user.create, user.update, user.delete,
// user.password.reset, user.sessions.revoke, tenant.sessions.revoke:
// tenant_admin; key.rotate, key.retire: none (platform_admin only);
// audit.read: auditor, for its own
// tenant only (the whole ledger, resource.tenant_id empty, is
// platform_admin's). tenant.list by a tenant actor is
// allowed with reason "scoped to own tenant <id> (<role>)": the caller must
// list only actor.tenant_id.
#pragma once

#include <string>
#include <vector>

#include "authorize.h"

namespace realm_sidecar {

// tenant.create, tenant.read, tenant.list, tenant.update, tenant.delete,
// secret.rotate, user.create, user.read, user.update, user.delete,
// user.password.reset, user.sessions.revoke, tenant.sessions.revoke, audit.read,
// key.read, key.rotate, key.retire.
const std::vector<std::string>& known_actions();

// "tenant", "user", "secret", "audit" or "key"; empty for an unknown action.
std::string resource_type_for(const std::string& action);

// The decision itself (what make_builtin_policy()->authorize() returns).
Decision builtin_decide(const AuthorizeRequest& request);

}  // namespace realm_sidecar
