// Shared by the governance tests: CMocka from C++, request builders and the
// generated decision matrix (actors × actions × resources × purposes) that
// policy_test runs through the built-in rules and policy_matrix_test runs
// through both the built-in rules and a real OPA.
#pragma once

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

extern "C" {
#include <cmocka.h>
}

#include <string>
#include <vector>

#include "authorize.h"

namespace realm_sidecar::test {

inline Actor actor(const std::string& realm, std::vector<std::string> roles,
                   const std::string& id = "user-1") {
  Actor a;
  a.actor_id = id;
  a.realm = realm;
  a.tenant_id = realm.rfind("tenant-", 0) == 0 ? realm.substr(7) : "";
  a.roles = std::move(roles);
  a.username = "someone";
  return a;
}

inline AuthorizeRequest request(const Actor& a, const std::string& action, const std::string& type,
                                const std::string& tenant,
                                const std::string& purpose = "governance test") {
  AuthorizeRequest r;
  r.actor = a;
  r.action = action;
  r.resource.type = type;
  r.resource.tenant_id = tenant;
  r.purpose = purpose;
  r.request_id = "req-1";
  r.client_ip = "127.0.0.1";
  return r;
}

struct NamedActor {
  std::string label;
  Actor actor;
};

// Every kind of actor the rules distinguish, including the tricky ones.
inline std::vector<NamedActor> matrix_actors() {
  std::vector<NamedActor> v = {
      {"platform_admin@platform", actor("platform", {"platform_admin"})},
      {"platform_admin@tenant-demo", actor("tenant-demo", {"platform_admin"})},
      {"platform_admin+auditor@tenant-demo", actor("tenant-demo", {"platform_admin", "auditor"})},
      {"tenant_admin@tenant-demo", actor("tenant-demo", {"tenant_admin"})},
      {"tenant_admin@tenant-other", actor("tenant-other", {"tenant_admin"})},
      {"officer@tenant-demo", actor("tenant-demo", {"officer"})},
      {"supervisor@tenant-demo", actor("tenant-demo", {"supervisor"})},
      {"auditor@tenant-demo", actor("tenant-demo", {"auditor"})},
      {"auditor+tenant_admin@tenant-demo", actor("tenant-demo", {"auditor", "tenant_admin"})},
      {"no-roles@tenant-demo", actor("tenant-demo", {})},
      {"no-roles@platform", actor("platform", {})},
      {"tenant_admin@platform", actor("platform", {"tenant_admin"})},
      {"anonymous", actor("platform", {"platform_admin"}, "")},
  };
  // tenant_id that does not match the realm: not a tenant actor.
  Actor mismatched = actor("tenant-other", {"tenant_admin", "auditor"});
  mismatched.tenant_id = "demo";
  v.push_back({"tenant_admin(tenant_id=demo)@tenant-other", mismatched});
  // platform_admin whose realm is only similar to "platform".
  v.push_back({"platform_admin@Platform", actor("Platform", {"platform_admin"})});
  return v;
}

inline std::vector<std::string> matrix_actions() {
  return {"tenant.create",
          "tenant.read",
          "tenant.list",
          "tenant.update",
          "tenant.delete",
          "secret.rotate",
          "user.create",
          "user.read",
          "user.update",
          "user.delete",
          "user.password.reset",
          "user.sessions.revoke",
          "tenant.sessions.revoke",
          "audit.read",
          "key.read",
          "key.rotate",
          "key.retire",
          "tenant.destroy",
          ""};
}

struct MatrixCase {
  std::string label;
  AuthorizeRequest request;
};

inline std::vector<MatrixCase> decision_matrix() {
  std::vector<MatrixCase> out;
  for (const auto& a : matrix_actors()) {
    for (const auto& action : matrix_actions()) {
      for (const char* type : {"tenant", "user", "secret", "audit", "key", ""}) {
        for (const char* tenant : {"", "demo", "other"}) {
          for (const char* purpose : {"provisioning", "", " \t"}) {
            AuthorizeRequest r = request(a.actor, action, type, tenant, purpose);
            std::string label = a.label + " " + (action.empty() ? "<none>" : action) + " " + type +
                                "/" + tenant + " purpose='" + purpose + "'";
            out.push_back({label, r});
          }
        }
      }
    }
  }
  return out;
}

}  // namespace realm_sidecar::test
