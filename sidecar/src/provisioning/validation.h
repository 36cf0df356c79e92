// Input rules of the provisioning API, kept apart from the handlers so the
// unit tests pin them. Each check returns "" when the value is fine, or the
// problem+json `detail` sentence explaining what is wrong.
#pragma once

#include <string>
#include <vector>

namespace realm_sidecar {

// The four realm roles every tenant realm has, in a stable order.
const std::vector<std::string>& tenant_roles();

// Slugs that can never be tenants: they name Keycloak's or the platform's
// own realms and paths, or would confuse operators.
bool is_reserved_slug(const std::string& slug);

std::string check_slug(const std::string& slug);
std::string check_display_name(const std::string& name);
// Department ids share the slug syntax (they become group names and token
// claims).
std::string check_department(const std::string& department);
std::string check_username(const std::string& username);
std::string check_email(const std::string& email);
std::string check_person_name(const std::string& name);  // first/last name
std::string check_role(const std::string& role);

}  // namespace realm_sidecar
