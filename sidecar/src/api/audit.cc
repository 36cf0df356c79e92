// GET /audit?tenant_id=<slug>&limit=<n>: the newest ledger rows, oldest
// first, as `realm-sidecar audit tail` prints them. A governed read
// (audit.read): platform_admin of realm platform reads any tenant's rows or,
// without tenant_id, the whole ledger; a tenant's auditor only its own
// tenant's rows. Like the other reads, no outcome event: the REQUEST and
// AUTHZ_DECISION rows record who read what. The ledger never holds a secret
// (details are redacted on append), so the rows are answered as stored.
#include <cstdlib>

#include "api/app.h"
#include "http/problem.h"
#include "issuer.h"  // realm_auth::is_valid_slug

namespace realm_sidecar {

namespace {

constexpr long kDefaultLimit = 100;
constexpr long kMaxLimit = 1000;

// "" when `text` is a decimal integer in 1..kMaxLimit (stored in `out`).
std::string parse_limit(const std::string& text, long& out) {
  const std::string why = "limit must be an integer from 1 to " + std::to_string(kMaxLimit) +
                          " (default " + std::to_string(kDefaultLimit) + ")";
  if (text.empty() || text.size() > 4) return why;
  for (char c : text) {
    if (c < '0' || c > '9') return why;
  }
  out = std::strtol(text.c_str(), nullptr, 10);
  return out >= 1 && out <= kMaxLimit ? "" : why;
}

}  // namespace

JsonPtr audit_row_json(const AuditRow& r) {
  JsonPtr j(json_object());
  json_set(j.get(), "seq", static_cast<long long>(r.seq));
  json_set(j.get(), "occurred_at", r.occurred_at);
  json_set(j.get(), "event_type", r.event.event_type);
  json_set(j.get(), "request_id", r.event.request_id);
  json_set(j.get(), "actor_id", r.event.actor_id);
  json_set(j.get(), "actor_realm", r.event.actor_realm);
  json_set(j.get(), "tenant_id", r.event.tenant_id);
  json_set(j.get(), "tenant_incarnation", r.event.tenant_incarnation);
  json_set(j.get(), "action", r.event.action);
  json_set(j.get(), "purpose", r.event.purpose);
  json_set(j.get(), "decision", r.event.decision);
  json_set(j.get(), "reason", r.event.reason);
  JsonPtr details = json_parse(r.event.details_json);
  json_set(j.get(), "details", details ? std::move(details) : JsonPtr(json_object()));
  json_set(j.get(), "prev_hash", r.prev_hash);
  json_set(j.get(), "row_hash", r.row_hash);
  json_set(j.get(), "key_id", r.key_id);
  return j;
}

HttpResponse read_audit(App& app, const HttpRequest& req, const Actor& actor) {
  std::string tenant_id;
  long limit = kDefaultLimit;
  for (const auto& [name, value] : req.query) {
    if (name == "tenant_id") {
      if (!realm_auth::is_valid_slug(value)) {
        return problem(400,
                       "tenant_id must be a tenant slug: 1 to 63 characters a-z, 0-9 and '-', "
                       "starting and ending with a letter or digit",
                       "tenant_id", req.request_id);
      }
      tenant_id = value;
    } else if (name == "limit") {
      std::string why = parse_limit(value, limit);
      if (!why.empty()) return problem(400, why, "limit", req.request_id);
    } else {
      return problem(
          400, "unknown query parameter '" + name.substr(0, 64) + "'; allowed: tenant_id, limit",
          name.substr(0, 64), req.request_id);
    }
  }
  // resource.tenant_id empty = the whole ledger (platform_admin only).
  GovernedOp op{"audit.read", Resource{"audit", tenant_id, ""}, ""};
  return governed_call(app.governance, req, actor, op, [&]() {
    WorkResult w;
    std::vector<AuditRow> rows;
    // A tenant's own reader sees its own incarnation only: the rows of an
    // earlier, deleted tenant of the same slug are not its to read.
    const std::string incarnation =
        !actor.tenant_id.empty() && actor.tenant_id == tenant_id ? actor.tenant_incarnation : "";
    if (!app.governance.ledger.tail(tenant_id, incarnation, static_cast<int>(limit), rows)) {
      w.response = problem(503, "the audit ledger could not be read", "", req.request_id);
      return w;
    }
    JsonPtr list(json_array());
    for (const AuditRow& r : rows) json_array_append_new(list.get(), audit_row_json(r).release());
    JsonPtr body(json_object());
    json_set(body.get(), "rows", std::move(list));
    w.response = json_response(200, body.get());
    return w;
  });
}

}  // namespace realm_sidecar
