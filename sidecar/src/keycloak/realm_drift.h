// How a tenant realm in Keycloak differs from the realm spec
// (realm_representation()): the enabled flag against the tenant row, realm
// roles, clients (their flags, URIs and attributes) and their protocol
// mappers. A PURE function of Admin API JSON: no I/O, unit-tested without
// Keycloak. `realm-sidecar reconcile --check` reports these; `reconcile`
// repairs the kinds it can (drift_repairable()).
//
// Only what the spec sets is compared: Keycloak's own defaults (extra
// attributes, extra mapper config keys, built-in roles and clients) are not
// drift.
#pragma once

#include <string>
#include <vector>

#include "util/json_helpers.h"

namespace realm_sidecar {

enum class DriftKind {
  kEnabled,        // realm.enabled differs from the row's status
  kRoleMissing,    // a spec realm role is absent
  kClientMissing,  // a spec client is absent
  kClientField,    // a spec member of a client differs (name = the member)
  kMapperMissing,  // a spec protocol mapper is absent from its client
  kMapperDiffers,  // present, with another mapper type or config value
  kRealmSetting,   // password policy / brute force (realm_security_settings())
};

struct Drift {
  DriftKind kind;
  std::string client;  // clientId, for client and mapper kinds
  std::string name;    // role, member ("attributes.x" for attributes) or mapper name
  std::string detail;  // what differs, e.g. "true, spec false"
};

// `want`: realm_representation(); `want_enabled`: the row is active;
// `realm`: GET /{realm}; `roles`: GET /{realm}/roles; `clients`: GET
// /{realm}/clients (ClientRepresentations with their protocolMappers).
std::vector<Drift> realm_drift(const json_t* want, bool want_enabled, const json_t* realm,
                               const json_t* roles, const json_t* clients);

// One line: "client admin-console: directAccessGrantsEnabled is true, spec false".
std::string describe(const Drift& d);

// A client missing from a realm cannot be recreated in place (its secret,
// service account and role grants belong to the tenant's creation); every
// other kind is repaired by reconcile.
bool drift_repairable(const Drift& d);

}  // namespace realm_sidecar
