#include "keycloak/admin_client.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <memory>
#include <thread>

#include "http_fetch.h"
#include "metrics/sidecar_metrics.h"

namespace realm_sidecar {

namespace {

using realm_auth::HttpAnswer;
using realm_auth::HttpCall;
using realm_auth::url_escape;

constexpr size_t kMaxBody = 4 * 1024 * 1024;  // realm/user documents are small

KcError classify(long status) {
  if (status >= 200 && status < 300) return KcError::kOk;
  switch (status) {
    case 400:
      return KcError::kBadRequest;
    case 401:
      return KcError::kAuth;
    case 403:
      return KcError::kForbidden;
    case 404:
      return KcError::kNotFound;
    case 409:
      return KcError::kConflict;
    default:
      return status >= 500 ? KcError::kUnreachable : KcError::kBadResponse;
  }
}

// Keycloak's error body: {"errorMessage": …} (Admin API) or
// {"error": …, "error_description": …} (token endpoint). Neither echoes
// credentials.
std::string error_message(const std::string& body) {
  JsonPtr j = json_parse(body);
  std::string m = json_member_string(j.get(), "errorMessage");
  if (m.empty()) m = json_member_string(j.get(), "error_description");
  if (m.empty()) m = json_member_string(j.get(), "error");
  return m.substr(0, 300);
}

bool read_secret_file(const std::string& path, std::string& secret) {
  std::ifstream f(path);
  if (!f || !std::getline(f, secret)) return false;
  while (!secret.empty() && (secret.back() == '\r' || secret.back() == ' ')) secret.pop_back();
  return !secret.empty();
}

}  // namespace

const char* kc_error_name(KcError e) {
  switch (e) {
    case KcError::kOk:
      return "ok";
    case KcError::kUnreachable:
      return "keycloak_unreachable";
    case KcError::kAuth:
      return "keycloak_credentials_refused";
    case KcError::kForbidden:
      return "keycloak_forbidden";
    case KcError::kNotFound:
      return "not_found";
    case KcError::kConflict:
      return "conflict";
    case KcError::kBadRequest:
      return "keycloak_bad_request";
    case KcError::kBadResponse:
      return "keycloak_bad_response";
  }
  return "unknown";
}

int http_status_for(KcError e) {
  switch (e) {
    case KcError::kOk:
      return 200;
    // Our own credentials failing is an outage of the dependency from the
    // caller's point of view, not the caller's fault.
    case KcError::kUnreachable:
    case KcError::kAuth:
      return 503;
    case KcError::kNotFound:
      return 404;
    case KcError::kConflict:
      return 409;
    default:
      return 502;
  }
}

AdminClient::AdminClient(std::string base_url, long timeout_ms, std::string provisioner_client_id,
                         std::string provisioner_secret_file)
    : base_url_(std::move(base_url)),
      timeout_ms_(timeout_ms),
      provisioner_client_id_(std::move(provisioner_client_id)),
      provisioner_secret_file_(std::move(provisioner_secret_file)) {}

std::string AdminClient::segment(const std::string& s) { return "/" + url_escape(s); }

KcResponse AdminClient::perform(const std::string& method, const std::string& url,
                                const std::string& body, const std::string& content_type,
                                const std::string& bearer) {
  HttpCall call;
  call.method = method;
  call.url = url;
  call.headers.push_back("Accept: application/json");
  if (!content_type.empty()) call.headers.push_back("Content-Type: " + content_type);
  if (!bearer.empty()) call.headers.push_back("Authorization: Bearer " + bearer);
  call.body = body;
  call.timeout_ms = timeout_ms_;
  call.connect_timeout_ms = std::min(timeout_ms_, 5000L);
  call.max_body = kMaxBody;
  call.user_agent = "realm-sidecar";
  const auto started = std::chrono::steady_clock::now();
  HttpAnswer a = realm_auth::http_call(call);
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
  // The request held a bearer token or a client secret: wipe our copies.
  for (std::string& h : call.headers) std::fill(h.begin(), h.end(), '\0');
  std::fill(call.body.begin(), call.body.end(), '\0');
  KcResponse r;
  r.status = a.status;
  r.location = std::move(a.location);
  if (!a.transported()) {
    r.error =
        a.failure == HttpAnswer::Failure::kTooLarge ? KcError::kBadResponse : KcError::kUnreachable;
    r.not_sent =
        a.failure == HttpAnswer::Failure::kNotSent || a.failure == HttpAnswer::Failure::kSetup;
    r.message = a.error;
    metrics::keycloak_call(false, took.count());
    return r;
  }
  r.body = std::move(a.body);
  r.error = classify(r.status);
  metrics::keycloak_call(r.ok(), took.count());
  if (!r.ok()) r.message = "HTTP " + std::to_string(r.status) + " " + error_message(r.body);
  return r;
}

KcResponse AdminClient::token_for(const ClientCredentials& who, std::string& token) {
  const std::string key = who.realm + "\n" + who.client_id;
  {
    std::lock_guard<std::mutex> g(mu_);
    auto it = tokens_.find(key);
    if (it != tokens_.end() && std::chrono::steady_clock::now() < it->second.refresh_at) {
      token = it->second.access_token;
      KcResponse ok;
      ok.error = KcError::kOk;
      return ok;
    }
  }
  std::string form = "grant_type=client_credentials&client_id=" + url_escape(who.client_id) +
                     "&client_secret=" + url_escape(who.secret);
  KcResponse r =
      perform("POST", base_url_ + "/realms" + segment(who.realm) + "/protocol/openid-connect/token",
              form, "application/x-www-form-urlencoded", "");
  std::fill(form.begin(), form.end(), '\0');
  if (r.status == 400 || r.status == 401) r.error = KcError::kAuth;
  if (!r.ok()) {
    r.message = "token for " + who.client_id + "@" + who.realm + ": " + r.message;
    return r;
  }
  JsonPtr j = json_parse(r.body);
  token = json_member_string(j.get(), "access_token");
  json_int_t expires_in = json_integer_value(json_object_get(j.get(), "expires_in"));
  std::fill(r.body.begin(), r.body.end(), '\0');
  r.body.clear();
  if (token.empty() || expires_in <= 0) {
    r.error = KcError::kBadResponse;
    r.message = "token endpoint answered without access_token/expires_in";
    return r;
  }
  // Refresh 30 s before expiry: a token must not expire between the cache
  // check and Keycloak's own check of it.
  std::lock_guard<std::mutex> g(mu_);
  tokens_[key] = {token, std::chrono::steady_clock::now() +
                             std::chrono::seconds(std::max<json_int_t>(expires_in - 30, 1))};
  return r;
}

void AdminClient::forget_token(const std::string& realm, const std::string& client_id) {
  std::lock_guard<std::mutex> g(mu_);
  tokens_.erase(realm + "\n" + client_id);
}

KcResponse AdminClient::call(const ClientCredentials* who, const std::string& method,
                             const std::string& path, const json_t* body) {
  ClientCredentials provisioner;
  if (who == nullptr) {
    provisioner = {"master", provisioner_client_id_, ""};
    if (!read_secret_file(provisioner_secret_file_, provisioner.secret)) {
      KcResponse r;
      r.error = KcError::kAuth;
      r.not_sent = true;
      r.message = "provisioner secret file " + provisioner_secret_file_ + " is missing or empty";
      return r;
    }
    who = &provisioner;
  }
  const std::string url = base_url_ + "/admin/realms" + path;
  const std::string payload = body != nullptr ? json_text(body) : "";
  const bool idempotent = method == "GET";
  KcResponse r;
  for (int attempt = 0; attempt < 3; attempt++) {
    std::string token;
    r = token_for(*who, token);
    if (!r.ok()) {
      r.not_sent = true;  // the Admin API call itself never left
      break;
    }
    r = perform(method, url, payload, body != nullptr ? "application/json" : "", token);
    if (r.status == 401 && attempt == 0) {
      // Token revoked or clock skew: refetch once. Safe for any method,
      // Keycloak did nothing with a request it could not authenticate.
      forget_token(who->realm, who->client_id);
      continue;
    }
    bool transient = r.error == KcError::kUnreachable;
    if (!(idempotent && transient) || attempt == 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200 * (attempt + 1)));
  }
  if (!provisioner.secret.empty())
    std::fill(provisioner.secret.begin(), provisioner.secret.end(), '\0');
  return r;
}

