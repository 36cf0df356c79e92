#include "keycloak/realm_spec.h"

#include "provisioning/validation.h"

namespace realm_sidecar {

namespace {

JsonPtr obj() { return JsonPtr(json_object()); }

// Protocol mapper config values are strings in Keycloak's API, "true" too.
JsonPtr mapper(const char* name, const char* type,
               const std::vector<std::pair<const char*, const char*>>& config) {
  JsonPtr m = obj();
  json_set(m.get(), "name", name);
  json_set(m.get(), "protocol", "openid-connect");
  json_set(m.get(), "protocolMapper", type);
  json_set(m.get(), "consentRequired", false);
  JsonPtr c = obj();
  for (const auto& kv : config) json_set(c.get(), kv.first, kv.second);
  json_set(m.get(), "config", std::move(c));
  return m;
}

// Puts tenant-services into `aud` of access tokens issued to the client the
// mapper sits on: the module's auth_realm_audience tenant-services accepts
// tokens of both the console (users) and the service account.
JsonPtr audience_mapper() {
  return mapper("audience tenant-services", "oidc-audience-mapper",
                {{"included.client.audience", kServicesClientId},
                 {"access.token.claim", "true"},
                 {"id.token.claim", "false"},
                 {"introspection.token.claim", "true"}});
}

// department_id user attribute → department_id claim (access + id token),
// read by the module into X-Actor-Department-Id.
JsonPtr department_mapper() {
  return mapper("department_id", "oidc-usermodel-attribute-mapper",
                {{"user.attribute", "department_id"},
                 {"claim.name", "department_id"},
                 {"jsonType.label", "String"},
                 {"multivalued", "false"},
                 {"aggregate.attrs", "false"},
                 {"access.token.claim", "true"},
                 {"id.token.claim", "true"},
                 {"userinfo.token.claim", "true"},
                 {"introspection.token.claim", "true"}});
}

// The console calls the sidecar (tenant admins add users): its tokens also
// carry realm-sidecar. tenant-services does not get it, so a tenant backend
// using its own service account can never act at the sidecar.
JsonPtr mappers(bool calls_sidecar) {
  JsonPtr a(json_array());
  json_array_append_new(a.get(), audience_mapper().release());
  if (calls_sidecar) json_array_append_new(a.get(), sidecar_audience_mapper().release());
  json_array_append_new(a.get(), department_mapper().release());
  return a;
}

JsonPtr console_client(const RealmSpecInput& in) {
  JsonPtr c = obj();
  json_set(c.get(), "clientId", kConsoleClientId);
  json_set(c.get(), "name", "Tenant admin console");
  json_set(c.get(), "enabled", true);
  json_set(c.get(), "protocol", "openid-connect");
  json_set(c.get(), "publicClient", true);
  json_set(c.get(), "standardFlowEnabled", true);
  json_set(c.get(), "implicitFlowEnabled", false);
  // Never the password grant on a public client (docs/LOGIN.md): no input
  // turns it on, and reconcile turns it off on realms of an older spec.
  json_set(c.get(), "directAccessGrantsEnabled", false);
  json_set(c.get(), "serviceAccountsEnabled", false);
  json_set(c.get(), "redirectUris", json_string_array(in.console_redirect_uris));
  // "+": allow CORS from the redirect URIs' origins only.
  json_set(c.get(), "webOrigins", json_string_array({"+"}));
  JsonPtr attrs = obj();
  // A public browser client: PKCE is the only thing that binds the code to
  // the client that asked for it.
  json_set(attrs.get(), "pkce.code.challenge.method", "S256");
  json_set(attrs.get(), "post.logout.redirect.uris", "+");
  // Set either way, so reconcile also turns it off where a realm has it
  // and the tenant did not ask for it.
  json_set(attrs.get(), kDpopBoundAttribute, in.dpop_bound_tokens ? "true" : "false");
  if (!in.backchannel_logout_url.empty()) {
    for (const auto& kv : console_logout_attributes(in.backchannel_logout_url)) {
      json_set(attrs.get(), kv.first.c_str(), kv.second);
    }
  }
  json_set(c.get(), "attributes", std::move(attrs));
  // Logouts reach the sidecar over the back channel only: the browser
  // (front channel) is not a path a revocation can depend on.
  json_set(c.get(), "frontchannelLogout", false);
  json_set(c.get(), "protocolMappers", mappers(true));
  return c;
}

JsonPtr services_client() {
  JsonPtr c = obj();
  json_set(c.get(), "clientId", kServicesClientId);
  json_set(c.get(), "name", "Tenant backend services");
  json_set(c.get(), "enabled", true);
  json_set(c.get(), "protocol", "openid-connect");
  json_set(c.get(), "publicClient", false);
  json_set(c.get(), "clientAuthenticatorType", "client-secret");
  json_set(c.get(), "serviceAccountsEnabled", true);
  json_set(c.get(), "standardFlowEnabled", false);
  json_set(c.get(), "implicitFlowEnabled", false);
  json_set(c.get(), "directAccessGrantsEnabled", false);
  json_set(c.get(), "protocolMappers", mappers(false));
  return c;
}

// The service account of tenant-services: the sidecar's least-privilege
// identity inside the realm for day-to-day user management (the master
// provisioner is only needed to create, disable and delete realms).
JsonPtr service_account_user(const std::string& realm) {
  JsonPtr u = obj();
  json_set(u.get(), "username", std::string("service-account-") + kServicesClientId);
  json_set(u.get(), "enabled", true);
  json_set(u.get(), "serviceAccountClientId", kServicesClientId);
  json_set(u.get(), "realmRoles", json_string_array({"default-roles-" + realm}));
  JsonPtr client_roles = obj();
  json_set(client_roles.get(), "realm-management",
           json_string_array({"manage-users", "view-users", "query-groups"}));
  json_set(u.get(), "clientRoles", std::move(client_roles));
  return u;
}

JsonPtr roles() {
  static const char* const kDescriptions[] = {
      "Administers the tenant: creates users, reads tenant metadata.",
      "Performs governed operations of the tenant.",
      "Supervises officers; approves their operations.",
      "Reads the tenant's audit trail; changes nothing."};
  JsonPtr list(json_array());
  const auto& names = tenant_roles();
  for (size_t i = 0; i < names.size(); i++) {
    JsonPtr r = obj();
    json_set(r.get(), "name", names[i]);
    json_set(r.get(), "description", kDescriptions[i]);
    json_array_append_new(list.get(), r.release());
  }
  JsonPtr out = obj();
  json_set(out.get(), "realm", std::move(list));
  return out;
}

JsonPtr groups(const std::vector<std::string>& departments) {
  JsonPtr subs(json_array());
  for (const auto& d : departments) {
    JsonPtr g = obj();
    json_set(g.get(), "name", d);
    JsonPtr attrs = obj();
    json_set(attrs.get(), "department_id", json_string_array({d}));
    json_set(g.get(), "attributes", std::move(attrs));
    json_array_append_new(subs.get(), g.release());
  }
  JsonPtr top = obj();
  json_set(top.get(), "name", "departments");
  json_set(top.get(), "subGroups", std::move(subs));
  JsonPtr list(json_array());
  json_array_append_new(list.get(), top.release());
  return list;
}

JsonPtr attribute(const char* name, const char* display, JsonPtr validations, bool user_edits,
                  bool required_for_users) {
  JsonPtr a = obj();
  json_set(a.get(), "name", name);
  json_set(a.get(), "displayName", display);
  json_set(a.get(), "validations", std::move(validations));
  if (required_for_users) {
    JsonPtr req = obj();
    json_set(req.get(), "roles", json_string_array({"user"}));
    json_set(a.get(), "required", std::move(req));
  }
  JsonPtr perms = obj();
  json_set(perms.get(), "view", json_string_array({"admin", "user"}));
  json_set(perms.get(), "edit",
           json_string_array(user_edits ? std::vector<std::string>{"admin", "user"}
                                        : std::vector<std::string>{"admin"}));
  json_set(a.get(), "permissions", std::move(perms));
  json_set(a.get(), "multivalued", false);
  return a;
}

JsonPtr validation(const char* json) { return json_parse(json); }

}  // namespace

JsonPtr sidecar_audience_mapper() {
  return mapper(kSidecarAudienceMapperName, "oidc-audience-mapper",
                {{"included.custom.audience", kSidecarAudience},
                 {"access.token.claim", "true"},
                 {"id.token.claim", "false"},
                 {"introspection.token.claim", "true"}});
}

JsonPtr realm_security_settings() {
  JsonPtr s = obj();
  // At least 12 characters (NIST SP 800-63B: length over composition
  // rules), at most 128, not the username or email, not one of the last 5.
  // Written as Keycloak answers it back, so reconcile compares like for like.
  json_set(s.get(), "passwordPolicy",
           "length(12) and maxLength(128) and notUsername(undefined) and notEmail(undefined) "
           "and passwordHistory(5)");
  // Brute-force detection: after 5 failures a user waits 1 minute, growing
  // by a minute per further failure up to 15; the count resets after 12 h
  // without failures. Temporary only: a permanent lockout would let anyone
  // who knows a username lock its owner out.
  json_set(s.get(), "bruteForceProtected", true);
  json_set(s.get(), "permanentLockout", false);
  json_set(s.get(), "failureFactor", 5LL);
  json_set(s.get(), "waitIncrementSeconds", 60LL);
  json_set(s.get(), "maxFailureWaitSeconds", 900LL);
  json_set(s.get(), "maxDeltaTimeSeconds", 43200LL);
  // Two failures less than a second apart: wait a minute at once (scripts).
  json_set(s.get(), "quickLoginCheckMilliSeconds", 1000LL);
  json_set(s.get(), "minimumQuickLoginWaitSeconds", 60LL);
  return s;
}

std::string realm_name_for(const std::string& slug) { return "tenant-" + slug; }

std::string backchannel_logout_url(const std::string& base, const std::string& slug) {
  return base + "/" + slug;
}

std::vector<std::pair<std::string, std::string>> console_logout_attributes(const std::string& url) {
  return {{"backchannel.logout.url", url},
          // sid in every logout token: one session ends, not the user's all.
          {"backchannel.logout.session.required", "true"},
          {"backchannel.logout.revoke.offline.tokens", "false"}};
}

std::string issuer_for(const std::string& keycloak_url, const std::string& slug) {
  return keycloak_url + "/realms/" + realm_name_for(slug);
}

JsonPtr user_profile_config() {
  JsonPtr attrs(json_array());
  json_array_append_new(
      attrs.get(),
      attribute("username", "${username}",
                validation(R"({"length":{"min":3,"max":255},"username-prohibited-characters":{},)"
                           R"("up-username-not-idn-homograph":{}})"),
                true, false)
          .release());
  json_array_append_new(
      attrs.get(),
      attribute("email", "${email}", validation(R"({"email":{},"length":{"max":255}})"), true, true)
          .release());
  json_array_append_new(
      attrs.get(),
      attribute("firstName", "${firstName}",
                validation(R"({"length":{"max":255},"person-name-prohibited-characters":{}})"),
                true, true)
          .release());
  json_array_append_new(
      attrs.get(),
      attribute("lastName", "${lastName}",
                validation(R"({"length":{"max":255},"person-name-prohibited-characters":{}})"),
                true, true)
          .release());
  // Users may see their department but never move themselves to another:
  // department_id feeds authorization decisions downstream.
  json_array_append_new(
      attrs.get(),
      attribute("department_id", "Department",
                validation(R"({"length":{"max":63},)"
                           R"("pattern":{"pattern":"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$",)"
                           R"("error-message":"lowercase DNS label"}})"),
                false, false)
          .release());
  JsonPtr cfg = obj();
  json_set(cfg.get(), "attributes", std::move(attrs));
  json_set(cfg.get(), "groups",
           json_parse(R"([{"name":"user-metadata","displayHeader":"User metadata",)"
                      R"("displayDescription":"Attributes, which refer to user metadata"}])"));
  return cfg;
}

JsonPtr realm_representation(const RealmSpecInput& in) {
  const std::string realm = realm_name_for(in.slug);
  JsonPtr r = obj();
  json_set(r.get(), "realm", realm);
  json_set(r.get(), "displayName", in.display_name);
  json_set(r.get(), "enabled", true);
  json_set(r.get(), "sslRequired", "external");
  json_set(r.get(), "registrationAllowed", false);
  json_set(r.get(), "resetPasswordAllowed", false);
  json_set(r.get(), "loginWithEmailAllowed", true);
  json_set(r.get(), "duplicateEmailsAllowed", false);
  json_set(r.get(), "defaultSignatureAlgorithm", "RS256");
  json_set(r.get(), "accessTokenLifespan", static_cast<long long>(kAccessTokenLifespanS));
  json_object_update(r.get(), realm_security_settings().get());
  json_set(r.get(), "roles", roles());
  if (!in.departments.empty()) json_set(r.get(), "groups", groups(in.departments));
  JsonPtr clients(json_array());
  json_array_append_new(clients.get(), console_client(in).release());
  json_array_append_new(clients.get(), services_client().release());
  json_set(r.get(), "clients", std::move(clients));
  JsonPtr users(json_array());
  json_array_append_new(users.get(), service_account_user(realm).release());
  json_set(r.get(), "users", std::move(users));

  // Keycloak 26 keeps the user profile in a realm component; declaring it
  // here makes department_id a managed attribute from the first second.
  JsonPtr up = obj();
  json_set(up.get(), "providerId", "declarative-user-profile");
  json_set(up.get(), "subComponents", obj());
  JsonPtr up_config = obj();
  json_set(up_config.get(), "kc.user.profile.config",
           json_string_array({json_text(user_profile_config().get())}));
  json_set(up.get(), "config", std::move(up_config));
  JsonPtr providers(json_array());
  json_array_append_new(providers.get(), up.release());
  JsonPtr components = obj();
  json_set(components.get(), "org.keycloak.userprofile.UserProfileProvider", std::move(providers));
  json_set(r.get(), "components", std::move(components));
  return r;
}

}  // namespace realm_sidecar
