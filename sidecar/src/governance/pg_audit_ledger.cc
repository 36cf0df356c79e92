#include "pg_audit_ledger.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "metrics/sidecar_metrics.h"
#include "util/json_helpers.h"
#include "util/text.h"

namespace realm_sidecar {

namespace {

// Canonical occurred_at text (see ledger_hash.h); also used to read rows.
#define LEDGER_TS(expr) \
  "to_char((" expr ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

constexpr const char kColumns[] =
    "seq, " LEDGER_TS("occurred_at") ", event_type, request_id, actor_id, actor_realm, "
    "tenant_id, action, purpose, decision, reason, details, prev_hash, row_hash, "
    "tenant_incarnation, key_id";

constexpr int kAppendAttempts = 3;
constexpr int kMaxTail = 10000;

bool sensitive_key(const char* key) {
  std::string k(key);
  std::transform(k.begin(), k.end(), k.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const char* word : {"password", "secret", "token", "credential"}) {
    if (k.find(word) != std::string::npos) return true;
  }
  return false;
}

// Replaces values of sensitive members, recursively; true if any was.
bool redact(json_t* j) {
  bool changed = false;
  if (json_is_object(j)) {
    const char* key;
    json_t* value;
    json_object_foreach(j, key, value) {
      if (sensitive_key(key)) {
        json_object_set_new(j, key, json_string("[REDACTED]"));
        changed = true;
      } else {
        changed = redact(value) || changed;
      }
    }
  } else if (json_is_array(j)) {
    for (size_t i = 0; i < json_array_size(j); ++i)
      changed = redact(json_array_get(j, i)) || changed;
  }
  return changed;
}

AuditRow row_from(const PgResult& r, int i) {
  AuditRow row;
  row.seq = std::strtoll(r.get(i, 0).c_str(), nullptr, 10);
  row.occurred_at = r.get(i, 1);
  AuditEvent& e = row.event;
  e.event_type = r.get(i, 2);
  e.request_id = r.get(i, 3);
  e.actor_id = r.get(i, 4);
  e.actor_realm = r.get(i, 5);
  e.tenant_id = r.get(i, 6);
  e.action = r.get(i, 7);
  e.purpose = r.get(i, 8);
  e.decision = r.get(i, 9);
  e.reason = r.get(i, 10);
  e.details_json = r.get(i, 11);
  row.prev_hash = r.get(i, 12);
  row.row_hash = r.get(i, 13);
  e.tenant_incarnation = r.get(i, 14);
  row.key_id = r.get(i, 15);
  return row;
}

bool retryable(const std::string& sqlstate) {
  // unique violation (a writer that skipped the lock won the race),
  // serialization failure, deadlock.
  return sqlstate == "23505" || sqlstate == "40001" || sqlstate == "40P01";
}

}  // namespace

bool normalize_audit_event(const AuditEvent& in, AuditEvent& out, std::string& error) {
  out.event_type = sanitize_utf8(in.event_type);
  out.request_id = sanitize_utf8(in.request_id);
  out.actor_id = sanitize_utf8(in.actor_id);
  out.actor_realm = sanitize_utf8(in.actor_realm);
  out.tenant_id = sanitize_utf8(in.tenant_id);
  out.tenant_incarnation = sanitize_utf8(in.tenant_incarnation);
  out.action = sanitize_utf8(in.action);
  out.purpose = sanitize_utf8(in.purpose);
  out.decision = sanitize_utf8(in.decision);
  out.reason = sanitize_utf8(in.reason);
  if (in.details_json.empty()) {
    out.details_json = "{}";
    return true;
  }
  JsonPtr details = json_parse(in.details_json);
  if (!details || !json_is_object(details.get())) {
    error = "audit details_json is not a JSON object";
    return false;
  }
  out.details_json = redact(details.get()) ? json_text(details.get()) : in.details_json;
  return true;
}

void PgAuditLedger::set_error(std::string e) {
  std::lock_guard<std::mutex> lock(mu_);
  last_error_ = std::move(e);
}

std::string PgAuditLedger::last_error() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_error_;
}

