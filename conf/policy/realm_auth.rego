# realm-sidecar authorization rules for Open Policy Agent (OPA 1.x syntax).
#
# Same semantics as the sidecar's built-in rules
# (sidecar/src/governance/builtin_policy.{h,cc}); the CTest
# governance_policy_matrix runs a generated actors × actions × resources
# matrix through both and requires identical decisions (allow and reason).
# Serve it and point the sidecar at the decision:
#   opa run --server --addr 127.0.0.1:8181 conf/policy/realm_auth.rego
#   POLICY_URL=http://127.0.0.1:8181/v1/data/realm_auth/decision
# Input: the AuthorizeRequest (docs/GOVERNANCE.md)
#   {"actor": {"actor_id", "tenant_id", "realm", "roles", "username", "department_id"},
#    "action", "resource": {"type", "tenant_id", "id"}, "purpose",
#    "context": {"request_id", "client_ip"}}
# Output: decision = {"allow": bool, "reason": string}. Anything missing or
# malformed ends in a deny.
package realm_auth

# action → resource type, whether it acts on one named tenant, and the roles
# that count inside the actor's own tenant (platform_admin of realm
# "platform" is allowed every known action). tenant_roles_need_tenant_id: a
# tenant actor must name its own tenant (no all-tenants scope below
# platform_admin).
actions := {
	"tenant.create": {"type": "tenant", "one_tenant": false, "tenant_roles": []},
	"tenant.read": {"type": "tenant", "one_tenant": true, "tenant_roles": ["tenant_admin", "auditor"]},
	"tenant.list": {"type": "tenant", "one_tenant": false, "tenant_roles": ["tenant_admin", "auditor"]},
	"tenant.update": {"type": "tenant", "one_tenant": true, "tenant_roles": []},
	"tenant.delete": {"type": "tenant", "one_tenant": true, "tenant_roles": []},
	"secret.rotate": {"type": "secret", "one_tenant": true, "tenant_roles": []},
	"user.create": {"type": "user", "one_tenant": true, "tenant_roles": ["tenant_admin"]},
	"user.read": {"type": "user", "one_tenant": true, "tenant_roles": ["tenant_admin", "auditor"]},
	"user.update": {"type": "user", "one_tenant": true, "tenant_roles": ["tenant_admin"]},
	"user.delete": {"type": "user", "one_tenant": true, "tenant_roles": ["tenant_admin"]},
	"user.password.reset": {"type": "user", "one_tenant": true, "tenant_roles": ["tenant_admin"]},
	"user.sessions.revoke": {"type": "user", "one_tenant": true, "tenant_roles": ["tenant_admin"]},
	"tenant.sessions.revoke": {"type": "tenant", "one_tenant": true, "tenant_roles": ["tenant_admin"]},
	"audit.read": {"type": "audit", "one_tenant": false, "tenant_roles": ["auditor"], "tenant_roles_need_tenant_id": true},
	"key.read": {"type": "key", "one_tenant": true, "tenant_roles": ["tenant_admin", "auditor"]},
	"key.rotate": {"type": "key", "one_tenant": true, "tenant_roles": []},
	"key.retire": {"type": "key", "one_tenant": true, "tenant_roles": []},
}

actor := object.get(input, "actor", {})

actor_id := object.get(actor, "actor_id", "")

actor_tenant := object.get(actor, "tenant_id", "")

realm := object.get(actor, "realm", "")

roles := object.get(actor, "roles", [])

action_name := object.get(input, "action", "")

resource := object.get(input, "resource", {})

resource_type := object.get(resource, "type", "")

resource_tenant := object.get(resource, "tenant_id", "")

purpose := object.get(input, "purpose", "")

rule := actions[action_name]

# A tenant actor: its realm is exactly tenant-<its tenant_id>.
tenant_actor if {
	actor_tenant != ""
	realm == concat("", ["tenant-", actor_tenant])
}

# The first of the action's tenant roles the actor holds (table order).
granting_roles := [r | some r in rule.tenant_roles; r in roles]

hint := "; platform_admin counts only in realm platform" if {
	"platform_admin" in roles
	realm != "platform"
} else := ""

needs := sprintf("%s requires platform_admin of realm platform or %s of the same tenant", [action_name, concat("/", rule.tenant_roles)])

deny(reason) := {"allow": false, "reason": reason}

grant(reason) := {"allow": true, "reason": reason}

default decision := {"allow": false, "reason": "malformed authorization request"}

# An ordered checklist: the first matching branch decides.
decision := deny("no authenticated actor") if {
	actor_id == ""
} else := deny(sprintf("unknown action '%s'", [action_name])) if {
	not actions[action_name]
} else := deny("missing purpose (X-Purpose is required)") if {
	trim(purpose, " \t") == ""
} else := deny(sprintf("resource type '%s' does not fit action %s (expected '%s')", [resource_type, action_name, rule.type])) if {
	resource_type != rule.type
} else := deny(sprintf("%s needs resource.tenant_id", [action_name])) if {
	rule.one_tenant
	resource_tenant == ""
} else := grant("platform_admin of realm platform") if {
	realm == "platform"
	"platform_admin" in roles
} else := deny(sprintf("%s requires platform_admin of realm platform%s", [action_name, hint])) if {
	count(rule.tenant_roles) == 0
} else := deny(concat("", [needs, hint])) if {
	not tenant_actor
} else := deny(sprintf("actor of tenant %s may not act on tenant %s", [actor_tenant, resource_tenant])) if {
	resource_tenant != ""
	resource_tenant != actor_tenant
} else := deny(sprintf("%s of all tenants requires platform_admin of realm platform%s", [action_name, hint])) if {
	object.get(rule, "tenant_roles_need_tenant_id", false)
	resource_tenant == ""
} else := grant(sprintf("scoped to own tenant %s (%s)", [actor_tenant, granting_roles[0]])) if {
	action_name == "tenant.list"
	count(granting_roles) > 0
} else := grant(sprintf("%s of tenant %s", [granting_roles[0], actor_tenant])) if {
	count(granting_roles) > 0
} else := deny(concat("", [needs, hint]))

allow := decision.allow
