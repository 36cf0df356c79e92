// AuditLedger on PostgreSQL (table audit_ledger, migrations/0002_audit_ledger.sql).
//
// append() keeps one chain under concurrency: in one transaction it takes
// the transaction-level advisory lock kLedgerLockKey (pg_advisory_xact_lock,
// so every sidecar on the database queues there), reads the head row and
// the database clock (clock_timestamp(), in the canonical text form), computes
// the row hash over exactly the text it then inserts, inserts seq = head+1,
// and commits, which releases the lock. seq is assigned here, not by a
// sequence, so a rolled-back append leaves no gap. The table's primary key
// on seq and UNIQUE prev_hash refuse a fork even from a writer that skips
// the lock.
//
// Thread-safe: each call borrows its own connection from the pool.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "audit_ledger.h"
#include "ledger_hash.h"
#include "store/pg.h"

namespace realm_sidecar {

// pg_advisory_xact_lock key of the ledger ("realmLdg" as a big-endian int64).
constexpr int64_t kLedgerLockKey = 0x7265616c6d4c6467;

class PgAuditLedger final : public AuditLedger {
 public:
  explicit PgAuditLedger(PgPool& pool) : pool_(pool) {}

  // Sanitizes the text fields (text.h), stores an empty details_json as "{}"
  // and replaces the value of any details member whose name contains
  // "password", "secret", "token" or "credential" (any case, any depth) with
  // "[REDACTED]". details_json that is not a JSON object is refused.
  bool append(const AuditEvent& event) override;
  bool tail(const std::string& tenant_id, const std::string& incarnation, int limit,
            std::vector<AuditRow>& out) override;
  // first_broken_seq is 0 with false when the database could not be read
  // (why says so).
  bool verify(int64_t& rows_checked, int64_t& first_broken_seq, std::string& why) override;

  // verify() with the chain head (for `audit verify` to print: an operator
  // who records it can later tell a truncated tail from a good one). False
  // with db_error set when the table could not be read.
  bool verify_chain(ChainCheck& out, std::string& db_error);

  // Why the last failed call failed (no secrets: libpq messages carry no
  // parameter values), for the caller's error log.
  std::string last_error() const;

  // Rows read per query by verify().
  static constexpr int kVerifyPage = 1000;

 private:
  bool append_once(PgSession& session, const AuditEvent& clean, std::string& sqlstate);
  void set_error(std::string e);

  PgPool& pool_;
  mutable std::mutex mu_;  // guards last_error_
  std::string last_error_;
};

// The event as it will be stored: sanitized text, details redacted and
// defaulted. False (and `error` set) when details_json is not an object.
bool normalize_audit_event(const AuditEvent& in, AuditEvent& out, std::string& error);

}  // namespace realm_sidecar