bool PgAuditLedger::append(const AuditEvent& event) {
  // Every return below counts as failed except the one that committed.
  struct Count {
    bool ok = false;
    ~Count() { metrics::ledger_append(ok); }
  } counted;
  if (keys_.empty()) {
    set_error("audit ledger: no ledger key (AUDIT_HMAC_KEY_FILE): refusing unkeyed rows");
    return false;
  }
  AuditEvent clean;
  std::string error;
  if (!normalize_audit_event(event, clean, error)) {
    set_error(error);
    return false;
  }
  PgSession session = pool_.acquire();
  if (!session.raw()) {
    set_error("audit ledger: PostgreSQL unreachable");
    return false;
  }
  for (int attempt = 1; attempt <= kAppendAttempts; ++attempt) {
    std::string sqlstate;
    if (append_once(session, clean, sqlstate)) {
      counted.ok = true;
      return true;
    }
    if (!retryable(sqlstate) || !session.healthy()) break;
  }
  return false;
}

// One transaction: lock, read head + clock, hash, insert, commit. On any
// failure it rolls back, records the error and returns the SQLSTATE.
bool PgAuditLedger::append_once(PgSession& s, const AuditEvent& e, std::string& sqlstate) {
  auto fail = [&](const char* step, const PgResult& r) {
    sqlstate = r.sqlstate;
    set_error(std::string("audit ledger: ") + step + " failed: " + r.error);
    if (s.healthy()) s.exec("ROLLBACK");
    return false;
  };
  PgResult r = s.exec("BEGIN");
  if (!r.ok) return fail("BEGIN", r);
  // Bounded waits: a stuck holder must not hang every request thread.
  r = s.exec("SET LOCAL lock_timeout = '10s'");
  if (!r.ok) return fail("SET lock_timeout", r);
  r = s.exec("SELECT pg_advisory_xact_lock($1::bigint)", {std::to_string(kLedgerLockKey)});
  if (!r.ok) return fail("advisory lock", r);
  // A new statement, so its snapshot includes every append committed before
  // the lock was granted.
  r = s.exec("SELECT " LEDGER_TS("clock_timestamp()") ", h.seq, h.row_hash "
             "FROM (SELECT 1) AS one LEFT JOIN "
             "(SELECT seq, row_hash FROM audit_ledger ORDER BY seq DESC LIMIT 1) AS h ON true");
  if (!r.ok || r.rows() != 1) return fail("reading the chain head", r);
  // The incarnation of the tenant acted on, read in this transaction: the
  // live row, else (the outcome of a deletion) the incarnation deleted by
  // this very request's saga, the newest tombstone of the slug.
  PgResult inc = s.exec(
      "SELECT coalesce((SELECT incarnation_id::text FROM tenants WHERE tenant_id = $1),"
      " CASE WHEN $2 = 'TENANT_DELETED' THEN (SELECT incarnation_id::text FROM tenant_tombstones"
      " WHERE tenant_id = $1 ORDER BY deleted_at DESC LIMIT 1) END, '')",
      {e.tenant_id, e.event_type});
  if (!inc.ok || inc.rows() != 1) return fail("reading the tenant's incarnation", inc);

  AuditRow row;
  row.occurred_at = r.get(0, 0);
  row.seq = r.is_null(0, 1) ? 1 : std::strtoll(r.get(0, 1).c_str(), nullptr, 10) + 1;
  row.prev_hash = r.is_null(0, 2) ? kGenesisHash : r.get(0, 2);
  row.event = e;
  row.event.tenant_incarnation = e.tenant_id.empty() ? "" : inc.get(0, 0);
  row.key_id = keys_.front().id;
  row.row_hash = ledger_row_hash(row, keys_);
  if (row.row_hash.empty()) {
    set_error("audit ledger: HMAC-SHA-256 failed");
    s.exec("ROLLBACK");
    return false;
  }
  r = s.exec(
      "INSERT INTO audit_ledger (seq, occurred_at, event_type, request_id, actor_id, "
      "actor_realm, tenant_id, action, purpose, decision, reason, details, prev_hash, row_hash, "
      "tenant_incarnation, key_id) VALUES ($1::bigint, $2::timestamptz, $3, $4, $5, $6, $7, $8, "
      "$9, "
      "$10, $11, $12, $13, $14, $15, $16)",
      {std::to_string(row.seq), row.occurred_at, e.event_type, e.request_id, e.actor_id,
       e.actor_realm, e.tenant_id, e.action, e.purpose, e.decision, e.reason, e.details_json,
       row.prev_hash, row.row_hash, row.event.tenant_incarnation, row.key_id});
  if (!r.ok) return fail("INSERT", r);
  r = s.exec("COMMIT");
  if (!r.ok) return fail("COMMIT", r);
  return true;
}

