// reconcile's realm-level check: which of an existing tenant realm's
// security settings (realm_security_settings(): password policy,
// brute-force detection) differ from the current realm spec. Reconcile puts
// them back with one partial PUT of the realm (TenantSaga::repair_drift).
#pragma once

#include <string>
#include <vector>

#include "util/json_helpers.h"

namespace realm_sidecar {

// The keys of `want` whose value differs in `realm` (a RealmRepresentation);
// an absent passwordPolicy counts as "". Pure, for tests.
std::vector<std::string> realm_settings_drift(const json_t* realm, const json_t* want);

}  // namespace realm_sidecar
