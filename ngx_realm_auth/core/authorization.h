// Authorization rules of a location, checked after the token is verified
// (and on every verified-token cache hit): the module's
// auth_realm_require_role and auth_realm_require_claim. Pure logic, no nginx
// types; the directives parse their arguments with the make_* functions
// below, so `nginx -t` and the request path read one definition.
//
// Roles compare byte for byte with the roles the identity carries
// (identity.h: realm_access.roles plus the configured clients' roles), so
// "Admin" is not "admin". Claims compare with exact JSON types: the string
// "1" is not the number 1, true is not "true", null only equals null.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "flat_json.h"

namespace realm_auth {

// One auth_realm_require_role directive: passes when the identity has any
// of these roles. Several directives must all pass.
struct RoleRequirement {
  std::vector<std::string> any_of;
};

// A configured claim value: one JSON scalar.
struct JsonScalar {
  FlatJson::Type type = FlatJson::Type::kNull;  // never kArray or kObject
  std::string string;                           // kString
  double number = 0;                            // kNumber: an integer, |n| <= 2^53 - 1
};

enum class ClaimOp : uint8_t {
  kEq,        // the claim equals the one value
  kIn,        // the claim is a scalar equal to one of the values
  kContains,  // the claim is an array with an element equal to one of the values
};

// One auth_realm_require_claim directive (a top-level claim; the name is a
// member name, dots included, never a path).
struct ClaimRequirement {
  std::string name;
  ClaimOp op = ClaimOp::kEq;
  std::vector<JsonScalar> values;
};

// Parses one directive argument as a JSON scalar literal: "text" (with its
// double quotes, so write '"gold"' in nginx.conf), true, false, null, or an
// integer within ±(2^53 - 1). Arrays, objects, fractions, exponents and
// larger integers are refused (numbers compare as doubles, and a configured
// value must not equal a token value it does not spell). Strings follow the
// token parser's rules (strict UTF-8, no NUL) and may hold no control byte.
bool parse_json_scalar(std::string_view text, JsonScalar& out, std::string& error);

// `roles` must be non-empty; each role non-empty, without ',' (a role with
// one is refused at verification, so it could never match) or control bytes.
bool make_role_requirement(const std::vector<std::string_view>& roles, RoleRequirement& out,
                           std::string& error);

// name op value…: eq takes exactly one value, in and contains one or more.
bool make_claim_requirement(std::string_view name, std::string_view op,
                            const std::vector<std::string_view>& values, ClaimRequirement& out,
                            std::string& error);

bool roles_satisfy(const std::vector<std::string>& roles, const RoleRequirement& rule);

// `payload` is the verified claims set. An absent claim never passes.
bool claim_satisfies(FlatJson::Value payload, const ClaimRequirement& rule);

// NGINX Plus auth_jwt_require: a value passes when it is not empty and not "0".
inline bool require_value_passes(std::string_view v) { return !v.empty() && v != "0"; }

}  // namespace realm_auth