KcResponse AdminClient::create_realm(const json_t* representation) {
  return call(nullptr, "POST", "", representation);
}

KcResponse AdminClient::get_realm(const std::string& realm) {
  return call(nullptr, "GET", segment(realm));
}

KcResponse AdminClient::set_realm_enabled(const std::string& realm, bool enabled) {
  JsonPtr body(json_object());
  json_set(body.get(), "enabled", enabled);
  return call(nullptr, "PUT", segment(realm), body.get());
}

KcResponse AdminClient::delete_realm(const std::string& realm) {
  return call(nullptr, "DELETE", segment(realm));
}

KcResponse AdminClient::client_uuid(const ClientCredentials* who, const std::string& realm,
                                    const std::string& client_id, std::string& uuid) {
  KcResponse r = call(who, "GET", segment(realm) + "/clients?clientId=" + url_escape(client_id));
  if (!r.ok()) return r;
  JsonPtr list = json_parse(r.body);
  uuid = json_member_string(json_array_get(list.get(), 0), "id");
  if (uuid.empty()) {
    r.error = KcError::kNotFound;
    r.message = "client " + client_id + " not found in realm " + realm;
  }
  return r;
}

KcResponse AdminClient::secret_call(const ClientCredentials* who, const char* method,
                                    const std::string& realm, const std::string& uuid,
                                    std::string& secret) {
  KcResponse r = call(who, method, segment(realm) + "/clients" + segment(uuid) + "/client-secret");
  if (!r.ok()) return r;
  JsonPtr j = json_parse(r.body);
  secret = json_member_string(j.get(), "value");
  std::fill(r.body.begin(), r.body.end(), '\0');
  r.body.clear();
  if (secret.empty()) {
    r.error = KcError::kBadResponse;
    r.message = "client-secret answer without a value";
  }
  return r;
}

