#include "revocation_record.h"

#include <vector>

#include "decimal.h"
#include "issuer.h"

namespace realm_auth {

namespace {

// Printable ASCII without space: what a `sub` or `sid` of Keycloak is made
// of, and what keeps the text form one line of five fields.
bool subject_text(std::string_view s) {
  if (s.empty() || s.size() > kMaxRevocationSubject) return false;
  for (char c : s) {
    if (c <= ' ' || c > '~') return false;
  }
  return true;
}

}  // namespace

const char* revocation_kind_name(RevocationKind k) {
  switch (k) {
    case RevocationKind::kUser:
      return "user";
    case RevocationKind::kSession:
      return "session";
    case RevocationKind::kTenant:
      return "tenant";
  }
  return "user";
}

bool parse_revocation_kind(std::string_view name, RevocationKind& out) {
  for (RevocationKind k :
       {RevocationKind::kUser, RevocationKind::kSession, RevocationKind::kTenant}) {
    if (name == revocation_kind_name(k)) {
      out = k;
      return true;
    }
  }
  return false;
}

bool valid_revocation(const RevocationRecord& r, std::string& why) {
  if (!is_valid_slug(r.tenant)) {
    why = "tenant is not a valid slug";
    return false;
  }
  if (r.kind == RevocationKind::kTenant ? !r.subject.empty() : !subject_text(r.subject)) {
    why = r.kind == RevocationKind::kTenant
              ? "a tenant record names no subject"
              : "subject must be 1 to 255 printable characters without spaces";
    return false;
  }
  if (r.not_before <= 0 || r.expires < r.not_before || r.expires > 999999999999) {
    why = "not_before and expires must satisfy 0 < not_before <= expires";
    return false;
  }
  return true;
}

std::string encode_revocation(const RevocationRecord& r) {
  std::string why;
  if (!valid_revocation(r, why)) return "";
  std::string out = revocation_kind_name(r.kind);
  out += ' ';
  out += r.tenant;
  out += ' ';
  out += r.kind == RevocationKind::kTenant ? "-" : r.subject;
  out += ' ';
  out += std::to_string(r.not_before);
  out += ' ';
  out += std::to_string(r.expires);
  return out;
}

bool decode_revocation(std::string_view text, RevocationRecord& out) {
  if (text.size() > kMaxRevocationRecord) return false;
  std::vector<std::string_view> f;
  size_t start = 0;
  while (f.size() < 6) {
    size_t sp = text.find(' ', start);
    f.push_back(text.substr(start, sp == std::string_view::npos ? sp : sp - start));
    if (sp == std::string_view::npos) break;
    start = sp + 1;
  }
  if (f.size() != 5) return false;
  RevocationRecord r;
  if (!parse_revocation_kind(f[0], r.kind)) return false;
  r.tenant.assign(f[1]);
  if (r.kind == RevocationKind::kTenant) {
    if (f[2] != "-") return false;
  } else {
    r.subject.assign(f[2]);
  }
  if (!parse_record_seconds(f[3], r.not_before) || !parse_record_seconds(f[4], r.expires))
    return false;
  std::string why;
  if (!valid_revocation(r, why)) return false;
  out = std::move(r);
  return true;
}

bool revokes(const RevocationRecord& r, std::string_view tenant, std::string_view sub,
             std::string_view sid, int64_t iat) {
  if (r.tenant != tenant) return false;
  switch (r.kind) {
    case RevocationKind::kUser:
      if (sub.empty() || r.subject != sub) return false;
      break;
    case RevocationKind::kSession:
      if (sid.empty() || r.subject != sid) return false;
      break;
    case RevocationKind::kTenant:
      break;
  }
  return iat < r.not_before;
}

}  // namespace realm_auth
