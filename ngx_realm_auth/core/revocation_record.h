// One revocation as realm-sidecar publishes it and the module applies it
// (revocation_feed.h carries it through Redis). This file is the only code
// that knows its text form:
//
//   <kind> <tenant> <subject> <not_before> <expires>
//   user    demo 5b0c…-uuid 1764579601 1764583261
//   session demo 0f3e…      1764579601 1764583261
//   tenant  demo -          1764579601 1764583261
//
// A token of tenant T is revoked when a record naming it (user: its `sub`;
// session: its `sid`; tenant: any token of T) has not_before > the token's
// iat. not_before is the second after the revocation (a token issued in that
// same second is refused, one issued after a re-enable passes); expires is
// when no token the record names can still be valid, after which the record
// is dropped everywhere. See docs/IDENTITY_CONTRACT.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace realm_auth {

enum class RevocationKind { kUser, kSession, kTenant };

struct RevocationRecord {
  RevocationKind kind = RevocationKind::kUser;
  std::string tenant;      // tenant_id (the slug of realm tenant-<slug>)
  std::string subject;     // kUser: `sub`; kSession: `sid`; kTenant: empty
  int64_t not_before = 0;  // seconds since the epoch
  int64_t expires = 0;     // seconds since the epoch
};

constexpr size_t kMaxRevocationSubject = 255;  // bytes; Keycloak ids are 36
constexpr size_t kMaxRevocationRecord = 512;   // bytes of the text form

const char* revocation_kind_name(RevocationKind k);  // "user", "session", "tenant"
bool parse_revocation_kind(std::string_view name, RevocationKind& out);

// Whether `r` may be published: a valid slug, a subject of 1 to
// kMaxRevocationSubject printable ASCII bytes without spaces for user and
// session (none for tenant), 0 < not_before <= expires. `why` names the field.
bool valid_revocation(const RevocationRecord& r, std::string& why);

// The text form of a valid record ("" for an invalid one).
std::string encode_revocation(const RevocationRecord& r);
// Strict: exactly five fields separated by one space, each as
// valid_revocation() requires. False (and `out` untouched) otherwise.
bool decode_revocation(std::string_view text, RevocationRecord& out);

// Whether `r` revokes a token of `tenant` with `sub`, `sid` (empty: none)
// issued at `iat` (seconds; 0 = the token has none, which any matching
// record revokes).
bool revokes(const RevocationRecord& r, std::string_view tenant, std::string_view sub,
             std::string_view sid, int64_t iat);

}  // namespace realm_auth
