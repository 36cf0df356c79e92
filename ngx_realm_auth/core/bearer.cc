#include "bearer.h"

#include <strings.h>

namespace realm_auth {

namespace {

bool is_ows(char c) { return c == ' ' || c == '\t'; }

// b64token characters: ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/".
struct B64TokenChars {
  bool allowed[256] = {};
  constexpr B64TokenChars() {
    for (int c = 'A'; c <= 'Z'; ++c) allowed[c] = true;
    for (int c = 'a'; c <= 'z'; ++c) allowed[c] = true;
    for (int c = '0'; c <= '9'; ++c) allowed[c] = true;
    for (char c : {'-', '.', '_', '~', '+', '/'}) allowed[static_cast<unsigned char>(c)] = true;
  }
};
constexpr B64TokenChars kB64Token;

}  // namespace

bool is_b64token(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t n = s.size();
  size_t i = 0;
  while (i < n && kB64Token.allowed[p[i]]) i++;
  if (i == 0) return false;
  while (i < n && p[i] == '=') i++;
  return i == n;
}

Status bearer_scheme(std::string_view field, std::string_view& credential) {
  return authorization_scheme(field, "Bearer", credential);
}

Status authorization_scheme(std::string_view field, std::string_view name,
                            std::string_view& credential) {
  while (!field.empty() && is_ows(field.front())) field.remove_prefix(1);
  while (!field.empty() && is_ows(field.back())) field.remove_suffix(1);
  size_t sp = field.find(' ');
  std::string_view scheme = field.substr(0, sp);
  if (scheme.size() != name.size() || strncasecmp(scheme.data(), name.data(), name.size()) != 0) {
    return Status::kTokenMissing;
  }
  if (sp == std::string_view::npos) return Status::kTokenMissing;  // the scheme alone
  std::string_view rest = field.substr(sp);
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  credential = rest;
  return Status::kOk;
}

Status bearer_credential(std::string_view field, std::string_view& token) {
  std::string_view credential;
  Status s = bearer_scheme(field, credential);
  if (s != Status::kOk) return s;
  if (!is_b64token(credential)) return Status::kTokenMalformed;
  token = credential;
  return Status::kOk;
}

std::string bearer_challenge(Status s) {
  if (s == Status::kTokenMissing) return "Bearer";
  // status_description: short fixed texts without quotes or backslashes,
  // so they need no quoted-string escaping.
  return std::string("Bearer error=\"invalid_token\", error_description=\"") +
         status_description(s) + "\"";
}

std::string bearer_insufficient_scope(Status s) {
  return std::string("Bearer error=\"insufficient_scope\", error_description=\"") +
         status_description(s) + "\"";
}

}  // namespace realm_auth
