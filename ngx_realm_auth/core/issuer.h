// Issuer allowlist. A pattern is an absolute http(s) URL whose last path
// segment names the realm; a '*' at the end of that segment stands for the
// tenant slug:
//
//   http://localhost:8080/realms/tenant-*   any tenant realm
//   http://localhost:8080/realms/platform   exactly the platform realm
//
// Matching is byte for byte: same scheme, host, port and path prefix, and the
// slug must be a lowercase DNS label (^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$).
// So percent-escapes, dot segments, trailing slashes, queries, fragments,
// userinfo and case folding can never match.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace realm_auth {

struct IssuerMatch {
  std::string realm;      // "tenant-demo" or "platform"
  std::string tenant_id;  // "demo"; empty for an exact (non-wildcard) pattern
};

class IssuerPattern {
 public:
  // Validates the pattern (http/https, host, no userinfo/query/fragment,
  // path ending in /realms/<name> where '*' may only end <name> and must
  // follow a non-empty prefix such as "tenant-"). On failure `error` says why.
  static bool parse(std::string_view pattern, IssuerPattern& out, std::string& error);

  bool match(std::string_view iss, IssuerMatch& m) const;

  const std::string& text() const { return text_; }

 private:
  std::string text_;    // the pattern as configured
  std::string prefix_;  // everything before '*', or the whole URL
  bool wildcard_ = false;
};

// First matching pattern wins.
bool match_issuer(const std::vector<IssuerPattern>& patterns, std::string_view iss, IssuerMatch& m);

// The tenant slug rule of DESIGN.md (lowercase DNS label).
bool is_valid_slug(std::string_view slug);

}  // namespace realm_auth
