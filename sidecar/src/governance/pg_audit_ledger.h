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
// the lock. Rows are keyed (form v3, HMAC-SHA-256 with keys.front()); the
// key stays in this process. publish_head() writes the chain head to a file
// outside the database (ledger_head.h) and verify() checks the chain
// against the last one published, which reveals a cut-off tail.
//
// Thread-safe: each call borrows its own connection from the pool.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "audit_ledger.h"
#include "ledger_hash.h"
#include "ledger_head.h"
#include "store/pg.h"

namespace realm_sidecar {

// pg_advisory_xact_lock key of the ledger ("realmLdg" as a big-endian int64).
constexpr int64_t kLedgerLockKey = 0x7265616c6d4c6467;

// What one publish_head() pass did.
struct HeadPublication {
  enum Status {
    kPublished,  // the file now names `head`
    kUnchanged,  // the ledger's head is the one already published
    kEmpty,      // no rows and nothing published: nothing to do
    kTampered,   // the ledger contradicts the published head: left as it was
    kError,      // database or file unavailable (message says which)
  } status = kError;
  LedgerHead head;
  std::string message;
};

class PgAuditLedger final : public AuditLedger {
 public:
  // `keys`: the ledger keys (the first authenticates appends; without one
  // append() refuses). `head_file`: where publish_head() writes and
  // verify() reads the published head; empty = no head (verify says so).
  PgAuditLedger(PgPool& pool, LedgerKeys keys, std::string head_file = "")
      : pool_(pool), keys_(std::move(keys)), head_file_(std::move(head_file)) {}

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

  // verify() with the chain head. With a head file, the chain must reach
  // the published head (`published` gets it; seq 0 when there is no head
  // file). False with db_error set when the table could not be read, or the
  // head file is missing or does not open with the keys.
  bool verify_chain(ChainCheck& out, std::string& db_error, LedgerHead* published = nullptr);

  // One publication pass (the sidecar runs it at an interval, `audit
  // publish` once): under the head file's lock, reads the published head
  // and the ledger's newest row; publishes that row when its hash verifies
  // and the ledger still holds the published head at its seq, else reports
  // kTampered and leaves the file as evidence.
  HeadPublication publish_head();

  // Why the last failed call failed (no secrets: libpq messages carry no
  // parameter values), for the caller's error log.
  std::string last_error() const;

  // Rows read per query by verify().
  static constexpr int kVerifyPage = 1000;

 private:
  bool append_once(PgSession& session, const AuditEvent& clean, std::string& sqlstate);
  void set_error(std::string e);

  PgPool& pool_;
  const LedgerKeys keys_;
  const std::string head_file_;
  mutable std::mutex mu_;  // guards last_error_
  std::string last_error_;
};

// The event as it will be stored: sanitized text, details redacted and
// defaulted. False (and `error` set) when details_json is not an object.
bool normalize_audit_event(const AuditEvent& in, AuditEvent& out, std::string& error);

}  // namespace realm_sidecar
