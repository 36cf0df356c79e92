// reconcile's realm-level step: brings an existing tenant realm's security
// settings (realm_security_settings(): password policy, brute-force
// detection) up to the current realm spec with one partial PUT of the
// realm, only when one of them differs. Client-level upgrades live in
// TenantSaga::upgrade_realm.
#pragma once

#include <string>
#include <vector>

#include "keycloak/admin_client.h"
#include "provisioning/outcome.h"

namespace realm_sidecar {

// The keys of `want` whose value differs in `realm` (a RealmRepresentation);
// an absent passwordPolicy counts as "". Pure, for tests.
std::vector<std::string> realm_settings_drift(const json_t* realm, const json_t* want);

// As the provisioner. `changed`: the PUT was made; `drift` names what differed.
Outcome upgrade_realm_settings(AdminApi& kc, const std::string& realm, bool& changed,
                               std::vector<std::string>& drift);

}  // namespace realm_sidecar