bool PgAuditLedger::tail(const std::string& tenant_id, const std::string& incarnation, int limit,
                         std::vector<AuditRow>& out) {
  out.clear();
  limit = std::clamp(limit, 1, kMaxTail);
  PgSession s = pool_.acquire();
  if (!s.raw()) {
    set_error("audit ledger: PostgreSQL unreachable");
    return false;
  }
  const std::string base = std::string("SELECT ") + kColumns + " FROM audit_ledger ";
  PgResult r;
  if (tenant_id.empty()) {
    r = s.exec(base + "ORDER BY seq DESC LIMIT $1::int", {std::to_string(limit)});
  } else if (incarnation.empty()) {
    r = s.exec(base + "WHERE tenant_id = $1 ORDER BY seq DESC LIMIT $2::int",
               {sanitize_utf8(tenant_id), std::to_string(limit)});
  } else {
    // Rows written before migration 0003 carry no incarnation: they belong
    // to the one live when they were written, i.e. since its start. Later
    // rows without one concern no existing tenant (the REQUEST of a
    // tenant.create, a call on a deleted slug) and belong to none.
    r = s.exec(base +
                   "WHERE tenant_id = $1 AND (tenant_incarnation = $2 OR (tenant_incarnation = ''"
                   " AND occurred_at >= (SELECT to_timestamp(incarnation_started_at) FROM tenants"
                   " WHERE tenant_id = $1 AND incarnation_id::text = $2)"
                   " AND occurred_at < (SELECT applied_at FROM schema_migrations"
                   " WHERE version = '0003')))"
                   " ORDER BY seq DESC LIMIT $3::int",
               {sanitize_utf8(tenant_id), sanitize_utf8(incarnation), std::to_string(limit)});
  }
  if (!r.ok) {
    set_error("audit ledger: tail failed: " + r.error);
    return false;
  }
  for (int i = r.rows() - 1; i >= 0; --i) out.push_back(row_from(r, i));
  return true;
}

bool PgAuditLedger::verify_chain(ChainCheck& out, std::string& db_error, LedgerHead* published) {
  ChainVerifier verifier(keys_);
  LedgerHead head;
  if (!head_file_.empty()) {
    std::string why;
    switch (read_ledger_head(head_file_, keys_, head, why)) {
      case HeadRead::kOk:
        verifier.expect_head(head.seq, head.row_hash);
        break;
      case HeadRead::kMissing:
        // Fail closed: without it a cut-off tail cannot be told apart.
        db_error = "no published head at " + head_file_ +
                   " (`realm-sidecar serve` writes it; `audit publish` does once)";
        set_error("audit ledger: " + db_error);
        return false;
      case HeadRead::kInvalid:
        db_error = why;
        set_error("audit ledger: " + db_error);
        return false;
    }
  }
  if (published) *published = head;
  PgSession s = pool_.acquire();
  if (!s.raw()) {
    db_error = "PostgreSQL unreachable";
    set_error("audit ledger: " + db_error);
    return false;
  }
  int64_t after = 0;
  for (;;) {
    PgResult r = s.exec(std::string("SELECT ") + kColumns +
                            " FROM audit_ledger WHERE seq > $1::bigint ORDER BY seq LIMIT $2::int",
                        {std::to_string(after), std::to_string(kVerifyPage)});
    if (!r.ok) {
      db_error = "reading audit_ledger failed: " + r.error;
      set_error("audit ledger: " + db_error);
      return false;
    }
    bool broken = false;
    for (int i = 0; i < r.rows() && !broken; ++i) {
      AuditRow row = row_from(r, i);
      after = row.seq;
      broken = !verifier.feed(row);
    }
    if (broken || r.rows() < kVerifyPage) break;
  }
  out = verifier.finish();
  return true;
}

