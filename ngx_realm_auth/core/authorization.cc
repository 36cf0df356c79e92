#include "authorization.h"

#include <algorithm>

#include "header_value.h"

namespace realm_auth {

namespace {

constexpr double kMaxExactInteger = 9007199254740991.0;  // 2^53 - 1

bool is_json_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// -?digits and nothing else (JSON grammar is checked by the parser).
bool integer_literal(std::string_view text) {
  if (!text.empty() && text.front() == '-') text.remove_prefix(1);
  if (text.empty()) return false;
  return std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool equal(FlatJson::Value v, const JsonScalar& want) {
  // type() of an absent value reads as kNull: absent must never equal null.
  if (!v.present() || v.type() != want.type) return false;
  switch (want.type) {
    case FlatJson::Type::kString:
      return v.string() == want.string;
    case FlatJson::Type::kNumber:
      return v.number() == want.number;
    default:
      return true;  // true, false, null: the type is the value
  }
}

bool equals_any(FlatJson::Value v, const std::vector<JsonScalar>& values) {
  return std::any_of(values.begin(), values.end(),
                     [&](const JsonScalar& want) { return equal(v, want); });
}

}  // namespace

bool parse_json_scalar(std::string_view text, JsonScalar& out, std::string& error) {
  if (text.empty() || is_json_space(text.front()) || is_json_space(text.back())) {
    error = "a JSON value without surrounding blanks is needed";
    return false;
  }
  // The token parser's own reader and rules, on {"v":<text>}: the whole
  // wrapped text must be exactly one object with that one member, so text
  // such as `1,"w":2` cannot smuggle a second value in.
  FlatJson doc;
  std::string wrapped = "{\"v\":";
  wrapped.append(text.data(), text.size());
  wrapped += '}';
  FlatJson::Value v;
  if (doc.parse(wrapped, 2, Status::kPayloadNotJson) == Status::kOk) {
    v = doc.root().first();
    if (v.next().present()) v = {};
  }
  if (!v.present()) {
    error = "not a JSON literal (write strings with their double quotes, e.g. '\"gold\"')";
    return false;
  }
  JsonScalar scalar;
  scalar.type = v.type();
  switch (scalar.type) {
    case FlatJson::Type::kArray:
    case FlatJson::Type::kObject:
      error = "only JSON scalars (string, integer, true, false, null) are compared";
      return false;
    case FlatJson::Type::kString:
      if (!header_safe(v.string())) {
        error = "control bytes cannot match (tokens with them are refused)";
        return false;
      }
      scalar.string.assign(v.string());
      break;
    case FlatJson::Type::kNumber:
      if (!integer_literal(text) || v.number() > kMaxExactInteger ||
          v.number() < -kMaxExactInteger) {
        error = "numbers must be integers within +-(2^53 - 1) (they compare as doubles)";
        return false;
      }
      scalar.number = v.number();
      break;
    default:
      break;
  }
  out = std::move(scalar);
  return true;
}

bool make_role_requirement(const std::vector<std::string_view>& roles, RoleRequirement& out,
                           std::string& error) {
  if (roles.empty()) {
    error = "needs at least one role";
    return false;
  }
  RoleRequirement rule;
  for (std::string_view role : roles) {
    if (role.empty() || role.find(',') != std::string_view::npos || !header_safe(role)) {
      error = "a role is non-empty, without ',' or control bytes";
      return false;
    }
    rule.any_of.emplace_back(role);
  }
  out = std::move(rule);
  return true;
}

bool make_claim_requirement(std::string_view name, std::string_view op,
                            const std::vector<std::string_view>& values, ClaimRequirement& out,
                            std::string& error) {
  ClaimRequirement rule;
  if (name.empty() || !header_safe(name)) {
    error = "the claim name must be non-empty, without control bytes";
    return false;
  }
  rule.name.assign(name);
  if (op == "eq") {
    rule.op = ClaimOp::kEq;
  } else if (op == "in") {
    rule.op = ClaimOp::kIn;
  } else if (op == "contains") {
    rule.op = ClaimOp::kContains;
  } else {
    error = "unknown operator \"" + std::string(op) + "\" (eq, in, contains)";
    return false;
  }
  if (values.empty()) {
    error = "\"" + std::string(op) + "\" needs a value";
    return false;
  }
  if (rule.op == ClaimOp::kEq && values.size() != 1) {
    error = "\"eq\" takes exactly one value (\"in\" takes several)";
    return false;
  }
  for (std::string_view text : values) {
    JsonScalar v;
    std::string why;
    if (!parse_json_scalar(text, v, why)) {
      error = "value " + std::string(text) + ": " + why;
      return false;
    }
    rule.values.push_back(std::move(v));
  }
  out = std::move(rule);
  return true;
}

bool roles_satisfy(const std::vector<std::string>& roles, const RoleRequirement& rule) {
  return std::any_of(rule.any_of.begin(), rule.any_of.end(), [&](const std::string& want) {
    return std::find(roles.begin(), roles.end(), want) != roles.end();
  });
}

bool claim_satisfies(FlatJson::Value payload, const ClaimRequirement& rule) {
  FlatJson::Value claim = payload.get(rule.name);
  switch (rule.op) {
    case ClaimOp::kEq:
    case ClaimOp::kIn:
      // equal() compares types first: an array or object never equals a scalar.
      return equals_any(claim, rule.values);
    case ClaimOp::kContains:
      if (!claim.is_array()) return false;
      for (FlatJson::Value v = claim.first(); v.present(); v = v.next()) {
        if (equals_any(v, rule.values)) return true;
      }
      return false;
  }
  return false;
}

}  // namespace realm_auth
