// The one path every governed operation takes (DESIGN.md "Every governed
// call"), so no handler can forget a step or reorder them:
//
//   0. the actor's rate limit        else 429 + Retry-After, counted, no row
//   1. X-Purpose present             else 400, field "X-Purpose"
//   2. ledger.append(REQUEST)        else 503   ─┐ no audit,
//   3. pdp.authorize(request)                     │ no work:
//   4. ledger.append(AUTHZ_DECISION) else 503   ─┘ nothing touched yet
//   5. deny → 403 with the policy's reason
//   6. work()
//   7. ledger.append(outcome): op.success_event when work answered < 400,
//      PROVISIONING_FAILED for a failed mutation, nothing for a failed read;
//      then work's on_recorded, if the append succeeded.
//
// Authentication (401) happens before: the caller passes the verified Actor.
// The policy and the ledger are interfaces (governance/authorize.h,
// governance/audit_ledger.h); this file is only the flow.
#pragma once

#include <functional>
#include <string>

#include "governance/audit_ledger.h"
#include "governance/authorize.h"
#include "governance/rate_limit.h"
#include "http/message.h"

namespace realm_sidecar {

struct GovernedOp {
  std::string action;  // tenant.create, user.create, tenant.read …
  Resource resource;
  std::string success_event;  // TENANT_CREATED …; empty for reads
};

struct WorkResult {
  HttpResponse response;
  std::string details_json = "{}";  // outcome details: ids, roles; never a secret
  std::string failure_reason;       // for PROVISIONING_FAILED; defaults to the status
  // Runs once the outcome row is in the ledger (not when that append
  // failed): e.g. drops the provisioning attempt crash recovery would
  // otherwise settle (provisioning/crash_recovery.h).
  std::function<void()> on_recorded;
};

struct Governance {
  AuditLedger& ledger;
  PolicyDecisionPoint& pdp;
  ActorRateLimiter* limiter = nullptr;  // null: unlimited (unit tests of the flow)
};

// The request's purpose by core's rule (purpose.h: exactly one X-Purpose
// line, trimmed, at most 500 bytes, no control bytes), or "" with `error`
// saying which part of the rule it broke.
std::string purpose_of(const HttpRequest& request, std::string& error);

HttpResponse governed_call(Governance& g, const HttpRequest& request, const Actor& actor,
                           const GovernedOp& op, const std::function<WorkResult()>& work);

}  // namespace realm_sidecar
