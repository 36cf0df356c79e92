// Keycloak Admin REST API over libcurl.
//
// Identities: the master-realm provisioning client (create-realm only;
// Keycloak grants it admin rights on the realms it creates) for realm
// lifecycle, and each tenant realm's tenant-services service account for
// day-to-day user management. Tokens come from the client-credentials grant
// and are cached per (realm, client) until 30 s before they expire.
//
// Retries: only idempotent GETs are retried (connection failure, 502-504);
// a POST that timed out may have happened, so the caller decides (the saga
// looks the realm up before it concludes anything).
//
// Errors are typed (KcError) and mapped once (http_status_for) to the
// sidecar's answer: unreachable / 5xx → 503, 409 → 409, 404 → 404.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "util/json_helpers.h"

namespace realm_sidecar {

enum class KcError {
  kOk,
  kUnreachable,  // connect/timeout/TLS failure, or Keycloak answered 5xx
  kAuth,         // our client credentials were refused (token endpoint 400/401)
  kForbidden,    // the token lacks a needed role (403)
  kNotFound,     // 404
  kConflict,     // 409
  kBadRequest,   // 400 from the Admin API: our request was wrong
  kBadResponse,  // unexpected status or unparsable body
};

const char* kc_error_name(KcError e);
// 503 for kUnreachable/kAuth, 409, 404, 502 otherwise.
int http_status_for(KcError e);

struct KcResponse {
  KcError error = KcError::kUnreachable;
  long status = 0;  // HTTP status, 0 when none arrived
  std::string body;
  std::string location;  // Location header of a 201
  std::string message;   // for the log: curl error or Keycloak's errorMessage (no secrets)
  // True when the request provably never reached Keycloak (no connection,
  // no token): a failed POST then certainly changed nothing. A timeout or a
  // 5xx leaves it false: the change may have happened.
  bool not_sent = false;
  bool ok() const { return error == KcError::kOk; }
};

// Who calls: a confidential client of `realm`. `secret` is held only for
// the token request; it is never logged.
struct ClientCredentials {
  std::string realm;
  std::string client_id;
  std::string secret;
};

// One key of a realm as GET /admin/realms/{realm}/keys lists it.
struct KcKey {
  std::string kid;
  std::string algorithm;    // RS256, HS512, RSA-OAEP …
  std::string use;          // SIG or ENC
  std::string status;       // ACTIVE (signs and verifies), PASSIVE (verifies only), DISABLED
  std::string provider_id;  // the key provider component that holds it
  long long priority = 0;   // the provider's; the highest ACTIVE key of an algorithm signs
};

// The Admin API calls of the tenant saga (tenant_saga.h), behind an
// interface so that its order of calls and every rollback decision are
// unit-tested with a fake that fails or dies at each call
// (sidecar/tests/tenant_saga_test.cc). AdminClient is the real one.
class AdminApi {
 public:
  virtual ~AdminApi() = default;
  // One Admin API call as `who` (the provisioner when who == nullptr).
  // `path` is relative to <base>/admin/realms, e.g. "/tenant-demo/users".
  virtual KcResponse call(const ClientCredentials* who, const std::string& method,
                          const std::string& path, const json_t* body = nullptr) = 0;
  virtual KcResponse create_realm(const json_t* representation) = 0;
  virtual KcResponse get_realm(const std::string& realm) = 0;  // kNotFound when absent
  virtual KcResponse set_realm_enabled(const std::string& realm, bool enabled) = 0;
  virtual KcResponse delete_realm(const std::string& realm) = 0;
  // Internal id of clientId in realm (kNotFound when absent).
  virtual KcResponse client_uuid(const ClientCredentials* who, const std::string& realm,
                                 const std::string& client_id, std::string& uuid) = 0;
  virtual KcResponse client_secret(const ClientCredentials* who, const std::string& realm,
                                   const std::string& uuid, std::string& secret) = 0;
  virtual KcResponse regenerate_client_secret(const ClientCredentials* who,
                                              const std::string& realm, const std::string& uuid,
                                              std::string& secret) = 0;
  // Forgets the cached token of (realm, client_id), e.g. after a rotation.
  virtual void forget_token(const std::string& realm, const std::string& client_id) = 0;
};

class AdminClient : public AdminApi {
 public:
  // `provisioner_secret_file` is read at each token request, so a rotated
  // secret needs no restart and a missing file is a 503, not a crash.
  AdminClient(std::string base_url, long timeout_ms, std::string provisioner_client_id,
              std::string provisioner_secret_file);

