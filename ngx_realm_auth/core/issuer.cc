#include "issuer.h"

namespace realm_auth {

namespace {

constexpr std::string_view kRealmsSegment = "/realms/";

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

bool is_host_char(char c) {
  return is_lower_alnum(c) || (c >= 'A' && c <= 'Z') || c == '.' || c == '-' || c == ':' ||
         c == '[' || c == ']';
}

// RFC 3986 unreserved characters: a path segment made of these means the
// same thing to every reader, with nothing to decode or normalize.
bool is_unreserved(char c) {
  return is_lower_alnum(c) || (c >= 'A' && c <= 'Z') || c == '-' || c == '.' || c == '_' ||
         c == '~';
}

bool fail(std::string& error, const char* why) {
  error = why;
  return false;
}

// Path segments between the authority and the realm name: non-empty,
// unreserved characters only, no "." or "..".
bool valid_segments(std::string_view path) {
  while (!path.empty()) {
    path.remove_prefix(1);  // the '/'
    size_t end = path.find('/');
    std::string_view seg = path.substr(0, end);
    if (seg.empty() || seg == "." || seg == "..") return false;
    for (char c : seg) {
      if (!is_unreserved(c)) return false;
    }
    path.remove_prefix(seg.size());
  }
  return true;
}

std::string_view last_segment(std::string_view url) { return url.substr(url.rfind('/') + 1); }

}  // namespace

bool IssuerPattern::parse(std::string_view pattern, IssuerPattern& out, std::string& error) {
  std::string_view rest;
  if (pattern.substr(0, 7) == "http://") {
    rest = pattern.substr(7);
  } else if (pattern.substr(0, 8) == "https://") {
    rest = pattern.substr(8);
  } else {
    return fail(error, "issuer pattern must start with http:// or https://");
  }

  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (authority.empty()) return fail(error, "issuer pattern has no host");
  for (char c : authority) {
    if (c == '@') return fail(error, "issuer pattern must not contain userinfo");
    if (!is_host_char(c)) return fail(error, "issuer pattern host has an invalid character");
  }
  if (slash == std::string_view::npos) return fail(error, "issuer pattern has no /realms/ path");
  std::string_view path = rest.substr(slash);
  for (char c : path) {
    if (c == '?' || c == '#') {
      return fail(error, "issuer pattern must not have a query or fragment");
    }
    if (c == '%') return fail(error, "issuer pattern must not contain percent-escapes");
  }
  if (path.back() == '/') return fail(error, "issuer pattern must not end with '/'");

  // The realm name is the last segment and must directly follow /realms/.
  size_t name_at = path.rfind('/') + 1;
  if (name_at < kRealmsSegment.size() ||
      path.substr(name_at - kRealmsSegment.size(), kRealmsSegment.size()) != kRealmsSegment) {
    return fail(error, "issuer pattern path must end with /realms/<name>");
  }
  const std::string_view name = path.substr(name_at);
  const size_t star = pattern.find('*');
  const bool wildcard = star != std::string_view::npos;
  if (wildcard) {
    if (star != pattern.size() - 1) return fail(error, "'*' may only end the realm name");
    if (name.size() < 2) return fail(error, "'*' must follow a realm name prefix such as tenant-");
  }
  // Validate the whole path (base path, "realms", the name or its prefix).
  std::string_view checked = path.substr(0, path.size() - (wildcard ? 1 : 0));
  if (!valid_segments(checked)) {
    return fail(error, "issuer pattern path has empty, dot or non-URL-safe segments");
  }

  out.text_.assign(pattern.data(), pattern.size());
  out.prefix_.assign(pattern.data(), pattern.size() - (wildcard ? 1 : 0));
  out.wildcard_ = wildcard;
  return true;
}

bool IssuerPattern::match(std::string_view iss, IssuerMatch& m) const {
  if (!wildcard_) {
    if (iss != prefix_) return false;
    m.realm.assign(last_segment(iss));
    m.tenant_id.clear();
    return true;
  }
  if (iss.size() <= prefix_.size() || iss.substr(0, prefix_.size()) != prefix_) return false;
  std::string_view slug = iss.substr(prefix_.size());
  if (!is_valid_slug(slug)) return false;
  m.realm.assign(last_segment(iss));
  m.tenant_id.assign(slug);
  return true;
}

bool match_issuer(const std::vector<IssuerPattern>& patterns, std::string_view iss,
                  IssuerMatch& m) {
  for (const IssuerPattern& p : patterns) {
    if (p.match(iss, m)) return true;
  }
  return false;
}

bool is_valid_slug(std::string_view slug) {
  if (slug.empty() || slug.size() > 63) return false;
  if (slug.front() == '-' || slug.back() == '-') return false;
  for (char c : slug) {
    if (!is_lower_alnum(c) && c != '-') return false;
  }
  return true;
}

}  // namespace realm_auth
