// Shared declarations of the module's translation units: configuration
// structs, the per-request context, and the module object.
#pragma once

#include <memory>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "identity.h"
#include "jwks_source.h"
#include "ngx.h"
#include "purpose.h"
#include "revocation_table.h"
#include "sender_binding.h"
#include "status.h"
#include "token_hash.h"
#include "verifier.h"
#include "worker_token_cache.h"

extern "C" ngx_module_t ngx_http_realm_auth_module;

namespace realm_auth {

class Zone;
class KeyStore;
class WorkerTokenCache;
class TenantStates;
struct RoleRule;
struct ClaimRule;
struct VariableRule;
struct SenderWait;  // dpop_request.cc

// http{} level: one zone, one Redis tier, one thread pool per nginx.
struct MainConf {
  ngx_shm_zone_t* shm_zone;          // auth_realm_zone
  Zone* zone;                        // view of the zone, set when it is mapped
  ngx_str_t thread_pool_name;        // auth_realm_thread_pool
  ngx_thread_pool_t* thread_pool;    // resolved at postconfiguration
  JwksSourceConfig* source;          // Redis endpoint and fetch limits (auth_realm_redis)
  ngx_msec_t tenant_state_interval;  // auth_realm_tenant_state_interval (0 = off)
  ngx_flag_t tenant_registry;        // auth_realm_tenant_registry
  ngx_int_t revocation_records;      // auth_realm_revocation_records (0 = off; unset = auto)
  ngx_msec_t revocation_interval;    // auth_realm_revocation_interval
  ngx_flag_t used;                   // some location has auth_realm on
  // One object per distinct verification fingerprint (LocConf::fingerprint).
  std::vector<std::string*>* fingerprints;
};

// server{} level (and http{} for the directive's default).
struct SrvConf {
  ngx_flag_t strip_identity_headers;  // auth_realm_strip_identity_headers
  ngx_flag_t auth_used;               // a location of this server has auth_realm on
};

// location{} level; C++ members are built at merge time and freed by a
// pool cleanup.
struct LocConf {
  ngx_flag_t enable;            // auth_realm
  ngx_array_t* issuers;         // auth_realm_issuer (ngx_str_t)
  ngx_array_t* audiences;       // auth_realm_audience (ngx_str_t)
  ngx_array_t* algorithms;      // auth_realm_algorithms (ngx_str_t)
  ngx_array_t* client_roles;    // auth_realm_client_roles (ngx_str_t)
  time_t leeway;                // auth_realm_leeway
  size_t token_max_size;        // auth_realm_token_max_size
  ngx_msec_t jwks_ttl;          // auth_realm_jwks_ttl
  ngx_msec_t jwks_stale;        // auth_realm_jwks_stale
  ngx_msec_t refetch_interval;  // auth_realm_jwks_refetch_interval
  ngx_msec_t fetch_timeout;     // auth_realm_fetch_timeout
  ngx_flag_t token_cache;       // auth_realm_token_cache
  ngx_flag_t require_purpose;   // auth_realm_require_purpose
  ngx_flag_t identity_headers;  // auth_realm_identity_headers
  VerifierConfig* verifier;     // built from the above when enable is on
  std::string* fingerprint;     // verifier->fingerprint(), computed once
  // Its SHA-256, which every verified-token cache key starts with.
  CacheKeySettings cache_key_settings;
  // auth_realm_token: where the token is read (null: Authorization: Bearer).
  ngx_http_complex_value_t* token_source;
  // Authorization rules (authorize.h); each list replaces the inherited one.
  std::vector<RoleRule>* require_roles;       // auth_realm_require_role
  std::vector<ClaimRule>* require_claims;     // auth_realm_require_claim
  std::vector<VariableRule>* require_values;  // auth_realm_require
};

// Per request; lives in r->pool (C++ members destroyed by a pool cleanup).
struct RequestCtx {
  enum class Phase {
    kStart,
    kWaitingForKeys,
    kWaitingForTenant,
    kWaitingForRevocations,
    kWaitingForSender,
    kDone
  };
  Phase phase = Phase::kStart;
  ngx_str_t token{};                         // the credential (into the header or the variable)
  TokenHash cache_key{};                     // verified-token cache key (when the cache is on)
  bool have_cache_key = false;               // cache_key computed
  SigningInputDigest signing_input_sha256;   // computed with cache_key, reused by the RS256 check
  InspectedToken inspected;                  // parsed token awaiting keys; on a cache hit
                                             // authorize() may parse the claims into it
  std::shared_ptr<const Identity> identity;  // set when verified
  RevocationKeys revocation_keys;            // of identity, once have_revocation_keys
  bool have_revocation_keys = false;
  TokenSlotRef cache_slot;         // the worker cache entry of a hit
  Status status = Status::kOk;     // outcome, for $realm_auth_error
  ngx_int_t rc = NGX_DECLINED;     // access-phase result once done
  ngx_msec_t wait_started = 0;     // when the request began waiting for keys
  bool refetch_requested = false;  // one unknown-kid refetch per request
  ngx_http_request_t* request = nullptr;
  JsonPtr claims_json;  // decoded on first use of a $jwt_claim_ variable
  JsonPtr header_json;  // decoded on first use of a $jwt_header_ variable
  ngx_queue_t waiting;  // link in KeyStore's waiters of this issuer, or TenantStates' of a tenant
  bool queued = false;
  // The answer to an authorization refusal: 403, or 401 (auth_realm_require error=401).
  ngx_uint_t denial_code = NGX_HTTP_FORBIDDEN;
  TokenScheme scheme = TokenScheme::kBearer;  // how the token came (dpop.h)
  bool sender_checked = false;                // check_sender ran to its end
  SenderWait* sender_wait = nullptr;          // its Redis replay check in flight
};

// Allocates a C++ object owned by the configuration pool (freed by a pool
// cleanup); null when out of memory.
template <typename T>
void destroy_owned(void* p) {
  delete static_cast<T*>(p);
}
template <typename T, typename... Args>
T* make_owned(ngx_conf_t* cf, Args&&... args) {
  ngx_pool_cleanup_t* cln = ngx_pool_cleanup_add(cf->pool, 0);
  if (cln == nullptr) return nullptr;
  T* obj = new (std::nothrow) T(std::forward<Args>(args)...);
  cln->handler = destroy_owned<T>;
  cln->data = obj;
  return obj;
}

inline MainConf* main_conf(ngx_http_request_t* r) {
  return static_cast<MainConf*>(ngx_http_get_module_main_conf(r, ngx_http_realm_auth_module));
}
inline LocConf* loc_conf(ngx_http_request_t* r) {
  return static_cast<LocConf*>(ngx_http_get_module_loc_conf(r, ngx_http_realm_auth_module));
}
inline RequestCtx* request_ctx(ngx_http_request_t* r) {
  return static_cast<RequestCtx*>(ngx_http_get_module_ctx(r, ngx_http_realm_auth_module));
}

// Entry points shared between the translation units.
ngx_int_t access_handler(ngx_http_request_t* r);
// The log for the module's lines about `r`: the connection's, or with
// auth_realm_token a copy in `scratch` whose context leaves out the request
// line, query and referrer (the token may be in the URL) (request_log.cc).
ngx_log_t* request_log(ngx_http_request_t* r, ngx_log_t& scratch);
ngx_int_t status_handler(ngx_http_request_t* r);
// auth_realm_identity: the verified identity as JSON (identity_handler.cc).
ngx_int_t identity_handler(ngx_http_request_t* r);
// The verified identity of `r` as a JSON object (variables.cc), allocated
// from r->pool; false when `r` holds no verified identity (or no memory).
bool identity_json(ngx_http_request_t* r, ngx_str_t& out);
ngx_int_t add_variables(ngx_conf_t* cf);
// Post-read phase: removes the client's identity headers and selects the
// request's X-Purpose (identity_headers.cc).
ngx_int_t strip_client_identity(ngx_http_request_t* r);
// Adds the verified identity headers (replacing any an earlier location of
// this request added).
ngx_int_t set_identity_headers(ngx_http_request_t* r, const RequestCtx& ctx);

// The request's purpose as selected by strip_client_identity; null where it
// did not run (a server without auth_realm).
struct RequestPurpose {
  PurposeCheck check;
  ngx_str_t value;  // trimmed; empty unless check is kOk
};
const RequestPurpose* request_purpose(ngx_http_request_t* r);

// The worker's key store, created in init_process (per-worker state).
KeyStore* worker_key_store();
WorkerTokenCache* worker_token_cache();
TenantStates* worker_tenant_states();  // null without Redis
// This nginx's revocation table (in the zone); null without one.
RevocationTable* worker_revocation_table();

}  // namespace realm_auth
