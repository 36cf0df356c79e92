#include "provisioning/validation.h"

#include <algorithm>
#include <set>

#include "issuer.h"  // realm_auth::is_valid_slug: one slug rule for module and sidecar

namespace realm_sidecar {

namespace {

bool has_control(const std::string& s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    unsigned char u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

}  // namespace

const std::vector<std::string>& tenant_roles() {
  static const std::vector<std::string> kRoles = {"tenant_admin", "officer", "supervisor",
                                                  "auditor"};
  return kRoles;
}

bool is_reserved_slug(const std::string& slug) {
  static const std::set<std::string> kReserved = {
      "admin",  "api",   "auth",   "default", "internal", "keycloak", "master",  "platform",
      "public", "realm", "realms", "root",    "system",   "tenant",   "tenants", "www"};
  return kReserved.count(slug) != 0;
}

std::string check_slug(const std::string& slug) {
  if (!realm_auth::is_valid_slug(slug)) {
    return "slug must be a lowercase DNS label: 1 to 63 characters a-z, 0-9 and '-', "
           "starting and ending with a letter or digit";
  }
  if (is_reserved_slug(slug)) return "slug '" + slug + "' is reserved";
  return "";
}

std::string check_display_name(const std::string& name) {
  if (name.empty() || name.size() > 200) return "display_name must be 1 to 200 bytes";
  if (has_control(name)) return "display_name must not contain control characters";
  return "";
}

std::string check_department(const std::string& department) {
  if (!realm_auth::is_valid_slug(department)) {
    return "department ids must be lowercase DNS labels (a-z, 0-9, '-', at most 63 characters)";
  }
  return "";
}

std::string check_username(const std::string& username) {
  // Keycloak lowercases usernames; refusing uppercase keeps the answer equal
  // to what was asked for. 3..255 is the length rule of Keycloak's default
  // user profile.
  if (username.size() < 3 || username.size() > 255) return "username must be 3 to 255 characters";
  for (char c : username) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-' || c == '@';
    if (!ok) return "username may contain only a-z, 0-9, '.', '_', '-' and '@'";
  }
  return "";
}

std::string check_email(const std::string& email) {
  size_t at = email.find('@');
  if (email.size() > 254 || at == std::string::npos || at == 0 || at != email.rfind('@') ||
      email.find('.', at) == std::string::npos || email.back() == '.' || has_control(email) ||
      email.find(' ') != std::string::npos) {
    return "email must be an address like name@example.org";
  }
  return "";
}

std::string check_person_name(const std::string& name) {
  if (name.empty() || name.size() > 255) return "must be 1 to 255 bytes";
  if (has_control(name)) return "must not contain control characters";
  return "";
}

std::string check_role(const std::string& role) {
  const auto& roles = tenant_roles();
  if (std::find(roles.begin(), roles.end(), role) == roles.end()) {
    return "unknown role '" + role + "'; roles are tenant_admin, officer, supervisor, auditor";
  }
  return "";
}

}  // namespace realm_sidecar
