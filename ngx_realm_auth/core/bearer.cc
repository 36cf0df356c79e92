#include "bearer.h"

#include <strings.h>

namespace realm_auth {

namespace {

bool is_ows(char c) { return c == ' ' || c == '\t'; }

bool is_b64token_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
}

// 1*b64token-char *"=" and nothing else.
bool is_b64token(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && is_b64token_char(s[i])) i++;
  if (i == 0) return false;
  while (i < s.size() && s[i] == '=') i++;
  return i == s.size();
}

}  // namespace

Status bearer_credential(std::string_view field, std::string_view& token) {
  while (!field.empty() && is_ows(field.front())) field.remove_prefix(1);
  while (!field.empty() && is_ows(field.back())) field.remove_suffix(1);
  size_t sp = field.find(' ');
  std::string_view scheme = field.substr(0, sp);
  if (scheme.size() != 6 || strncasecmp(scheme.data(), "Bearer", 6) != 0) {
    return Status::kTokenMissing;
  }
  if (sp == std::string_view::npos) return Status::kTokenMissing;  // "Bearer" alone
  std::string_view rest = field.substr(sp);
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  if (!is_b64token(rest)) return Status::kTokenMalformed;
  token = rest;
  return Status::kOk;
}

std::string bearer_challenge(Status s) {
  if (s == Status::kTokenMissing) return "Bearer";
  // status_description: short fixed texts without quotes or backslashes,
  // so they need no quoted-string escaping.
  return std::string("Bearer error=\"invalid_token\", error_description=\"") +
         status_description(s) + "\"";
}

}  // namespace realm_auth