KcResponse AdminClient::client_secret(const ClientCredentials* who, const std::string& realm,
                                      const std::string& uuid, std::string& secret) {
  return secret_call(who, "GET", realm, uuid, secret);
}

KcResponse AdminClient::regenerate_client_secret(const ClientCredentials* who,
                                                 const std::string& realm, const std::string& uuid,
                                                 std::string& secret) {
  return secret_call(who, "POST", realm, uuid, secret);
}

}  // namespace realm_sidecar

// --- signing keys: key provider components (issue 9 item 4) -----------------

namespace realm_sidecar {

namespace {

constexpr const char kKeyProviderType[] = "org.keycloak.keys.KeyProvider";

// Keycloak's component config: every value is an array of strings.
void set_config(json_t* config, const char* key, const std::string& value) {
  JsonPtr v(json_array());
  json_array_append_new(v.get(), json_string(value.c_str()));
  json_object_set_new(config, key, v.release());
}

}  // namespace

KcResponse AdminClient::realm_keys(const std::string& realm, std::vector<KcKey>& out) {
  out.clear();
  KcResponse r = call(nullptr, "GET", segment(realm) + "/keys");
  if (!r.ok()) return r;
  JsonPtr doc = json_parse(r.body);
  const json_t* keys = json_object_get(doc.get(), "keys");
  if (!json_is_array(keys)) {
    r.error = KcError::kBadResponse;
    r.message = "keys of " + realm + ": no \"keys\" array";
    return r;
  }
  size_t i;
  const json_t* k;
  json_array_foreach(keys, i, k) {
    KcKey key;
    key.kid = json_member_string(k, "kid");
    key.algorithm = json_member_string(k, "algorithm");
    key.use = json_member_string(k, "use");
    key.status = json_member_string(k, "status");
    key.provider_id = json_member_string(k, "providerId");
    key.priority = json_integer_value(json_object_get(k, "providerPriority"));
    if (!key.kid.empty()) out.push_back(std::move(key));
  }
  return r;
}

KcResponse AdminClient::realm_id(const std::string& realm, std::string& id) {
  KcResponse r = get_realm(realm);
  if (!r.ok()) return r;
  JsonPtr doc = json_parse(r.body);
  id = json_member_string(doc.get(), "id");
  if (id.empty()) {
    r.error = KcError::kBadResponse;
    r.message = "realm " + realm + " answered without an id";
  }
  return r;
}

KcResponse AdminClient::add_rsa_key_provider(const std::string& realm, const std::string& parent_id,
                                             const std::string& name, long long priority,
                                             std::string& component_id) {
  JsonPtr body(json_object());
  json_set(body.get(), "name", name);
  json_set(body.get(), "providerId", "rsa-generated");
  json_set(body.get(), "providerType", kKeyProviderType);
  json_set(body.get(), "parentId", parent_id);
  JsonPtr config(json_object());
  set_config(config.get(), "priority", std::to_string(priority));
  set_config(config.get(), "enabled", "true");
  set_config(config.get(), "active", "true");
  set_config(config.get(), "algorithm", "RS256");
  set_config(config.get(), "keySize", "2048");
  json_set(body.get(), "config", std::move(config));
  KcResponse r = call(nullptr, "POST", segment(realm) + "/components", body.get());
  if (!r.ok()) return r;
  // Location: <base>/admin/realms/<realm>/components/<id>
  size_t slash = r.location.rfind('/');
  component_id = slash == std::string::npos ? "" : r.location.substr(slash + 1);
  if (component_id.empty()) {
    r.error = KcError::kBadResponse;
    r.message = "component created in " + realm + " without a Location";
  }
  return r;
}

KcResponse AdminClient::set_key_provider_active(const std::string& realm,
                                                const std::string& component_id, bool active) {
  const std::string path = segment(realm) + "/components" + segment(component_id);
  KcResponse r = call(nullptr, "GET", path);
  if (!r.ok()) return r;
  JsonPtr component = json_parse(r.body);
  std::fill(r.body.begin(), r.body.end(), '\0');
  if (!json_is_object(component.get()) ||
      json_member_string(component.get(), "providerType") != kKeyProviderType) {
    r.error = KcError::kBadResponse;
    r.message = "component " + component_id + " of " + realm + " is not a key provider";
    return r;
  }
  json_t* config = json_object_get(component.get(), "config");
  if (!json_is_object(config)) {
    json_object_set_new(component.get(), "config", json_object());
    config = json_object_get(component.get(), "config");
  }
  set_config(config, "active", active ? "true" : "false");
  return call(nullptr, "PUT", path, component.get());
}

KcResponse AdminClient::delete_component(const std::string& realm,
                                         const std::string& component_id) {
  return call(nullptr, "DELETE", segment(realm) + "/components" + segment(component_id));
}

}  // namespace realm_sidecar

// --- end of signing keys -----------------------------------------------------
