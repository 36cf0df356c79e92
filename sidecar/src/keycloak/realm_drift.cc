#include "keycloak/realm_drift.h"

#include <algorithm>
#include <set>

namespace realm_sidecar {

namespace {

const json_t* by_member(const json_t* array, const char* key, const std::string& value) {
  size_t i;
  json_t* e;
  json_array_foreach(const_cast<json_t*>(array), i, e) {
    if (json_member_string(e, key) == value) return e;
  }
  return nullptr;
}

std::string shown(const json_t* v) {
  if (v == nullptr) return "absent";
  if (json_is_string(v)) return std::string("\"") + json_string_value(v) + "\"";
  return json_text(v);
}

// Arrays of strings compare as sets (Keycloak does not keep the order).
bool same_string_set(const json_t* a, const json_t* b) {
  if (!json_is_array(a) || !json_is_array(b)) return false;
  auto to_set = [](const json_t* arr) {
    std::set<std::string> s;
    size_t i;
    json_t* e;
    json_array_foreach(const_cast<json_t*>(arr), i, e) {
      if (json_is_string(e)) s.insert(json_string_value(e));
    }
    return s;
  };
  return to_set(a) == to_set(b);
}

void client_drift(const json_t* want, const json_t* have, std::vector<Drift>& out) {
  const std::string id = json_member_string(want, "clientId");
  const char* key;
  json_t* value;
  json_object_foreach(const_cast<json_t*>(want), key, value) {
    const json_t* got = json_object_get(have, key);
    if (json_is_boolean(value) || json_is_string(value)) {
      if (got == nullptr || !json_equal(got, value))
        out.push_back({DriftKind::kClientField, id, key, shown(got) + ", spec " + shown(value)});
    } else if (json_is_array(value) && std::string(key) != "protocolMappers") {
      if (!same_string_set(got, value))
        out.push_back({DriftKind::kClientField, id, key, shown(got) + ", spec " + shown(value)});
    } else if (json_is_object(value) && std::string(key) == "attributes") {
      const char* akey;
      json_t* avalue;
      json_object_foreach(value, akey, avalue) {
        const json_t* agot = json_is_object(got) ? json_object_get(got, akey) : nullptr;
        if (agot == nullptr || !json_equal(agot, avalue))
          out.push_back({DriftKind::kClientField, id, std::string("attributes.") + akey,
                         shown(agot) + ", spec " + shown(avalue)});
      }
    }
  }
  const json_t* have_mappers = json_object_get(have, "protocolMappers");
  size_t i;
  json_t* m;
  json_array_foreach(json_object_get(want, "protocolMappers"), i, m) {
    const std::string name = json_member_string(m, "name");
    const json_t* hm = by_member(have_mappers, "name", name);
    if (hm == nullptr) {
      out.push_back({DriftKind::kMapperMissing, id, name, "missing"});
      continue;
    }
    if (json_member_string(hm, "protocolMapper") != json_member_string(m, "protocolMapper")) {
      out.push_back({DriftKind::kMapperDiffers, id, name,
                     "type " + json_member_string(hm, "protocolMapper") + ", spec " +
                         json_member_string(m, "protocolMapper")});
      continue;
    }
    const json_t* hc = json_object_get(hm, "config");
    const char* ckey;
    json_t* cvalue;
    json_object_foreach(json_object_get(m, "config"), ckey, cvalue) {
      const json_t* cgot = json_is_object(hc) ? json_object_get(hc, ckey) : nullptr;
      if (cgot == nullptr || !json_equal(cgot, cvalue)) {
        out.push_back(
            {DriftKind::kMapperDiffers, id, name,
             std::string("config ") + ckey + " " + shown(cgot) + ", spec " + shown(cvalue)});
      }
    }
  }
}

}  // namespace

std::vector<Drift> realm_drift(const json_t* want, bool want_enabled, const json_t* realm,
                               const json_t* roles, const json_t* clients) {
  std::vector<Drift> out;
  const json_t* enabled = json_object_get(realm, "enabled");
  if (!json_is_boolean(enabled) || json_is_true(enabled) != want_enabled) {
    out.push_back({DriftKind::kEnabled, "", "enabled",
                   shown(enabled) + ", row says " + (want_enabled ? "true" : "false")});
  }
  size_t i;
  json_t* e;
  json_array_foreach(json_object_get(json_object_get(want, "roles"), "realm"), i, e) {
    const std::string name = json_member_string(e, "name");
    if (by_member(roles, "name", name) == nullptr)
      out.push_back({DriftKind::kRoleMissing, "", name, "missing"});
  }
  json_array_foreach(json_object_get(want, "clients"), i, e) {
    const std::string id = json_member_string(e, "clientId");
    const json_t* have = by_member(clients, "clientId", id);
    if (have == nullptr) {
      out.push_back({DriftKind::kClientMissing, id, id, "missing"});
      continue;
    }
    client_drift(e, have, out);
  }
  return out;
}

std::string describe(const Drift& d) {
  switch (d.kind) {
    case DriftKind::kEnabled:
      return "realm enabled is " + d.detail;
    case DriftKind::kRoleMissing:
      return "realm role " + d.name + " missing";
    case DriftKind::kClientMissing:
      return "client " + d.client + " missing";
    case DriftKind::kClientField:
      return "client " + d.client + ": " + d.name + " is " + d.detail;
    case DriftKind::kMapperMissing:
      return "client " + d.client + ": mapper '" + d.name + "' missing";
    case DriftKind::kMapperDiffers:
      return "client " + d.client + ": mapper '" + d.name + "' " + d.detail;
    case DriftKind::kRealmSetting:
      return "realm setting " + d.name + " " + d.detail;
  }
  return "?";
}

bool drift_repairable(const Drift& d) { return d.kind != DriftKind::kClientMissing; }

}  // namespace realm_sidecar
