// A tenant's incarnation: one life of a slug, from the moment realm-sidecar
// decided to create its realm until the realm was deleted. A slug can come
// back after a deletion (a new realm with the same name, hence the same
// issuer URL); the new realm's keys differ, but caches, Redis and other
// nginx instances may still hold the old realm's keys and verified tokens.
// Every tenant token is therefore bound to the incarnation that issued it:
// realm-sidecar records the incarnation's start (whole seconds, the
// database clock) before it asks Keycloak for the realm, so every token the
// realm issues has iat >= start, while every token of an earlier
// incarnation was issued before that incarnation's deletion, which precedes
// the new start (the sidecar's slug quarantine makes sure of it).
//
// This file owns the rule; both binaries apply it to the tenant record
// (tenant_record.h) the sidecar publishes.
#pragma once

#include <cstdint>

#include "status.h"
#include "tenant_record.h"

namespace realm_auth {

// Whether a verified token of the tenant, issued at `iat` (0 when the token
// has none), may be served under `info`:
//   deleted                            → kTenantDeleted
//   disabled                           → kTenantDisabled
//   iat < incarnation_start (start > 0) → kTenantDeleted: an earlier
//                                         incarnation, deleted, issued it
//   otherwise (active, or absent)      → kOk
// A token without iat cannot show which incarnation issued it: with a
// known start it is refused like one of a deleted incarnation.
Status admit_tenant_token(const TenantRecordValue& info, int64_t iat);

// The refusal to report for a tenant token that did not verify with
// `status`: a signer the tenant's keys do not know (kKeyNotFound) on a
// token that says it was issued before the current incarnation began is a
// token of the deleted incarnation: kTenantDeleted. `claimed_iat` is the
// token's unverified iat (0 when absent); it only picks the reason, the
// token is refused either way. Keys that cannot be had (kJwksUnavailable)
// for a tenant whose record says deleted: kTenantDeleted too.
Status unverified_refusal(Status status, const TenantRecordValue& info, int64_t claimed_iat);

// True when `now` says the slug is no longer the incarnation `before` was:
// it was deleted, or another incarnation took its place. Caches that hold
// the realm's keys or verified tokens drop them.
bool incarnation_ended(const TenantRecordValue& before, const TenantRecordValue& now);

}  // namespace realm_auth
