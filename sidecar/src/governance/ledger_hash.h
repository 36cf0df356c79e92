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
// row_hash = lowercase hex SHA-256 of those bytes.
// Version 3, keyed (migration 0006; every row the sidecar writes since):
// "realm-auth-ledger/v3", key_id, then as version 2 with tenant_incarnation
// always present (possibly empty); row_hash = lowercase hex
// HMAC-SHA-256(ledger key, those bytes). The key is a file the sidecar
// reads and PostgreSQL never sees, so the owner of the table cannot
// recompute a changed row; key_id (8 hex digits of SHA-256(key), as for the
// Redis fleet key) picks the key during a rotation. Once a keyed row is in
// the chain every later row must be keyed: an unkeyed row after it is a
// rewrite. Genesis prev_hash = 64 zeros. Length prefixes make the encoding
// injective: no two different rows share a canonical form, whatever bytes
// their fields hold.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "audit_ledger.h"
#include "redis_seal.h"

namespace realm_sidecar {

extern const char kGenesisHash[];  // 64 × '0'

// The ledger's HMAC keys (core's key files: at least 32 bytes, id derived
// from the secret). The first authenticates new rows; verify accepts every
// one (rotation: previous keys stay listed while their rows exist).
using LedgerKeys = realm_auth::SealKeys;

// The bytes that are hashed for `row` (its row_hash is not part of them).
std::string ledger_canonical(const AuditRow& row);

// row_hash of `row`: SHA-256 of ledger_canonical(row) for an unkeyed row,
// HMAC-SHA-256 with the key of id row.key_id from `keys` for a keyed one.
// Empty if that key is not in `keys` or OpenSSL fails.
std::string ledger_row_hash(const AuditRow& row, const LedgerKeys& keys = {});

// Lowercase hex SHA-256 of `bytes` (OpenSSL EVP).
std::string sha256_hex(const std::string& bytes);

struct ChainCheck {
  bool ok = true;
  int64_t rows_checked = 0;
  int64_t first_broken_seq = 0;  // 0 when ok
  std::string why;               // empty when ok
  std::string head_hash;         // row_hash of the last good row (genesis when none)
  int64_t head_seq = 0;          // seq of the last good row (0 when none)
  int64_t keyed_rows = 0;        // how many of the good rows are keyed (v3)
};

// Feeds rows in seq order, in batches if the caller pages through a table;
// stops at the first broken row: a gap or repeat in seq (expected previous
// seq + 1, the first row is seq 1), prev_hash different from the previous
// row's row_hash (genesis for seq 1), an unkeyed row after a keyed one, a
// key id not in the keys, row_hash different from the recomputed hash, or
// a row at the expected head's seq with another hash. finish() then checks
// that the chain reaches the expected head (a cut-off tail does not).
class ChainVerifier {
 public:
  ChainVerifier() = default;
  explicit ChainVerifier(LedgerKeys keys) : keys_(std::move(keys)) {}
  // The last head published outside the database (ledger_head.h): the
  // chain must hold `row_hash` at `seq`.
  void expect_head(int64_t seq, std::string row_hash);
  // Returns false once the chain is broken (further rows are ignored).
  bool feed(const AuditRow& row);
  // Call after the last row.
  const ChainCheck& finish();
  const ChainCheck& result() const { return check_; }

 private:
  void broken(int64_t seq, const std::string& why);

  LedgerKeys keys_;
  int64_t expect_seq_ = 0;  // 0: no published head to check
  std::string expect_hash_;
  ChainCheck check_{true, 0, 0, "", kGenesisHash, 0, 0};
};

// Convenience: the whole chain at once (finish() included).
ChainCheck verify_chain(const std::vector<AuditRow>& rows, const LedgerKeys& keys = {});

}  // namespace realm_sidecar
