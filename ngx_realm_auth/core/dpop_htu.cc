#include "dpop_htu.h"

#include <cctype>
#include <cstdint>

namespace realm_auth {

namespace {

bool is_unreserved(unsigned char c) {
  return std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// RFC 3986 §5.2.4 remove_dot_segments, on an absolute path.
std::string remove_dot_segments(std::string_view in) {
  std::string out;
  while (!in.empty()) {
    if (in.substr(0, 3) == "../") {
      in.remove_prefix(3);
    } else if (in.substr(0, 2) == "./") {
      in.remove_prefix(2);
    } else if (in.substr(0, 3) == "/./") {
      in.remove_prefix(2);
    } else if (in == "/.") {
      in = "/";
    } else if (in.substr(0, 4) == "/../" || in == "/..") {
      in = in.size() == 3 ? std::string_view("/") : in.substr(3);
      size_t slash = out.rfind('/');
      out.erase(slash == std::string::npos ? 0 : slash);
    } else if (in == "." || in == "..") {
      in = {};
    } else {
      size_t next = in.find('/', in[0] == '/' ? 1 : 0);
      std::string_view seg = in.substr(0, next);
      out.append(seg);
      in.remove_prefix(seg.size());
    }
  }
  return out;
}

// Percent-encodings uppercased, unreserved ones decoded; no control bytes,
// spaces or non-ASCII (a client sends those encoded).
bool normalize_path(std::string_view path, std::string& out) {
  out.clear();
  for (size_t i = 0; i < path.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(path[i]);
    if (c <= 0x20 || c >= 0x7f) return false;
    if (c != '%') {
      out += static_cast<char>(c);
      continue;
    }
    if (i + 2 >= path.size()) return false;
    int hi = hex_value(path[i + 1]);
    int lo = hex_value(path[i + 2]);
    if (hi < 0 || lo < 0) return false;
    auto decoded = static_cast<unsigned char>(hi * 16 + lo);
    if (is_unreserved(decoded)) {
      out += static_cast<char>(decoded);
    } else {
      static const char kHex[] = "0123456789ABCDEF";
      out += '%';
      out += kHex[hi];
      out += kHex[lo];
    }
    i += 2;
  }
  return true;
}

}  // namespace

bool normalize_htu(std::string_view uri, std::string& out, size_t max_size) {
  if (uri.size() > max_size) return false;
  size_t colon = uri.find("://");
  if (colon == std::string_view::npos) return false;
  std::string scheme;
  for (char c : uri.substr(0, colon))
    scheme += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (scheme != "http" && scheme != "https") return false;
  std::string_view rest = uri.substr(colon + 3);
  size_t end = rest.find_first_of("?#");
  if (end != std::string_view::npos) rest = rest.substr(0, end);
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path =
      slash == std::string_view::npos ? std::string_view("/") : rest.substr(slash);
  if (authority.empty() || authority.find('@') != std::string_view::npos) return false;

  std::string_view host = authority;
  std::string_view port;
  if (authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return false;
    host = authority.substr(0, close + 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return false;
      port = after.substr(1);
    }
  } else {
    size_t p = authority.rfind(':');
    if (p != std::string_view::npos) {
      host = authority.substr(0, p);
      port = authority.substr(p + 1);
    }
  }
  if (host.empty()) return false;
  // A DNS name or IPv4 address (unreserved characters only: no userinfo,
  // no second ':'), or a bracketed IPv6 literal. Anything else could read
  // as another authority to another parser.
  bool literal = host.front() == '[';
  std::string lowered;
  for (size_t i = 0; i < host.size(); ++i) {
    auto u = static_cast<unsigned char>(host[i]);
    bool ok = literal ? (i == 0 || i + 1 == host.size() || std::isxdigit(u) || u == ':' || u == '.')
                      : (std::isalnum(u) || u == '-' || u == '.' || u == '_' || u == '~');
    if (!ok) return false;
    lowered += static_cast<char>(std::tolower(u));
  }
  if (literal && host.size() < 3) return false;
  // RFC 3986: an empty port is the default one.
  uint32_t port_value = 0;
  for (char c : port) {
    if (c < '0' || c > '9' || port_value > 65535) return false;
    port_value = port_value * 10 + static_cast<uint32_t>(c - '0');
  }
  if (!port.empty() && (port_value == 0 || port_value > 65535)) return false;
  bool default_port = port.empty() || (scheme == "http" && port_value == 80) ||
                      (scheme == "https" && port_value == 443);

  std::string clean_path;
  if (!normalize_path(path, clean_path)) return false;
  out = scheme + "://" + lowered;
  if (!default_port) out += ":" + std::to_string(port_value);
  std::string final_path = remove_dot_segments(clean_path);
  out += final_path.empty() ? "/" : final_path;
  return true;
}

}  // namespace realm_auth
