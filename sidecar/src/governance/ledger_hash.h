// The audit ledger's hash chain, pure (no database): canonical form of a
// row, its SHA-256, and chain verification over rows in seq order. The
// PostgreSQL ledger and `realm-sidecar audit verify` use it; so can anyone
// re-implementing the check (docs/GOVERNANCE.md has it in SQL).
//
// Canonical form, version 1: the concatenation of netstrings
// ("<decimal byte length>:<bytes>,", D. J. Bernstein) of, in this order:
//   "realm-auth-ledger/v1", seq (decimal, no sign, no leading zeros),
//   occurred_at (as stored: "YYYY-MM-DDTHH:MM:SS.ffffffZ", UTC, 6 digits),
//   event_type, request_id, actor_id, actor_realm, tenant_id, action,
//   purpose, decision, reason, details (the JSON text as stored),
//   prev_hash (64 lowercase hex digits)
// Version 2, for rows that carry a tenant_incarnation (migration 0003):
// "realm-auth-ledger/v2" first, and tenant_incarnation right after
// tenant_id; otherwise the same. A row without one keeps version 1, so rows
// written before incarnations existed verify unchanged; the version string
// keeps the two forms apart.
// row_hash = lowercase hex SHA-256 of those bytes. Genesis prev_hash = 64
// zeros. Length prefixes make the encoding injective: no two different rows
// share a canonical form, whatever bytes their fields hold.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "audit_ledger.h"

namespace realm_sidecar {

extern const char kGenesisHash[];  // 64 × '0'

// The bytes that are hashed for `row` (its row_hash is not part of them).
std::string ledger_canonical(const AuditRow& row);

// Lowercase hex SHA-256 of ledger_canonical(row); empty if OpenSSL fails.
std::string ledger_row_hash(const AuditRow& row);

// Lowercase hex SHA-256 of `bytes` (OpenSSL EVP).
std::string sha256_hex(const std::string& bytes);

struct ChainCheck {
  bool ok = true;
  int64_t rows_checked = 0;
  int64_t first_broken_seq = 0;  // 0 when ok
  std::string why;               // empty when ok
  std::string head_hash;         // row_hash of the last good row (genesis when none)
  int64_t head_seq = 0;          // seq of the last good row (0 when none)
};

// Feeds rows in seq order, in batches if the caller pages through a table;
// stops at the first broken row: a gap or repeat in seq (expected previous
// seq + 1, the first row is seq 1), prev_hash different from the previous
// row's row_hash (genesis for seq 1), or row_hash different from the
// recomputed hash.
class ChainVerifier {
 public:
  // Returns false once the chain is broken (further rows are ignored).
  bool feed(const AuditRow& row);
  const ChainCheck& result() const { return check_; }

 private:
  ChainCheck check_{true, 0, 0, "", kGenesisHash, 0};
};

// Convenience: the whole chain at once.
ChainCheck verify_chain(const std::vector<AuditRow>& rows);

}  // namespace realm_sidecar
