#include "provisioning/realm_settings_upgrade.h"

#include "keycloak/realm_spec.h"

namespace realm_sidecar {

std::vector<std::string> realm_settings_drift(const json_t* realm, const json_t* want) {
  std::vector<std::string> drift;
  const char* key;
  json_t* value;
  json_object_foreach(const_cast<json_t*>(want), key, value) {
    const json_t* have = json_object_get(realm, key);
    if (have == nullptr && json_is_string(value) && json_string_length(value) == 0) continue;
    if (have == nullptr || !json_equal(have, value)) drift.emplace_back(key);
  }
  return drift;
}

Outcome upgrade_realm_settings(AdminApi& kc, const std::string& realm, bool& changed,
                               std::vector<std::string>& drift) {
  changed = false;
  KcResponse r = kc.get_realm(realm);
  if (!r.ok()) {
    return fail(http_status_for(r.error), "reading realm " + realm + " failed", r.message);
  }
  JsonPtr have = json_parse(r.body);
  JsonPtr want = realm_security_settings();
  drift = realm_settings_drift(have.get(), want.get());
  if (drift.empty()) return Outcome{};
  // A partial RealmRepresentation: Keycloak changes only the members given.
  r = kc.call(nullptr, "PUT", AdminClient::segment(realm), want.get());
  if (!r.ok()) {
    return fail(http_status_for(r.error), "updating the security settings of " + realm + " failed",
                r.message);
  }
  changed = true;
  return Outcome{};
}

}  // namespace realm_sidecar
