// The audit ledger: an append-only, hash-chained table in PostgreSQL.
// Each row stores HMAC-SHA-256(ledger key, canonical content) and the
// previous row's hash; the key never reaches the database, so whoever owns
// the table cannot rewrite rows and recompute the chain, and a chain head
// published outside PostgreSQL (ledger_head.h) reveals a cut-off tail.
// `realm-sidecar audit verify` checks both. The database refuses UPDATE/DELETE
// (trigger + grants); appends are serialized so concurrent requests keep one
// chain (no forks, no gaps).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace realm_sidecar {

struct AuditEvent {
  std::string event_type;  // REQUEST, AUTHZ_DECISION, TENANT_CREATED, USER_CREATED,
                           // TENANT_UPDATED, TENANT_DELETED, SECRET_ROTATED, PROVISIONING_FAILED,
                           // USER_UPDATED, USER_DISABLED, USER_DELETED, PASSWORD_RESET,
                           // SESSIONS_REVOKED
  std::string request_id;
  std::string actor_id;
  std::string actor_realm;
  std::string tenant_id;  // tenant acted on
  // Its incarnation (UUID) when the row was written: filled in by the ledger
  // from the tenants table (a slug can be deleted and created again).
  // Empty for no existing tenant and for rows of before migration 0003.
  std::string tenant_incarnation;
  std::string action;  // tenant.create …
  std::string purpose;
  std::string decision;  // "allow" / "deny" / "" (not a decision event)
  std::string reason;
  std::string details_json;  // outcome details (user id, roles …) — never a password or secret
};

struct AuditRow {
  int64_t seq = 0;
  std::string occurred_at;  // RFC 3339, UTC
  AuditEvent event;
  std::string prev_hash;  // hex
  std::string row_hash;   // hex
  // The ledger key that authenticates row_hash (8 hex digits, form v3:
  // HMAC-SHA-256); empty for rows of the unkeyed forms v1/v2 (SHA-256),
  // written before migration 0006.
  std::string key_id;
};

class AuditLedger {
 public:
  virtual ~AuditLedger() = default;
  // Appends one event; false when the row could not be written (the caller
  // must then refuse the operation with 503: no audit, no work).
  virtual bool append(const AuditEvent& event) = 0;
  // Rows for one tenant (or all when empty), newest last, at most `limit`.
  // With `incarnation` (a UUID), only that incarnation's rows: those that
  // carry it, and rows without one written since it began.
  virtual bool tail(const std::string& tenant_id, const std::string& incarnation, int limit,
                    std::vector<AuditRow>& out) = 0;
  // Recomputes the chain; on a break sets first_broken_seq and why.
  virtual bool verify(int64_t& rows_checked, int64_t& first_broken_seq, std::string& why) = 0;
};

}  // namespace realm_sidecar
