// realm_spec: the RealmRepresentation of a tenant, without Keycloak.
#include "keycloak/realm_spec.h"

#include "provisioning/user_provisioning.h"
#include "sidecar_test.h"

using namespace realm_sidecar;

namespace {

JsonPtr spec() {
  RealmSpecInput in{"demo", "Demo agency", {"finance", "ops"}, {"http://localhost:8000/*"}, ""};
  return realm_representation(in);
}

const json_t* find_by(const json_t* array, const char* key, const char* value) {
  size_t i;
  json_t* item;
  json_array_foreach(array, i, item) {
    if (get_str(item, {key}) == value) return item;
  }
  return nullptr;
}

void realm_basics(void**) {
  JsonPtr r = spec();
  assert_string_equal(get_str(r.get(), {"realm"}).c_str(), "tenant-demo");
  assert_string_equal(get_str(r.get(), {"displayName"}).c_str(), "Demo agency");
  assert_true(json_is_true(json_object_get(r.get(), "enabled")));
  assert_string_equal(realm_name_for("x").c_str(), "tenant-x");
  assert_string_equal(issuer_for("http://localhost:8080", "demo").c_str(),
                      "http://localhost:8080/realms/tenant-demo");
}

void four_realm_roles(void**) {
  JsonPtr r = spec();
  const json_t* roles = json_object_get(json_object_get(r.get(), "roles"), "realm");
  assert_int_equal(json_array_size(roles), 4);
  for (const char* name : {"tenant_admin", "officer", "supervisor", "auditor"}) {
    assert_non_null(find_by(roles, "name", name));
  }
}

void console_is_public_with_pkce(void**) {
  JsonPtr r = spec();
  const json_t* c = find_by(json_object_get(r.get(), "clients"), "clientId", "admin-console");
  assert_non_null(c);
  assert_true(json_is_true(json_object_get(c, "publicClient")));
  assert_true(json_is_true(json_object_get(c, "standardFlowEnabled")));
  assert_true(json_is_false(json_object_get(c, "directAccessGrantsEnabled")));
  assert_string_equal(get_str(c, {"attributes", "pkce.code.challenge.method"}).c_str(), "S256");
  const json_t* uris = json_object_get(c, "redirectUris");
  assert_int_equal(json_array_size(uris), 1);
  assert_string_equal(json_string_value(json_array_get(uris, 0)), "http://localhost:8000/*");
}

// dpop.bound.access.tokens: "false" unless the tenant asked (set either way,
// so reconcile also turns it off), never on tenant-services (the sidecar's
// own client credentials carry no proof).
void dpop_bound_tokens_are_opt_in(void**) {
  JsonPtr r = spec();
  const json_t* c = find_by(json_object_get(r.get(), "clients"), "clientId", "admin-console");
  assert_string_equal(get_str(c, {"attributes", "dpop.bound.access.tokens"}).c_str(), "false");
  RealmSpecInput in{"demo", "Demo", {}, {}, "", true};
  JsonPtr d = realm_representation(in);
  c = find_by(json_object_get(d.get(), "clients"), "clientId", "admin-console");
  assert_string_equal(get_str(c, {"attributes", "dpop.bound.access.tokens"}).c_str(), "true");
  const json_t* svc = find_by(json_object_get(d.get(), "clients"), "clientId", "tenant-services");
  assert_string_equal(get_str(svc, {"attributes", "dpop.bound.access.tokens"}).c_str(), "<absent>");
}

// No input turns the password grant on (docs/LOGIN.md): admin-console is a
// public client, tenant-services a service account; neither takes a
// user's password at the token endpoint.
void no_client_allows_the_password_grant(void**) {
  for (int dpop = 0; dpop < 2; ++dpop) {
    for (int logout = 0; logout < 2; ++logout) {
      RealmSpecInput in;
      in.slug = "demo";
      in.display_name = "Demo";
      in.departments = {"ops"};
      in.console_redirect_uris = {"http://localhost:8000/*"};
      in.dpop_bound_tokens = dpop == 1;
      if (logout) in.backchannel_logout_url = "http://127.0.0.1:8000/backchannel-logout/demo";
      JsonPtr r = realm_representation(in);
      const json_t* clients = json_object_get(r.get(), "clients");
      assert_int_equal(json_array_size(clients), 2);
      size_t i;
      const json_t* c;
      json_array_foreach(clients, i, c) {
        assert_true(json_is_false(json_object_get(c, "directAccessGrantsEnabled")));
        assert_true(json_is_false(json_object_get(c, "implicitFlowEnabled")));
      }
    }
  }
}

void services_is_confidential_service_account(void**) {
  JsonPtr r = spec();
  const json_t* c = find_by(json_object_get(r.get(), "clients"), "clientId", "tenant-services");
  assert_non_null(c);
  assert_true(json_is_false(json_object_get(c, "publicClient")));
  assert_true(json_is_true(json_object_get(c, "serviceAccountsEnabled")));
  assert_true(json_is_false(json_object_get(c, "standardFlowEnabled")));
  assert_string_equal(get_str(c, {"clientAuthenticatorType"}).c_str(), "client-secret");
  // No secret in the spec: Keycloak generates it, the saga reads it.
  assert_null(json_object_get(c, "secret"));
  // Its service account holds only the user-management roles it needs.
  const json_t* sa =
      find_by(json_object_get(r.get(), "users"), "serviceAccountClientId", "tenant-services");
  assert_non_null(sa);
  const json_t* rm = json_object_get(json_object_get(sa, "clientRoles"), "realm-management");
  assert_int_equal(json_array_size(rm), 3);
}

void mappers_on_both_clients(void**) {
  JsonPtr r = spec();
  for (const char* id : {"admin-console", "tenant-services"}) {
    const json_t* c = find_by(json_object_get(r.get(), "clients"), "clientId", id);
    const json_t* ms = json_object_get(c, "protocolMappers");
    const json_t* aud = find_by(ms, "protocolMapper", "oidc-audience-mapper");
    assert_non_null(aud);
    assert_string_equal(get_str(aud, {"config", "included.client.audience"}).c_str(),
                        "tenant-services");
    assert_string_equal(get_str(aud, {"config", "access.token.claim"}).c_str(), "true");
    const json_t* dep = find_by(ms, "protocolMapper", "oidc-usermodel-attribute-mapper");
    assert_non_null(dep);
    assert_string_equal(get_str(dep, {"config", "user.attribute"}).c_str(), "department_id");
    assert_string_equal(get_str(dep, {"config", "claim.name"}).c_str(), "department_id");
    assert_string_equal(get_str(dep, {"config", "access.token.claim"}).c_str(), "true");
    assert_string_equal(get_str(dep, {"config", "id.token.claim"}).c_str(), "true");
  }
}

// Only the console (tenant admins) gets the sidecar's audience; a backend
// using tenant-services' own credentials can never act at the sidecar.
void sidecar_audience_on_the_console_only(void**) {
  JsonPtr r = spec();
  auto sidecar_aud = [&](const char* id) {
    const json_t* c = find_by(json_object_get(r.get(), "clients"), "clientId", id);
    return find_by(json_object_get(c, "protocolMappers"), "name", kSidecarAudienceMapperName);
  };
  const json_t* m = sidecar_aud("admin-console");
  assert_non_null(m);
  assert_string_equal(get_str(m, {"protocolMapper"}).c_str(), "oidc-audience-mapper");
  assert_string_equal(get_str(m, {"config", "included.custom.audience"}).c_str(), "realm-sidecar");
  assert_string_equal(get_str(m, {"config", "access.token.claim"}).c_str(), "true");
  assert_null(sidecar_aud("tenant-services"));
  // What reconcile adds to older realms is the same mapper.
  assert_string_equal(json_text(sidecar_audience_mapper().get()).c_str(), json_text(m).c_str());
}

void department_groups(void**) {
  JsonPtr r = spec();
  const json_t* groups = json_object_get(r.get(), "groups");
  const json_t* top = find_by(groups, "name", "departments");
  assert_non_null(top);
  const json_t* subs = json_object_get(top, "subGroups");
  assert_int_equal(json_array_size(subs), 2);
  assert_non_null(find_by(subs, "name", "finance"));
  // No departments, no groups member at all.
  JsonPtr bare = realm_representation(RealmSpecInput{"x", "X", {}, {}, ""});
  assert_null(json_object_get(bare.get(), "groups"));
}

void user_profile_declares_department(void**) {
  JsonPtr r = spec();
  const json_t* providers = json_object_get(json_object_get(r.get(), "components"),
                                            "org.keycloak.userprofile.UserProfileProvider");
  assert_int_equal(json_array_size(providers), 1);
  const json_t* p = json_array_get(providers, 0);
  assert_string_equal(get_str(p, {"providerId"}).c_str(), "declarative-user-profile");
  const json_t* cfg = json_object_get(json_object_get(p, "config"), "kc.user.profile.config");
  assert_int_equal(json_array_size(cfg), 1);
  JsonPtr up = must_parse(json_string_value(json_array_get(cfg, 0)));
  const json_t* attrs = json_object_get(up.get(), "attributes");
  for (const char* a : {"username", "email", "firstName", "lastName", "department_id"}) {
    assert_non_null(find_by(attrs, "name", a));
  }
  // Users see their department but only admins change it.
  const json_t* dep = find_by(attrs, "name", "department_id");
  const json_t* edit = json_object_get(json_object_get(dep, "permissions"), "edit");
  assert_int_equal(json_array_size(edit), 1);
  assert_string_equal(json_string_value(json_array_get(edit, 0)), "admin");
}

void pure_and_deterministic(void**) {
  assert_string_equal(json_text(spec().get()).c_str(), json_text(spec().get()).c_str());
}

void display_name_is_data_not_json(void**) {
  RealmSpecInput in{"q", "Quote \" and \\ and </script>", {}, {}, ""};
  JsonPtr r = realm_representation(in);
  JsonPtr again = must_parse(json_text(r.get()));
  assert_string_equal(get_str(again.get(), {"displayName"}).c_str(), in.display_name.c_str());
}

void user_representation_shape(void**) {
  TenantRow tenant;
  tenant.tenant_id = "demo";
  tenant.departments = {"finance"};
  NewUser u{"alice", "alice@demo.org", "Alice", "Smith", {"officer"}, "finance"};
  JsonPtr rep = user_representation(u, tenant);
  assert_string_equal(get_str(rep.get(), {"username"}).c_str(), "alice");
  assert_string_equal(get_str(rep.get(), {"firstName"}).c_str(), "Alice");
  assert_true(json_is_true(json_object_get(rep.get(), "enabled")));
  const json_t* actions = json_object_get(rep.get(), "requiredActions");
  assert_int_equal(json_array_size(actions), 1);
  assert_string_equal(json_string_value(json_array_get(actions, 0)), "UPDATE_PASSWORD");
  const json_t* dep = json_object_get(json_object_get(rep.get(), "attributes"), "department_id");
  assert_string_equal(json_string_value(json_array_get(dep, 0)), "finance");
  const json_t* groups = json_object_get(rep.get(), "groups");
  assert_string_equal(json_string_value(json_array_get(groups, 0)), "/departments/finance");
  // No credentials in the representation: the password is set separately.
  assert_null(json_object_get(rep.get(), "credentials"));
  // A department the tenant did not declare: attribute only, no group.
  tenant.departments.clear();
  rep = user_representation(u, tenant);
  assert_null(json_object_get(rep.get(), "groups"));
  assert_non_null(json_object_get(rep.get(), "attributes"));
}

// Back-channel logout (issue 9): admin-console names the sidecar's
// endpoint for this tenant, with the session id required; no front channel.
void console_has_backchannel_logout(void**) {
  RealmSpecInput in{"demo",
                    "Demo",
                    {},
                    {},
                    backchannel_logout_url("http://127.0.0.1:8000/backchannel-logout", "demo")};
  JsonPtr r = realm_representation(in);
  const json_t* c = find_by(json_object_get(r.get(), "clients"), "clientId", "admin-console");
  assert_non_null(c);
  assert_string_equal(get_str(c, {"attributes", "backchannel.logout.url"}).c_str(),
                      "http://127.0.0.1:8000/backchannel-logout/demo");
  assert_string_equal(get_str(c, {"attributes", "backchannel.logout.session.required"}).c_str(),
                      "true");
  assert_true(json_is_false(json_object_get(c, "frontchannelLogout")));
  // The service account has no sessions to end.
  const json_t* svc = find_by(json_object_get(r.get(), "clients"), "clientId", "tenant-services");
  assert_string_equal(get_str(svc, {"attributes", "backchannel.logout.url"}).c_str(), "<absent>");
}

// Revocation records live as long as the longest access token: the realm's
// lifespan, with no client override and no implicit flow (its own lifespan).
void token_lifetime_is_the_realm_lifespan(void**) {
  JsonPtr r = spec();
  assert_int_equal(json_integer_value(json_object_get(r.get(), "accessTokenLifespan")),
                   kAccessTokenLifespanS);
  assert_null(json_object_get(r.get(), "accessTokenLifespanForImplicitFlow"));
  size_t i;
  json_t* c;
  json_array_foreach(json_object_get(r.get(), "clients"), i, c) {
    assert_true(json_is_false(json_object_get(c, "implicitFlowEnabled")));
    assert_string_equal(get_str(c, {"attributes", "access.token.lifespan"}).c_str(), "<absent>");
  }
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(console_has_backchannel_logout),
      cmocka_unit_test(token_lifetime_is_the_realm_lifespan),
      cmocka_unit_test(realm_basics),
      cmocka_unit_test(dpop_bound_tokens_are_opt_in),
      cmocka_unit_test(four_realm_roles),
      cmocka_unit_test(console_is_public_with_pkce),
      cmocka_unit_test(no_client_allows_the_password_grant),
      cmocka_unit_test(services_is_confidential_service_account),
      cmocka_unit_test(mappers_on_both_clients),
      cmocka_unit_test(sidecar_audience_on_the_console_only),
      cmocka_unit_test(department_groups),
      cmocka_unit_test(user_profile_declares_department),
      cmocka_unit_test(pure_and_deterministic),
      cmocka_unit_test(display_name_is_data_not_json),
      cmocka_unit_test(user_representation_shape),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