  // One Admin API call as `who` (the provisioner when who == nullptr).
  // `path` is relative to <base>/admin/realms, e.g. "/tenant-demo/users".
  KcResponse call(const ClientCredentials* who, const std::string& method, const std::string& path,
                  const json_t* body = nullptr) override;

  // --- realm lifecycle (provisioner) ---
  KcResponse create_realm(const json_t* representation) override;
  KcResponse get_realm(const std::string& realm) override;  // kNotFound when absent
  KcResponse set_realm_enabled(const std::string& realm, bool enabled) override;
  KcResponse delete_realm(const std::string& realm) override;

  // --- clients ---
  // Internal id of clientId in realm (kNotFound when absent).
  KcResponse client_uuid(const ClientCredentials* who, const std::string& realm,
                         const std::string& client_id, std::string& uuid) override;
  KcResponse client_secret(const ClientCredentials* who, const std::string& realm,
                           const std::string& uuid, std::string& secret) override;
  KcResponse regenerate_client_secret(const ClientCredentials* who, const std::string& realm,
                                      const std::string& uuid, std::string& secret) override;

  // --- signing keys: key provider components (provisioner) ---
  // Kept in a block of their own (issue 9 item 4) to ease merging.
  // Every key of the realm (KeysMetadataRepresentation.keys).
  KcResponse realm_keys(const std::string& realm, std::vector<KcKey>& out);
  // The realm's internal id: the parentId of its components.
  KcResponse realm_id(const std::string& realm, std::string& id);
  // Adds an `rsa-generated` RS256 key provider (2048-bit, active) named
  // `name` with `priority`; `component_id` from the answer's Location.
  KcResponse add_rsa_key_provider(const std::string& realm, const std::string& parent_id,
                                  const std::string& name, long long priority,
                                  std::string& component_id);
  // config.active of a key provider: false makes its keys passive (still
  // published in the JWKS, verifying, no longer signing). The component is
  // read and written back whole: Keycloak keeps config members a PUT omits
  // or masks (the private key), but not members it was sent empty.
  KcResponse set_key_provider_active(const std::string& realm, const std::string& component_id,
                                     bool active);
  // Deletes a key provider and its keys (they leave the JWKS). kNotFound
  // when it is already gone.
  KcResponse delete_component(const std::string& realm, const std::string& component_id);
  // --- end of signing keys ---

  // Forgets the cached token of (realm, client_id), e.g. after a rotation.
  void forget_token(const std::string& realm, const std::string& client_id) override;

  const std::string& base_url() const { return base_url_; }

  // "/" + url-escaped segment: safe path building for ids from input.
  static std::string segment(const std::string& s);

 private:
  // GET reads the current client secret, POST regenerates it; both answer
  // {"value": …}. The body is wiped once the secret is copied out.
  KcResponse secret_call(const ClientCredentials* who, const char* method, const std::string& realm,
                         const std::string& uuid, std::string& secret);
  struct CachedToken {
    std::string access_token;
    std::chrono::steady_clock::time_point refresh_at;
  };
  KcResponse token_for(const ClientCredentials& who, std::string& token);
  KcResponse perform(const std::string& method, const std::string& url, const std::string& body,
                     const std::string& content_type, const std::string& bearer);

  std::string base_url_;
  long timeout_ms_;
  std::string provisioner_client_id_;
  std::string provisioner_secret_file_;
  std::mutex mu_;
  std::map<std::string, CachedToken> tokens_;  // key: realm + '\n' + client_id
};

}  // namespace realm_sidecar
