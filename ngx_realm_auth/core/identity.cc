#include "identity.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

namespace realm_auth {

namespace {

// Values travel in HTTP headers and nginx variables: no CR/LF or other
// control bytes (jansson already guarantees valid UTF-8 and no NUL).
bool header_safe(std::string_view v) {
  return std::none_of(v.begin(), v.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

// Absent is fine; present must be a header-safe string.
bool optional_claim(const json_t* payload, const char* name, std::string& out) {
  const json_t* v = json_object_get(payload, name);
  if (v == nullptr) return true;
  if (!json_is_string(v)) return false;
  std::string_view s(json_string_value(v), json_string_length(v));
  if (!header_safe(s)) return false;
  out.assign(s);
  return true;
}

// Appends the strings of {"roles": [...]} held by `holder` (which may be
// absent). False when anything on the way has the wrong type or a role could
// not be carried in a comma-separated header.
bool append_roles(const json_t* holder, std::vector<std::string>& roles) {
  if (holder == nullptr) return true;
  if (!json_is_object(holder)) return false;
  const json_t* list = json_object_get(holder, "roles");
  if (list == nullptr) return true;
  if (!json_is_array(list)) return false;
  size_t i;
  const json_t* v;
  json_array_foreach(list, i, v) {
    if (!json_is_string(v)) return false;
    std::string_view role(json_string_value(v), json_string_length(v));
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

Status extract_identity(const json_t* payload, const IssuerMatch& issuer, std::string_view iss,
                        const std::vector<std::string>& role_clients, Identity& out) {
  Identity id;
  std::string_view sub;
  if (!json_get_string(payload, "sub", sub) || sub.empty()) return Status::kSubMissing;
  if (!header_safe(sub)) return Status::kClaimInvalid;
  id.actor_id.assign(sub);

  const json_t* exp = json_object_get(payload, "exp");
  if (!json_is_number(exp)) return Status::kExpMissing;
  id.exp = to_seconds(json_number_value(exp));

  id.tenant_id = issuer.tenant_id;
  id.realm = issuer.realm;
  id.issuer.assign(iss);

  if (!append_roles(json_object_get(payload, "realm_access"), id.roles)) {
    return Status::kClaimInvalid;
  }
  if (!role_clients.empty()) {
    const json_t* resource_access = json_object_get(payload, "resource_access");
    if (resource_access != nullptr && !json_is_object(resource_access)) {
      return Status::kClaimInvalid;
    }
    for (const std::string& client : role_clients) {
      if (!append_roles(json_object_get(resource_access, client.c_str()), id.roles)) {
        return Status::kClaimInvalid;
      }
    }
  }

  if (!optional_claim(payload, "preferred_username", id.username) ||
      !optional_claim(payload, "email", id.email) ||
      !optional_claim(payload, "department_id", id.department_id)) {
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
