// realm_drift: a realm as Keycloak answers it, compared with the realm spec,
// without Keycloak. The "observed" realm is built from the spec itself (what
// Keycloak holds right after the create), then changed one thing at a time.
#include "keycloak/realm_drift.h"

#include "keycloak/realm_spec.h"
#include "sidecar_test.h"

using namespace realm_sidecar;

namespace {

JsonPtr spec() {
  RealmSpecInput in{"demo",
                    "Demo agency",
                    {"finance"},
                    {"http://localhost:8000/*"},
                    "http://127.0.0.1:8100/backchannel-logout/demo"};
  return realm_representation(in);
}

json_t* find_by(const json_t* array, const char* key, const char* value) {
  size_t i;
  json_t* item;
  json_array_foreach(array, i, item) {
    if (get_str(item, {key}) == value) return item;
  }
  return nullptr;
}

// What Keycloak answers for a realm created from `want`: GET /{realm},
// GET /roles (the spec's plus Keycloak's own), GET /clients (the spec's,
// with ids, extra defaults and Keycloak's built-in clients).
struct Observed {
  JsonPtr realm, roles, clients;
};

Observed observe(const json_t* want) {
  Observed o;
  o.realm = JsonPtr(json_deep_copy(want));
  o.roles = JsonPtr(json_deep_copy(json_object_get(json_object_get(want, "roles"), "realm")));
  JsonPtr extra_role(json_object());
  json_set(extra_role.get(), "name", "default-roles-tenant-demo");
  json_array_append(o.roles.get(), extra_role.get());
  o.clients = JsonPtr(json_deep_copy(json_object_get(want, "clients")));
  size_t i;
  json_t* c;
  json_array_foreach(o.clients.get(), i, c) {
    json_set(c, "id", "uuid-" + get_str(c, {"clientId"}));
    json_set(c, "surrogateAuthRequired", false);  // a Keycloak default
    if (json_is_object(json_object_get(c, "attributes")))
      json_set(json_object_get(c, "attributes"), "client.secret.creation.time", "1700000000");
    size_t k;
    json_t* m;
    json_array_foreach(json_object_get(c, "protocolMappers"), k, m) {
      json_set(json_object_get(m, "config"), "introspection.token.claim", "true");
    }
  }
  JsonPtr builtin(json_object());
  json_set(builtin.get(), "clientId", "account");
  json_array_append(o.clients.get(), builtin.get());
  return o;
}

std::vector<Drift> drift_of(const json_t* want, const Observed& o, bool enabled = true) {
  return realm_drift(want, enabled, o.realm.get(), o.roles.get(), o.clients.get());
}

void fresh_realm_has_no_drift(void**) {
  JsonPtr want = spec();
  Observed o = observe(want.get());
  std::vector<Drift> d = drift_of(want.get(), o);
  for (const auto& x : d) print_message("unexpected: %s\n", describe(x).c_str());
  assert_int_equal(d.size(), 0);
}

void enabled_against_the_row(void**) {
  JsonPtr want = spec();
  Observed o = observe(want.get());
  // Row disabled, realm enabled.
  std::vector<Drift> d = drift_of(want.get(), o, false);
  assert_int_equal(d.size(), 1);
  assert_int_equal(static_cast<int>(d[0].kind), static_cast<int>(DriftKind::kEnabled));
  assert_true(drift_repairable(d[0]));
  json_set(o.realm.get(), "enabled", false);
  assert_int_equal(drift_of(want.get(), o, false).size(), 0);
  assert_int_equal(drift_of(want.get(), o, true).size(), 1);
}

void missing_role(void**) {
  JsonPtr want = spec();
  Observed o = observe(want.get());
  size_t i;
  json_t* r;
  json_array_foreach(o.roles.get(), i, r) {
    if (get_str(r, {"name"}) == "auditor") break;
  }
  json_array_remove(o.roles.get(), i);
  std::vector<Drift> d = drift_of(want.get(), o);
  assert_int_equal(d.size(), 1);
  assert_int_equal(static_cast<int>(d[0].kind), static_cast<int>(DriftKind::kRoleMissing));
  assert_string_equal(d[0].name.c_str(), "auditor");
  assert_string_equal(describe(d[0]).c_str(), "realm role auditor missing");
}

// A realm created by an older spec that let admin-console use the password
// grant: reconcile --check names it and reconcile repairs it (the spec
// says false, whatever the configuration).
void old_spec_password_grant_is_repaired(void**) {
  JsonPtr want = spec();
  const json_t* wc = find_by(json_object_get(want.get(), "clients"), "clientId", kConsoleClientId);
  assert_true(json_is_false(json_object_get(wc, "directAccessGrantsEnabled")));
  Observed o = observe(want.get());
  json_set(find_by(o.clients.get(), "clientId", kConsoleClientId), "directAccessGrantsEnabled",
           true);
  std::vector<Drift> d = drift_of(want.get(), o);
  assert_int_equal(d.size(), 1);
  assert_string_equal(describe(d[0]).c_str(),
                      "client admin-console: directAccessGrantsEnabled is true, spec false");
  assert_true(drift_repairable(d[0]));
}

void client_flag_uris_and_attribute(void**) {
  JsonPtr want = spec();
  Observed o = observe(want.get());
  json_t* console = find_by(o.clients.get(), "clientId", kConsoleClientId);
  json_set(console, "directAccessGrantsEnabled", true);
  std::vector<Drift> d = drift_of(want.get(), o);
  assert_int_equal(d.size(), 1);
  assert_int_equal(static_cast<int>(d[0].kind), static_cast<int>(DriftKind::kClientField));
  assert_string_equal(describe(d[0]).c_str(),
                      "client admin-console: directAccessGrantsEnabled is true, spec false");
  json_set(console, "directAccessGrantsEnabled", false);
  json_set(console, "redirectUris", json_string_array({"https://evil.example/*"}));
  d = drift_of(want.get(), o);
  assert_int_equal(d.size(), 1);
  assert_string_equal(d[0].name.c_str(), "redirectUris");
  json_set(console, "redirectUris", json_string_array({"http://localhost:8000/*"}));
  json_object_del(json_object_get(console, "attributes"), "backchannel.logout.url");
  d = drift_of(want.get(), o);
  assert_int_equal(d.size(), 1);
  assert_string_equal(d[0].name.c_str(), "attributes.backchannel.logout.url");
}

void uri_order_is_not_drift(void**) {
  RealmSpecInput in{"demo", "Demo", {}, {"http://a/*", "http://b/*"}, ""};
  JsonPtr want = realm_representation(in);
  Observed o = observe(want.get());
  json_t* console = find_by(o.clients.get(), "clientId", kConsoleClientId);
  json_set(console, "redirectUris", json_string_array({"http://b/*", "http://a/*"}));
  assert_int_equal(drift_of(want.get(), o).size(), 0);
}

void missing_and_changed_mappers(void**) {
  JsonPtr want = spec();
  Observed o = observe(want.get());
  json_t* console = find_by(o.clients.get(), "clientId", kConsoleClientId);
  json_t* mappers = json_object_get(console, "protocolMappers");
  size_t i;
  json_t* m;
  json_array_foreach(mappers, i, m) {
    if (get_str(m, {"name"}) == kSidecarAudienceMapperName) break;
  }
  assert_true(i < json_array_size(mappers));
  json_array_remove(mappers, i);
  std::vector<Drift> d = drift_of(want.get(), o);
  assert_int_equal(d.size(), 1);
  assert_int_equal(static_cast<int>(d[0].kind), static_cast<int>(DriftKind::kMapperMissing));
  assert_string_equal(d[0].name.c_str(), kSidecarAudienceMapperName);
  assert_string_equal(d[0].client.c_str(), kConsoleClientId);
  // A config value changed on another mapper, then its type.
  o = observe(want.get());
  json_t* services = find_by(o.clients.get(), "clientId", kServicesClientId);
  json_t* first = json_array_get(json_object_get(services, "protocolMappers"), 0);
  const char* key = nullptr;
  json_t* v;
  json_object_foreach(json_object_get(first, "config"), key, v) {
    if (std::string(key) != "introspection.token.claim") break;
  }
  json_set(json_object_get(first, "config"), key, "changed");
  d = drift_of(want.get(), o);
  assert_int_equal(d.size(), 1);
  assert_int_equal(static_cast<int>(d[0].kind), static_cast<int>(DriftKind::kMapperDiffers));
  assert_true(drift_repairable(d[0]));
  json_set(first, "protocolMapper", "oidc-hardcoded-claim-mapper");
  d = drift_of(want.get(), o);
  assert_int_equal(d.size(), 1);
  assert_true(d[0].detail.rfind("type oidc-hardcoded-claim-mapper", 0) == 0);
}

void missing_client_is_not_repairable(void**) {
  JsonPtr want = spec();
  Observed o = observe(want.get());
  size_t i;
  json_t* c;
  json_array_foreach(o.clients.get(), i, c) {
    if (get_str(c, {"clientId"}) == kServicesClientId) break;
  }
  json_array_remove(o.clients.get(), i);
  std::vector<Drift> d = drift_of(want.get(), o);
  assert_int_equal(d.size(), 1);
  assert_int_equal(static_cast<int>(d[0].kind), static_cast<int>(DriftKind::kClientMissing));
  assert_false(drift_repairable(d[0]));
  assert_string_equal(describe(d[0]).c_str(), "client tenant-services missing");
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(fresh_realm_has_no_drift),
      cmocka_unit_test(enabled_against_the_row),
      cmocka_unit_test(missing_role),
      cmocka_unit_test(old_spec_password_grant_is_repaired),
      cmocka_unit_test(client_flag_uris_and_attribute),
      cmocka_unit_test(uri_order_is_not_drift),
      cmocka_unit_test(missing_and_changed_mappers),
      cmocka_unit_test(missing_client_is_not_repairable),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
