#include "provisioning/realm_settings_upgrade.h"

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

}  // namespace realm_sidecar
