#include "identity.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "header_value.h"

namespace realm_auth {

namespace {

// Absent is fine; present must be a header-safe string.
bool optional_claim(FlatJson::Value payload, const char* name, std::string& out) {
  FlatJson::Value v = payload.get(name);
  if (!v.present()) return true;
  if (!v.is_string() || !header_safe(v.string())) return false;
  out.assign(v.string());
  return true;
}

// Appends the strings of {"roles": [...]} held by `holder` (which may be
// absent). False when anything on the way has the wrong type or a role could
// not be carried in a comma-separated header.
bool append_roles(FlatJson::Value holder, std::vector<std::string>& roles) {
  if (!holder.present()) return true;
  if (!holder.is_object()) return false;
  FlatJson::Value list = holder.get("roles");
  if (!list.present()) return true;
  if (!list.is_array()) return false;
  for (FlatJson::Value v = list.first(); v.present(); v = v.next()) {
    if (!v.is_string()) return false;
    std::string_view role = v.string();
    if (role.empty() || !header_safe(role) || role.find(',') != std::string_view::npos) {
      return false;
    }
    if (std::find(roles.begin(), roles.end(), role) == roles.end()) roles.emplace_back(role);
  }
  return true;
}

int64_t to_seconds(double v) {
  // Casting an out-of-range double is undefined: clamp first.
  constexpr double kMax = 9.2e18;
  if (std::isnan(v)) return 0;
  return static_cast<int64_t>(std::max(-kMax, std::min(kMax, std::floor(v))));
}

}  // namespace

Status extract_identity(FlatJson::Value payload, const IssuerMatch& issuer, std::string_view iss,
                        const std::vector<std::string>& role_clients, Identity& out) {
  Identity id;
  FlatJson::Value sub = payload.get("sub");
  if (!sub.is_string() || sub.string().empty()) return Status::kSubMissing;
  if (!header_safe(sub.string())) return Status::kClaimInvalid;
  id.actor_id.assign(sub.string());

  FlatJson::Value exp = payload.get("exp");
  if (!exp.is_number()) return Status::kExpMissing;
  id.exp = to_seconds(exp.number());
  FlatJson::Value iat = payload.get("iat");
  if (iat.present()) {
    if (!iat.is_number()) return Status::kClaimInvalid;
    id.iat = to_seconds(iat.number());
  }

  id.tenant_id = issuer.tenant_id;
  id.realm = issuer.realm;
  id.issuer.assign(iss);

  if (!append_roles(payload.get("realm_access"), id.roles)) return Status::kClaimInvalid;
  if (!role_clients.empty()) {
    FlatJson::Value resource_access = payload.get("resource_access");
    if (resource_access.present() && !resource_access.is_object()) return Status::kClaimInvalid;
    for (const std::string& client : role_clients) {
      if (!append_roles(resource_access.get(client), id.roles)) return Status::kClaimInvalid;
    }
  }

  if (!optional_claim(payload, "preferred_username", id.username) ||
      !optional_claim(payload, "email", id.email) ||
      !optional_claim(payload, "department_id", id.department_id) ||
      // A sid that cannot be read would let the token slip past the
      // revocation of its session: refused, like any mistyped claim.
      !optional_claim(payload, "sid", id.session_id)) {
    return Status::kClaimInvalid;
  }
  out = std::move(id);
  return Status::kOk;
}

std::string join_roles(const std::vector<std::string>& roles) {
  std::string out;
  for (size_t i = 0; i < roles.size(); ++i) {
    if (i > 0) out += ',';
    out += roles[i];
  }
  return out;
}

}  // namespace realm_auth
