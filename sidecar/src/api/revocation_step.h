// The revocation step of a governed call whose Keycloak change must also
// stop tokens already issued (CONTRACT9 "Who publishes what"): called only
// after the change succeeded in Keycloak; records what was published in the
// outcome event's details; a publisher that promises nothing (false) makes
// the call answer 503 with a detail saying what was and was not done.
#pragma once

#include <functional>
#include <string>

#include "governance/governed_call.h"
#include "http/message.h"
#include "revocation/revocation_publisher.h"
#include "util/json_helpers.h"

namespace realm_sidecar {

struct RevocationStep {
  realm_auth::RevocationRecord record;
  bool published = false;
  std::string error;  // the publisher's reason (internal: log and ledger, not the client)
};

RevocationStep publish_revocation(RevocationPublisher& publisher, realm_auth::RevocationKind kind,
                                  const std::string& tenant, const std::string& subject);

// details.revocation = {kind, subject, not_before, expires, published[, error]}
void record_revocation(json_t* details, const RevocationStep& step);

// 503: `done` (what happened in Keycloak), that the tokens are not
// revoked, then `advice` (what the caller can do).
HttpResponse revocation_unavailable(const HttpRequest& req, const std::string& done,
                                    const std::string& advice, const RevocationStep& step);

// The end of a governed call whose Keycloak change is done (`done` says
// what it was): publishes the record, puts it in `details` (the outcome
// event's), and answers `answer(step)` when it was published, else the 503
// with `advice` and a failure reason for the PROVISIONING_FAILED row.
WorkResult revoke_and_answer(const HttpRequest& req, RevocationPublisher& publisher,
                             realm_auth::RevocationKind kind, const std::string& tenant,
                             const std::string& subject, json_t* details, const std::string& done,
                             const std::string& advice,
                             const std::function<HttpResponse(const RevocationStep&)>& answer);

}  // namespace realm_sidecar