HeadPublication PgAuditLedger::publish_head() {
  HeadPublication p;
  if (head_file_.empty() || keys_.empty()) {
    p.message = "no head file or no ledger key configured";
    return p;
  }
  LedgerHeadLock lock(head_file_);
  if (!lock.ok()) {
    p.message = "cannot lock " + head_file_ + ".lock";
    return p;
  }
  LedgerHead published;
  std::string why;
  const HeadRead got = read_ledger_head(head_file_, keys_, published, why);
  if (got == HeadRead::kInvalid) {
    p.status = HeadPublication::kTampered;
    p.message = why;
    return p;
  }
  PgSession s = pool_.acquire();
  if (!s.raw()) {
    p.message = "PostgreSQL unreachable";
    return p;
  }
  PgResult r =
      s.exec(std::string("SELECT ") + kColumns + " FROM audit_ledger ORDER BY seq DESC LIMIT 1");
  if (!r.ok) {
    p.message = "reading the ledger head failed: " + r.error;
    return p;
  }
  if (r.rows() == 0) {
    if (got == HeadRead::kOk) {
      p.status = HeadPublication::kTampered;
      p.message = "the ledger is empty, but seq " + std::to_string(published.seq) +
                  " was published as its head";
    } else {
      p.status = HeadPublication::kEmpty;
    }
    return p;
  }
  AuditRow row = row_from(r, 0);
  // Only a head that verifies is published: a row planted with a made-up
  // hash must not become the anchor.
  if (ledger_row_hash(row, keys_) != row.row_hash) {
    p.status = HeadPublication::kTampered;
    p.message = "the ledger's newest row (seq " + std::to_string(row.seq) +
                ") does not verify with the ledger keys";
    return p;
  }
  if (got == HeadRead::kOk) {
    if (row.seq < published.seq) {
      p.status = HeadPublication::kTampered;
      p.message = "the ledger ends at seq " + std::to_string(row.seq) + ", but seq " +
                  std::to_string(published.seq) + " was published as its head";
      return p;
    }
    PgResult at = s.exec("SELECT row_hash FROM audit_ledger WHERE seq = $1::bigint",
                         {std::to_string(published.seq)});
    if (!at.ok) {
      p.message = "reading the ledger failed: " + at.error;
      return p;
    }
    if (at.rows() != 1 || at.get(0, 0) != published.row_hash) {
      p.status = HeadPublication::kTampered;
      p.message = "row " + std::to_string(published.seq) +
                  " differs from the published head: the ledger was cut and written again";
      return p;
    }
    if (row.seq == published.seq) {
      p.status = HeadPublication::kUnchanged;
      p.head = published;
      return p;
    }
  }
  p.head.seq = row.seq;
  p.head.row_hash = row.row_hash;
  p.head.published_ms = realm_auth::unix_ms();
  if (!write_ledger_head(head_file_, keys_, p.head, p.message)) {
    p.status = HeadPublication::kError;
    return p;
  }
  p.status = HeadPublication::kPublished;
  return p;
}

bool PgAuditLedger::verify(int64_t& rows_checked, int64_t& first_broken_seq, std::string& why) {
  ChainCheck check;
  std::string db_error;
  if (!verify_chain(check, db_error)) {
    rows_checked = 0;
    first_broken_seq = 0;
    why = db_error;
    return false;
  }
  rows_checked = check.rows_checked;
  first_broken_seq = check.first_broken_seq;
  why = check.why;
  return check.ok;
}

}  // namespace realm_sidecar
