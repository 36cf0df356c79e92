#include "governance/governed_call.h"

#include <chrono>
#include <cstdio>

#include "http/problem.h"
#include "metrics/sidecar_metrics.h"
#include "purpose.h"

namespace realm_sidecar {

namespace {

AuditEvent base_event(const char* type, const HttpRequest& request, const Actor& actor,
                      const GovernedOp& op, const std::string& purpose) {
  AuditEvent e;
  e.event_type = type;
  e.request_id = request.request_id;
  e.actor_id = actor.actor_id;
  e.actor_realm = actor.realm;
  e.tenant_id = op.resource.tenant_id;
  e.action = op.action;
  e.purpose = purpose;
  return e;
}

HttpResponse audit_unavailable(const HttpRequest& request, const char* stage) {
  std::fprintf(stderr, "realm-sidecar: audit append (%s) failed; refusing request_id=%s\n", stage,
               request.request_id.c_str());
  return problem(503, "the audit ledger is unavailable; the operation was not performed", "",
                 request.request_id);
}

// Step 0: a refused call writes nothing; refusals are counted by the
// limiter and reported once per actor per interval (not once per call).
bool over_rate(Governance& g, const HttpRequest& request, const Actor& actor, HttpResponse& out) {
  if (g.limiter == nullptr) return false;
  RateVerdict v = g.limiter->admit(actor.tenant_id + "/" + actor.realm + "/" + actor.actor_id);
  if (v.allowed) return false;
  if (v.report_refused > 0) {
    std::fprintf(stderr,
                 "realm-sidecar: rate limit: actor %s of realm %s refused %llu governed call(s) "
                 "since its last report request_id=%s\n",
                 actor.actor_id.c_str(), actor.realm.c_str(),
                 static_cast<unsigned long long>(v.report_refused), request.request_id.c_str());
  }
  out = problem(429,
                "rate limit: too many governed calls by this actor; retry after " +
                    std::to_string(v.retry_after_s) + " s",
                "", request.request_id);
  out.headers.emplace_back("Retry-After", std::to_string(v.retry_after_s));
  return true;
}

}  // namespace

std::string purpose_of(const HttpRequest& request, std::string& error) {
  // Core's rule (purpose.h), the one nginx applies before it forwards.
  const std::vector<std::string> lines = request.header_values("x-purpose");
  realm_auth::PurposeSelector selector;
  for (const std::string& line : lines) selector.add_line(line);
  realm_auth::PurposeChoice choice = selector.result();
  if (choice.check != realm_auth::PurposeCheck::kOk) {
    error = realm_auth::purpose_problem(choice.check);
    return "";
  }
  return std::string(choice.value);
}

HttpResponse governed_call(Governance& g, const HttpRequest& request, const Actor& actor,
                           const GovernedOp& op, const std::function<WorkResult()>& work) {
  HttpResponse limited;
  if (over_rate(g, request, actor, limited)) return limited;
  std::string why;
  const std::string purpose = purpose_of(request, why);
  if (purpose.empty()) return problem(400, why, "X-Purpose", request.request_id);

  AuthorizeRequest ar;
  ar.actor = actor;
  ar.action = op.action;
  ar.resource = op.resource;
  ar.purpose = purpose;
  ar.request_id = request.request_id;
  ar.client_ip = request.client_ip;

  AuditEvent req = base_event("REQUEST", request, actor, op, purpose);
  req.details_json = authorize_request_json(ar);
  if (!g.ledger.append(req)) return audit_unavailable(request, "REQUEST");

  const auto asked = std::chrono::steady_clock::now();
  Decision d = g.pdp.authorize(ar);
  metrics::policy_decision(
      d.allow, std::chrono::duration<double>(std::chrono::steady_clock::now() - asked).count());
  AuditEvent dec = base_event("AUTHZ_DECISION", request, actor, op, purpose);
  dec.decision = d.allow ? "allow" : "deny";
  dec.reason = d.reason;
  if (!g.ledger.append(dec)) return audit_unavailable(request, "AUTHZ_DECISION");
  if (!d.allow) {
    return problem(403, op.action + " denied: " + d.reason, "", request.request_id);
  }

  WorkResult w = work();
  if (op.success_event.empty()) return w.response;  // reads: no outcome event
  const bool failed = w.response.status >= 400;
  AuditEvent out = base_event(failed ? "PROVISIONING_FAILED" : op.success_event.c_str(), request,
                              actor, op, purpose);
  out.details_json = w.details_json;
  if (failed) {
    out.reason =
        !w.failure_reason.empty() ? w.failure_reason : "HTTP " + std::to_string(w.response.status);
  }
  if (!g.ledger.append(out)) {
    // The work is done and cannot be unsent (a one-time password may be in
    // the body): answer it, and make the gap loud for operators.
    std::fprintf(stderr, "realm-sidecar: AUDIT GAP: outcome %s of %s not recorded request_id=%s\n",
                 out.event_type.c_str(), op.action.c_str(), request.request_id.c_str());
  } else if (w.on_recorded) {
    w.on_recorded();
  }
  return w.response;
}

}  // namespace realm_sidecar
