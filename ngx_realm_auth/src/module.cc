// ngx_http_realm_auth_module: in-process verification of bearer JWTs from
// many Keycloak realms. This file is the configuration surface, in nginx's
// order: directive table, module context, create/merge, postconfiguration,
// process init, directive parsers. The request path is access_handler.cc.
#include "module.h"

#include <cstring>
#include <memory>
#include <new>
#include <optional>

#include "authorize.h"
#include "guard.h"
#include "http_fetch.h"
#include "key_store.h"
#include "redis_rejections.h"
#include "revocation_poller.h"
#include "tenant_state.h"
#include "worker_token_cache.h"
#include "zone.h"

namespace realm_auth {
namespace {

char* set_zone(ngx_conf_t* cf, ngx_command_t* cmd, void* conf);
char* set_redis(ngx_conf_t* cf, ngx_command_t* cmd, void* conf);
char* add_issuer(ngx_conf_t* cf, ngx_command_t* cmd, void* conf);
char* set_algorithms(ngx_conf_t* cf, ngx_command_t* cmd, void* conf);
char* set_client_roles(ngx_conf_t* cf, ngx_command_t* cmd, void* conf);
char* set_token_source(ngx_conf_t* cf, ngx_command_t* cmd, void* conf);
char* set_status(ngx_conf_t* cf, ngx_command_t* cmd, void* conf);
char* set_identity(ngx_conf_t* cf, ngx_command_t* cmd, void* conf);
char* set_revocation_records(ngx_conf_t* cf, ngx_command_t* cmd, void* conf);
ngx_int_t preconfiguration(ngx_conf_t* cf);
ngx_int_t postconfiguration(ngx_conf_t* cf);
void* create_main_conf(ngx_conf_t* cf);
char* init_main_conf(ngx_conf_t* cf, void* conf);
void* create_srv_conf(ngx_conf_t* cf);
char* merge_srv_conf(ngx_conf_t* cf, void* parent, void* child);
void* create_loc_conf(ngx_conf_t* cf);
char* merge_loc_conf(ngx_conf_t* cf, void* parent, void* child);
ngx_int_t init_process(ngx_cycle_t* cycle);
void exit_process(ngx_cycle_t* cycle);

// Every function nginx calls goes through an adapter of guard.h (nginx's
// own *_slot parsers are C and need none).
#define LOC_ANY (NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF)
#define LOC_OFFSET(field) offsetof(LocConf, field)

ngx_command_t commands[] = {
    {ngx_string("auth_realm_zone"), NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE1, guard::directive<set_zone>,
     NGX_HTTP_MAIN_CONF_OFFSET, 0, nullptr},
    {ngx_string("auth_realm_redis"), NGX_HTTP_MAIN_CONF | NGX_CONF_1MORE,
     guard::directive<set_redis>, NGX_HTTP_MAIN_CONF_OFFSET, 0, nullptr},
    {ngx_string("auth_realm_tenant_state_interval"), NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE1,
     ngx_conf_set_msec_slot, NGX_HTTP_MAIN_CONF_OFFSET, offsetof(MainConf, tenant_state_interval),
     nullptr},
    {ngx_string("auth_realm_tenant_registry"), NGX_HTTP_MAIN_CONF | NGX_CONF_FLAG,
     ngx_conf_set_flag_slot, NGX_HTTP_MAIN_CONF_OFFSET, offsetof(MainConf, tenant_registry),
     nullptr},
    {ngx_string("auth_realm_revocation_records"), NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE1,
     guard::directive<set_revocation_records>, NGX_HTTP_MAIN_CONF_OFFSET, 0, nullptr},
    {ngx_string("auth_realm_revocation_interval"), NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE1,
     ngx_conf_set_msec_slot, NGX_HTTP_MAIN_CONF_OFFSET, offsetof(MainConf, revocation_interval),
     nullptr},
    {ngx_string("auth_realm_thread_pool"), NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE1,
     ngx_conf_set_str_slot, NGX_HTTP_MAIN_CONF_OFFSET, offsetof(MainConf, thread_pool_name),
     nullptr},
    {ngx_string("auth_realm_strip_identity_headers"),
     NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_CONF_FLAG, ngx_conf_set_flag_slot,
     NGX_HTTP_SRV_CONF_OFFSET, offsetof(SrvConf, strip_identity_headers), nullptr},
    {ngx_string("auth_realm"), LOC_ANY | NGX_CONF_FLAG, ngx_conf_set_flag_slot,
     NGX_HTTP_LOC_CONF_OFFSET, LOC_OFFSET(enable), nullptr},
    {ngx_string("auth_realm_issuer"), LOC_ANY | NGX_CONF_TAKE1, guard::directive<add_issuer>,
     NGX_HTTP_LOC_CONF_OFFSET, LOC_OFFSET(issuers), nullptr},
    {ngx_string("auth_realm_audience"), LOC_ANY | NGX_CONF_TAKE1, ngx_conf_set_str_array_slot,
     NGX_HTTP_LOC_CONF_OFFSET, LOC_OFFSET(audiences), nullptr},
    {ngx_string("auth_realm_algorithms"), LOC_ANY | NGX_CONF_1MORE,
     guard::directive<set_algorithms>, NGX_HTTP_LOC_CONF_OFFSET, LOC_OFFSET(algorithms), nullptr},
    {ngx_string("auth_realm_client_roles"), LOC_ANY | NGX_CONF_1MORE,
     guard::directive<set_client_roles>, NGX_HTTP_LOC_CONF_OFFSET, LOC_OFFSET(client_roles),
     nullptr},
    {ngx_string("auth_realm_leeway"), LOC_ANY | NGX_CONF_TAKE1, ngx_conf_set_sec_slot,
     NGX_HTTP_LOC_CONF_OFFSET, LOC_OFFSET(leeway), nullptr},
    {ngx_string("auth_realm_token_max_size"), LOC_ANY | NGX_CONF_TAKE1, ngx_conf_set_size_slot,
     NGX_HTTP_LOC_CONF_OFFSET, LOC_OFFSET(token_max_size), nullptr},
    {ngx_string("auth_realm_jwks_ttl"), LOC_ANY | NGX_CONF_TAKE1, ngx_conf_set_msec_slot,
     NGX_HTTP_LOC_CONF_OFFSET, LOC_OFFSET(jwks_ttl), nullptr},
    {ngx_string("auth_realm_jwks_stale"), LOC_ANY | NGX_CONF_TAKE1, ngx_conf_set_msec_slot,
     NGX_HTTP_LOC_CONF_OFFSET, LOC_OFFSET(jwks_stale), nullptr},
    {ngx_string("auth_realm_jwks_refetch_interval"), LOC_ANY | NGX_CONF_TAKE1,
     ngx_conf_set_msec_slot, NGX_HTTP_LOC_CONF_OFFSET, LOC_OFFSET(refetch_interval), nullptr},
    {ngx_string("auth_realm_fetch_timeout"), LOC_ANY | NGX_CONF_TAKE1, ngx_conf_set_msec_slot,
     NGX_HTTP_LOC_CONF_OFFSET, LOC_OFFSET(fetch_timeout), nullptr},
    {ngx_string("auth_realm_token_cache"), LOC_ANY | NGX_CONF_FLAG, ngx_conf_set_flag_slot,
     NGX_HTTP_LOC_CONF_OFFSET, LOC_OFFSET(token_cache), nullptr},
    {ngx_string("auth_realm_require_purpose"), LOC_ANY | NGX_CONF_FLAG, ngx_conf_set_flag_slot,
     NGX_HTTP_LOC_CONF_OFFSET, LOC_OFFSET(require_purpose), nullptr},
    {ngx_string("auth_realm_identity_headers"), LOC_ANY | NGX_CONF_FLAG, ngx_conf_set_flag_slot,
     NGX_HTTP_LOC_CONF_OFFSET, LOC_OFFSET(identity_headers), nullptr},
    {ngx_string("auth_realm_token"), LOC_ANY | NGX_CONF_TAKE1, guard::directive<set_token_source>,
     NGX_HTTP_LOC_CONF_OFFSET, LOC_OFFSET(token_source), nullptr},
    {ngx_string("auth_realm_require_role"), LOC_ANY | NGX_CONF_1MORE,
     guard::directive<add_require_role>, NGX_HTTP_LOC_CONF_OFFSET, LOC_OFFSET(require_roles),
     nullptr},
    {ngx_string("auth_realm_require_claim"), LOC_ANY | NGX_CONF_2MORE,
     guard::directive<add_require_claim>, NGX_HTTP_LOC_CONF_OFFSET, LOC_OFFSET(require_claims),
     nullptr},
    {ngx_string("auth_realm_require"), LOC_ANY | NGX_CONF_1MORE,
     guard::directive<add_require_value>, NGX_HTTP_LOC_CONF_OFFSET, LOC_OFFSET(require_values),
     nullptr},
    {ngx_string("auth_realm_status"), NGX_HTTP_LOC_CONF | NGX_CONF_NOARGS,
     guard::directive<set_status>, NGX_HTTP_LOC_CONF_OFFSET, 0, nullptr},
    {ngx_string("auth_realm_identity"), NGX_HTTP_LOC_CONF | NGX_CONF_NOARGS,
     guard::directive<set_identity>, NGX_HTTP_LOC_CONF_OFFSET, 0, nullptr},
    ngx_null_command};

ngx_http_module_t module_ctx = {
    guard::conf_step<preconfiguration>,   guard::conf_step<postconfiguration>,
    guard::conf_create<create_main_conf>, guard::conf_init<init_main_conf>,
    guard::conf_create<create_srv_conf>,  guard::conf_merge<merge_srv_conf>,
    guard::conf_create<create_loc_conf>,  guard::conf_merge<merge_loc_conf>,
};

// Per-worker state, created in init_process.
KeyStore* worker_keys = nullptr;
WorkerTokenCache* worker_tokens = nullptr;
TenantStates* worker_tenants = nullptr;
RedisRejections* worker_rejections = nullptr;
RevocationTable* worker_revocations = nullptr;
RevocationPoller* worker_revocation_poller = nullptr;

// Slots of the per-worker verified-token table (tokens are ~1 KB each).
constexpr size_t kWorkerTokenSlots = 4096;

// --- configuration objects ---------------------------------------------------

void* create_main_conf(ngx_conf_t* cf) {
  auto* mcf = static_cast<MainConf*>(ngx_pcalloc(cf->pool, sizeof(MainConf)));
  if (mcf == nullptr) return nullptr;
  mcf->source = make_owned<JwksSourceConfig>(cf);
  if (mcf->source == nullptr) return nullptr;
  mcf->tenant_state_interval = NGX_CONF_UNSET_MSEC;
  mcf->tenant_registry = NGX_CONF_UNSET;
  mcf->revocation_records = NGX_CONF_UNSET;
  mcf->revocation_interval = NGX_CONF_UNSET_MSEC;
  return mcf;
}

// The revocation table's size and poll interval, checked at nginx -t.
// Without a size it takes a quarter of the zone; with Redis only.
char* init_revocations(ngx_conf_t* cf, MainConf* mcf) {
  constexpr ngx_msec_t kMinInterval = 50, kMaxInterval = 1000;
  ngx_conf_init_msec_value(mcf->revocation_interval, 250);
  if (mcf->revocation_interval < kMinInterval || mcf->revocation_interval > kMaxInterval) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"auth_realm_revocation_interval\" must be between 50ms and 1s (records "
                       "must reach every worker within 2 s)");
    return static_cast<char*>(NGX_CONF_ERROR);
  }
  if (!mcf->source->use_redis) {
    if (mcf->revocation_records > 0) {
      ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                         "\"auth_realm_revocation_records\" needs \"auth_realm_redis\" "
                         "(revocation records come from the fleet's Redis)");
      return static_cast<char*>(NGX_CONF_ERROR);
    }
    mcf->revocation_records = 0;
    return NGX_CONF_OK;
  }
  if (mcf->shm_zone == nullptr) return NGX_CONF_OK;  // postconfiguration says what is missing
  size_t zone = mcf->shm_zone->shm.size;
  if (mcf->revocation_records == NGX_CONF_UNSET) {
    mcf->revocation_records =
        static_cast<ngx_int_t>(ngx_max(zone / 4 / RevocationTable::kBytesPerRecord, 16));
  }
  size_t bytes = RevocationTable::bytes_for(static_cast<size_t>(mcf->revocation_records));
  if (bytes > zone / 2) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"auth_realm_revocation_records %i\" needs %uz bytes (%uz a record), more "
                       "than half of \"auth_realm_zone\" %V (%uz bytes): make the zone larger "
                       "or the table smaller",
                       mcf->revocation_records, bytes, RevocationTable::kBytesPerRecord,
                       &mcf->shm_zone->shm.name, zone);
    return static_cast<char*>(NGX_CONF_ERROR);
  }
  mcf->zone->set_revocation_capacity(static_cast<size_t>(mcf->revocation_records));
  return NGX_CONF_OK;
}

char* init_main_conf(ngx_conf_t* cf, void* conf) {
  auto* mcf = static_cast<MainConf*>(conf);
  ngx_conf_init_msec_value(mcf->tenant_state_interval, 5000);
  ngx_conf_init_value(mcf->tenant_registry, 0);
  if (mcf->tenant_registry && !mcf->source->use_redis) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"auth_realm_tenant_registry on\" needs \"auth_realm_redis\" (the "
                       "registry lives in Redis)");
    return static_cast<char*>(NGX_CONF_ERROR);
  }
  return init_revocations(cf, mcf);
}

void* create_srv_conf(ngx_conf_t* cf) {
  auto* scf = static_cast<SrvConf*>(ngx_pcalloc(cf->pool, sizeof(SrvConf)));
  if (scf == nullptr) return nullptr;
  scf->strip_identity_headers = NGX_CONF_UNSET;
  return scf;
}

// Off by default: a server without auth_realm is not ours to change. Where
// auth_realm is configured the headers are stripped whatever this says
// (auth_used, set by merge_loc_conf).
char* merge_srv_conf(ngx_conf_t*, void* parent, void* child) {
  auto* prev = static_cast<SrvConf*>(parent);
  auto* conf = static_cast<SrvConf*>(child);
  ngx_conf_merge_value(conf->strip_identity_headers, prev->strip_identity_headers, 0);
  return NGX_CONF_OK;
}

void* create_loc_conf(ngx_conf_t* cf) {
  auto* lcf = static_cast<LocConf*>(ngx_pcalloc(cf->pool, sizeof(LocConf)));
  if (lcf == nullptr) return nullptr;
  // ngx_pcalloc left verifier and fingerprint null: they are built in merge.
  lcf->enable = NGX_CONF_UNSET;
  lcf->issuers = static_cast<ngx_array_t*>(NGX_CONF_UNSET_PTR);
  lcf->audiences = static_cast<ngx_array_t*>(NGX_CONF_UNSET_PTR);
  lcf->algorithms = static_cast<ngx_array_t*>(NGX_CONF_UNSET_PTR);
  lcf->client_roles = static_cast<ngx_array_t*>(NGX_CONF_UNSET_PTR);
  lcf->leeway = NGX_CONF_UNSET;
  lcf->token_max_size = NGX_CONF_UNSET_SIZE;
  lcf->jwks_ttl = NGX_CONF_UNSET_MSEC;
  lcf->jwks_stale = NGX_CONF_UNSET_MSEC;
  lcf->refetch_interval = NGX_CONF_UNSET_MSEC;
  lcf->fetch_timeout = NGX_CONF_UNSET_MSEC;
  lcf->token_cache = NGX_CONF_UNSET;
  lcf->require_purpose = NGX_CONF_UNSET;
  lcf->identity_headers = NGX_CONF_UNSET;
  lcf->token_source = static_cast<ngx_http_complex_value_t*>(NGX_CONF_UNSET_PTR);
  lcf->require_roles = static_cast<std::vector<RoleRule>*>(NGX_CONF_UNSET_PTR);
  lcf->require_claims = static_cast<std::vector<ClaimRule>*>(NGX_CONF_UNSET_PTR);
  lcf->require_values = static_cast<std::vector<VariableRule>*>(NGX_CONF_UNSET_PTR);
  return lcf;
}

std::vector<std::string> strings_of(const ngx_array_t* a) {
  std::vector<std::string> out;
  if (a == nullptr) return out;
  auto* s = static_cast<ngx_str_t*>(a->elts);
  for (ngx_uint_t i = 0; i < a->nelts; i++) out.emplace_back(to_view(s[i]));
  return out;
}

// Turns the merged directives into the core library's VerifierConfig.
char* build_verifier(ngx_conf_t* cf, LocConf* conf) {
  if (conf->issuers == nullptr || conf->issuers->nelts == 0) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"auth_realm on\" needs at least one \"auth_realm_issuer\"");
    return static_cast<char*>(NGX_CONF_ERROR);
  }
  VerifierConfig* v = make_owned<VerifierConfig>(cf);
  if (v == nullptr) return static_cast<char*>(NGX_CONF_ERROR);
  for (const std::string& text : strings_of(conf->issuers)) {
    IssuerPattern pattern;
    std::string error;
    IssuerPattern::parse(text, pattern, error);  // validated by add_issuer already
    v->issuers.push_back(std::move(pattern));
  }
  v->claims.audiences = strings_of(conf->audiences);
  v->claims.leeway_s = conf->leeway;
  if (conf->algorithms != nullptr) {
    v->algorithms = 0;
    for (const std::string& name : strings_of(conf->algorithms)) {
      Alg alg;
      alg_from_name(name, alg);  // validated by set_algorithms already
      v->algorithms |= alg_bit(alg);
    }
  }
  v->limits.max_token_size = conf->token_max_size;
  v->role_clients = strings_of(conf->client_roles);
  conf->verifier = v;
  // Locations with the same settings share one fingerprint object: this
  // worker's token table is keyed by it, so a token verified in one of
  // them is a hit in the others (as it is in the zone, keyed by its text).
  auto* mcf =
      static_cast<MainConf*>(ngx_http_conf_get_module_main_conf(cf, ngx_http_realm_auth_module));
  if (mcf->fingerprints == nullptr) {
    mcf->fingerprints = make_owned<std::vector<std::string*>>(cf);
    if (mcf->fingerprints == nullptr) return static_cast<char*>(NGX_CONF_ERROR);
  }
  std::string fingerprint = v->fingerprint();
  std::optional<CacheKeySettings> key_settings = cache_key_settings(fingerprint);
  if (!key_settings) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "realm_auth: cannot hash the verification settings");
    return static_cast<char*>(NGX_CONF_ERROR);
  }
  conf->cache_key_settings = *key_settings;
  for (std::string* known : *mcf->fingerprints) {
    if (*known == fingerprint) {
      conf->fingerprint = known;
      return NGX_CONF_OK;
    }
  }
  conf->fingerprint = make_owned<std::string>(cf, std::move(fingerprint));
  if (conf->fingerprint == nullptr) return static_cast<char*>(NGX_CONF_ERROR);
  mcf->fingerprints->push_back(conf->fingerprint);
  return NGX_CONF_OK;
}

// The location{} (or an if/limit_except in one) nginx is merging, null for
// a server{}: during the merge cf->ctx holds the merged level's
// configurations, and only locations have a name.
const ngx_http_core_loc_conf_t* merged_location(ngx_conf_t* cf) {
  auto* clcf = static_cast<ngx_http_core_loc_conf_t*>(
      ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module));
  return clcf != nullptr && clcf->name.len > 0 ? clcf : nullptr;
}

char* merge_loc_conf(ngx_conf_t* cf, void* parent, void* child) {
  auto* prev = static_cast<LocConf*>(parent);
  auto* conf = static_cast<LocConf*>(child);
  ngx_conf_merge_value(conf->enable, prev->enable, 0);
  ngx_conf_merge_ptr_value(conf->issuers, prev->issuers, nullptr);
  ngx_conf_merge_ptr_value(conf->audiences, prev->audiences, nullptr);
  ngx_conf_merge_ptr_value(conf->algorithms, prev->algorithms, nullptr);
  ngx_conf_merge_ptr_value(conf->client_roles, prev->client_roles, nullptr);
  ngx_conf_merge_sec_value(conf->leeway, prev->leeway, 30);
  ngx_conf_merge_size_value(conf->token_max_size, prev->token_max_size, 8192);
  ngx_conf_merge_msec_value(conf->jwks_ttl, prev->jwks_ttl, 300000);
  ngx_conf_merge_msec_value(conf->jwks_stale, prev->jwks_stale, 600000);
  ngx_conf_merge_msec_value(conf->refetch_interval, prev->refetch_interval, 30000);
  ngx_conf_merge_msec_value(conf->fetch_timeout, prev->fetch_timeout, 3000);
  ngx_conf_merge_value(conf->token_cache, prev->token_cache, 1);
  ngx_conf_merge_value(conf->require_purpose, prev->require_purpose, 0);
  ngx_conf_merge_value(conf->identity_headers, prev->identity_headers, 0);
  // Written in this very location (not inherited) where no token is
  // verified: the rule would never be checked, so the location would be
  // open to anyone. Rules written at http or server level may reach
  // locations without auth_realm; they apply where it is on.
  const ngx_http_core_loc_conf_t* location = merged_location(cf);
  if (!conf->enable && location != nullptr) {
    const char* unchecked =
        conf->require_roles != NGX_CONF_UNSET_PTR    ? "auth_realm_require_role"
        : conf->require_claims != NGX_CONF_UNSET_PTR ? "auth_realm_require_claim"
        : conf->require_values != NGX_CONF_UNSET_PTR ? "auth_realm_require"
        : conf->token_source != NGX_CONF_UNSET_PTR && conf->token_source != nullptr
            ? "auth_realm_token"
            : nullptr;
    if (unchecked != nullptr) {
      ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                         "\"%s\" in location \"%V\" without \"auth_realm on\" (it would never "
                         "be checked)",
                         unchecked, &location->name);
      return static_cast<char*>(NGX_CONF_ERROR);
    }
  }
  ngx_conf_merge_ptr_value(conf->token_source, prev->token_source, nullptr);
  ngx_conf_merge_ptr_value(conf->require_roles, prev->require_roles, nullptr);
  ngx_conf_merge_ptr_value(conf->require_claims, prev->require_claims, nullptr);
  ngx_conf_merge_ptr_value(conf->require_values, prev->require_values, nullptr);
  if (!conf->enable) return NGX_CONF_OK;

  auto* mcf =
      static_cast<MainConf*>(ngx_http_conf_get_module_main_conf(cf, ngx_http_realm_auth_module));
  mcf->used = 1;
  // nginx merges a server's locations with that server's srv_conf in cf->ctx.
  static_cast<SrvConf*>(ngx_http_conf_get_module_srv_conf(cf, ngx_http_realm_auth_module))
      ->auth_used = 1;
  return build_verifier(cf, conf);
}

// --- phases and process lifecycle -------------------------------------------

ngx_int_t preconfiguration(ngx_conf_t* cf) { return add_variables(cf); }

ngx_int_t postconfiguration(ngx_conf_t* cf) {
  auto* mcf =
      static_cast<MainConf*>(ngx_http_conf_get_module_main_conf(cf, ngx_http_realm_auth_module));
  auto* cmcf = static_cast<ngx_http_core_main_conf_t*>(
      ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module));
  // Post-read: before server rewrites, access and everything else, once per
  // request (internal redirects and subrequests share the cleaned list).
  auto* strip = static_cast<ngx_http_handler_pt*>(
      ngx_array_push(&cmcf->phases[NGX_HTTP_POST_READ_PHASE].handlers));
  if (strip == nullptr) return NGX_ERROR;
  *strip = guard::phase<strip_client_identity>;
  if (!mcf->used) return NGX_OK;
  if (mcf->shm_zone == nullptr) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"auth_realm on\" needs \"auth_realm_zone\" in the http block");
    return NGX_ERROR;
  }
  // Registers (or finds) the pool at configuration time; nginx reports an
  // undeclared non-default pool as "unknown thread pool".
  mcf->thread_pool =
      ngx_thread_pool_add(cf, mcf->thread_pool_name.len ? &mcf->thread_pool_name : nullptr);
  if (mcf->thread_pool == nullptr) return NGX_ERROR;

  auto* h = static_cast<ngx_http_handler_pt*>(
      ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers));
  if (h == nullptr) return NGX_ERROR;
  *h = guard::access_phase;
  return NGX_OK;
}

ngx_int_t init_process(ngx_cycle_t* cycle) {
  auto* mcf = static_cast<MainConf*>(
      ngx_http_cycle_get_module_main_conf(cycle, ngx_http_realm_auth_module));
  if (mcf == nullptr || !mcf->used) return NGX_OK;
  http_fetch_global_init();
  worker_rejections = new (std::nothrow) RedisRejections(mcf->zone, cycle->log);
  if (worker_rejections == nullptr) return NGX_ERROR;
  worker_keys =
      new (std::nothrow) KeyStore(mcf->zone, mcf->thread_pool, *mcf->source,
                                  mcf->tenant_registry == 1, worker_rejections, cycle->log);
  worker_tokens = new (std::nothrow) WorkerTokenCache(kWorkerTokenSlots);
  if (worker_keys == nullptr || worker_tokens == nullptr) return NGX_ERROR;
  if (mcf->source->use_redis && mcf->tenant_state_interval > 0) {
    worker_tenants =
        new (std::nothrow) TenantStates(mcf->source->redis, mcf->tenant_state_interval,
                                        mcf->thread_pool, mcf->zone, worker_rejections, cycle->log);
    if (worker_tenants == nullptr) return NGX_ERROR;
  }
  worker_revocations = mcf->zone->revocations();
  if (worker_revocations != nullptr && mcf->source->use_redis) {
    worker_revocation_poller = new (std::nothrow)
        RevocationPoller(mcf->source->redis, mcf->revocation_interval, mcf->thread_pool,
                         worker_revocations, worker_rejections, cycle->log);
    if (worker_revocation_poller == nullptr) return NGX_ERROR;
  }
  return NGX_OK;
}

void exit_process(ngx_cycle_t*) {
  // nginx's thread pool module exits before this one (static modules come
  // first): its tasks have run, their completions never will.
  if (worker_keys != nullptr) worker_keys->settle_at_exit();
  delete worker_keys;
  worker_keys = nullptr;
  delete worker_tokens;
  worker_tokens = nullptr;
  delete worker_tenants;
  worker_tenants = nullptr;
  delete worker_revocation_poller;
  worker_revocation_poller = nullptr;
  worker_revocations = nullptr;
  delete worker_rejections;
  worker_rejections = nullptr;
}

// --- directive parsers -------------------------------------------------------

// auth_realm_zone name:size
char* set_zone(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) {
  auto* mcf = static_cast<MainConf*>(conf);
  if (mcf->shm_zone != nullptr) return const_cast<char*>("is duplicate");
  ngx_str_t* value = static_cast<ngx_str_t*>(cf->args->elts);
  u_char* colon =
      static_cast<u_char*>(ngx_strlchr(value[1].data, value[1].data + value[1].len, ':'));
  ngx_str_t name{0, value[1].data};
  ngx_str_t size_text{0, nullptr};
  if (colon != nullptr) {
    name.len = static_cast<size_t>(colon - value[1].data);
    size_text.data = colon + 1;
    size_text.len = value[1].len - name.len - 1;
  }
  ssize_t size = size_text.len ? ngx_parse_size(&size_text) : NGX_ERROR;
  if (name.len == 0 || size == NGX_ERROR) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\" takes name:size, not \"%V\"", &cmd->name,
                       &value[1]);
    return static_cast<char*>(NGX_CONF_ERROR);
  }
  if (size < static_cast<ssize_t>(8 * ngx_pagesize)) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\" zone \"%V\" is too small", &cmd->name,
                       &value[1]);
    return static_cast<char*>(NGX_CONF_ERROR);
  }
  mcf->shm_zone =
      ngx_shared_memory_add(cf, &name, static_cast<size_t>(size), &ngx_http_realm_auth_module);
  if (mcf->shm_zone == nullptr) return static_cast<char*>(NGX_CONF_ERROR);
  if (mcf->shm_zone->data != nullptr) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\": zone \"%V\" is already used", &cmd->name,
                       &name);
    return static_cast<char*>(NGX_CONF_ERROR);
  }
  mcf->shm_zone->init = guard::shm_init<Zone::init>;
  mcf->shm_zone->data = mcf;  // replaced by Zone::init with the shared state
  mcf->zone = make_owned<Zone>(cf, mcf->shm_zone);
  return mcf->zone == nullptr ? static_cast<char*>(NGX_CONF_ERROR) : NGX_CONF_OK;
}

// Reads a secret file named in the configuration (at startup, not on the
// event loop). Never logged.
bool read_secret_file(ngx_conf_t* cf, ngx_command_t* cmd, std::string_view path, std::string& out) {
  std::string error;
  if (realm_auth::read_secret_file(std::string(path), out, error)) return true;
  ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\": %s", &cmd->name, error.c_str());
  return false;
}

bool add_seal_key(ngx_conf_t* cf, ngx_command_t* cmd, std::string_view path, SealKeys& keys) {
  SealKey key;
  std::string error;
  if (!load_seal_key(std::string(path), key, error)) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\": %s", &cmd->name, error.c_str());
    return false;
  }
  keys.push_back(std::move(key));
  return true;
}

// auth_realm_redis host:port hmac_key_file=<path> [hmac_previous_key_file=<path>]
//                  [user=<name> password_file=<path>] [prefix=<text>] [timeout=<time>]
// auth_realm_redis sentinel=<host:port>,... master=<name>
//                  [sentinel_user=<name> sentinel_password_file=<path>] hmac_key_file=...
// The HMAC key is required: nothing is believed from Redis without it
// (docs/REDIS_TRUST.md). With sentinels the master is discovered by core's
// RedisClient on every new connection (in the thread pool).
char* set_redis(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) {
  auto* mcf = static_cast<MainConf*>(conf);
  if (mcf->source->use_redis) return const_cast<char*>("is duplicate");
  ngx_str_t* value = static_cast<ngx_str_t*>(cf->args->elts);
  RedisEndpoint& ep = mcf->source->redis;

  ngx_uint_t first_option = 1;
  if (to_view(value[1]).rfind("sentinel=", 0) != 0) {
    ngx_url_t u;
    ngx_memzero(&u, sizeof(u));
    u.url = value[1];
    u.no_resolve = 1;
    if (ngx_parse_url(cf->pool, &u) != NGX_OK || u.no_port || u.host.len == 0 || u.uri.len) {
      ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                         "\"%V\" needs host:port or sentinel=<host:port,...>, not \"%V\"",
                         &cmd->name, &value[1]);
      return static_cast<char*>(NGX_CONF_ERROR);
    }
    ep.host.assign(to_view(u.host));
    ep.port = u.port;
    first_option = 2;
  }

  std::string_view key_file, previous_key_file, password_file, sentinel_password_file;
  bool has_sentinels = false, has_master = false;
  for (ngx_uint_t i = first_option; i < cf->args->nelts; i++) {
    std::string_view arg = to_view(value[i]);
    // name=<non-empty value>
    auto option = [&arg](std::string_view name, std::string_view& out) {
      if (arg.size() <= name.size() || arg.substr(0, name.size()) != name) return false;
      out = arg.substr(name.size());
      return true;
    };
    std::string_view v;
    if (arg.rfind("prefix=", 0) == 0) {
      ep.prefix.assign(arg.substr(7));
    } else if (arg.rfind("sentinel=", 0) == 0) {
      std::string error;
      if (has_sentinels || first_option == 2) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\": one sentinel= list instead of host:port, not both", &cmd->name);
        return static_cast<char*>(NGX_CONF_ERROR);
      }
      if (!parse_redis_addresses(arg.substr(9), ep.sentinels, error)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\": invalid sentinel= list: %s", &cmd->name,
                           error.c_str());
        return static_cast<char*>(NGX_CONF_ERROR);
      }
      has_sentinels = true;
    } else if (arg.rfind("master=", 0) == 0) {
      if (!valid_master_name(arg.substr(7))) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\": invalid master name \"%V\" (1-64 of A-Z a-z 0-9 . _ -)",
                           &cmd->name, &value[i]);
        return static_cast<char*>(NGX_CONF_ERROR);
      }
      ep.master_name.assign(arg.substr(7));
      has_master = true;
    } else if (option("sentinel_user=", v)) {
      ep.sentinel_user.assign(v);
    } else if (option("sentinel_password_file=", v)) {
      sentinel_password_file = v;
    } else if (option("user=", v)) {
      ep.user.assign(v);
    } else if (option("password_file=", v)) {
      password_file = v;
    } else if (option("hmac_key_file=", v)) {
      key_file = v;
    } else if (option("hmac_previous_key_file=", v)) {
      previous_key_file = v;
    } else if (arg.rfind("timeout=", 0) == 0) {
      ngx_str_t t{value[i].len - 8, value[i].data + 8};
      ngx_int_t ms = ngx_parse_time(&t, 0);
      if (ms == NGX_ERROR || ms <= 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\": invalid timeout \"%V\"", &cmd->name,
                           &value[i]);
        return static_cast<char*>(NGX_CONF_ERROR);
      }
      ep.timeout_ms = static_cast<int>(ms);
    } else {
      ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\": unknown parameter \"%V\"", &cmd->name,
                         &value[i]);
      return static_cast<char*>(NGX_CONF_ERROR);
    }
  }
  if (key_file.empty()) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"%V\" needs hmac_key_file=<path>: values from Redis are believed "
                       "only with the fleet's key",
                       &cmd->name);
    return static_cast<char*>(NGX_CONF_ERROR);
  }
  if (!ep.user.empty() && password_file.empty()) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\": user= needs password_file=", &cmd->name);
    return static_cast<char*>(NGX_CONF_ERROR);
  }
  if (has_sentinels != has_master) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       has_sentinels ? "\"%V\": sentinel= needs master=<name>"
                                     : "\"%V\": master= needs sentinel=<host:port,...>",
                       &cmd->name);
    return static_cast<char*>(NGX_CONF_ERROR);
  }
  if (!has_sentinels && (!ep.sentinel_user.empty() || !sentinel_password_file.empty())) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"%V\": sentinel_user=/sentinel_password_file= need sentinel=", &cmd->name);
    return static_cast<char*>(NGX_CONF_ERROR);
  }
  if (!ep.sentinel_user.empty() && sentinel_password_file.empty()) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"%V\": sentinel_user= needs sentinel_password_file=", &cmd->name);
    return static_cast<char*>(NGX_CONF_ERROR);
  }
  if (!sentinel_password_file.empty() &&
      !read_secret_file(cf, cmd, sentinel_password_file, ep.sentinel_password)) {
    return static_cast<char*>(NGX_CONF_ERROR);
  }
  if (!add_seal_key(cf, cmd, key_file, ep.seal_keys) ||
      (!previous_key_file.empty() && !add_seal_key(cf, cmd, previous_key_file, ep.seal_keys)) ||
      (!password_file.empty() && !read_secret_file(cf, cmd, password_file, ep.password))) {
    return static_cast<char*>(NGX_CONF_ERROR);
  }
  mcf->source->use_redis = true;
  return NGX_CONF_OK;
}

char* add_issuer(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) {
  ngx_str_t* value = static_cast<ngx_str_t*>(cf->args->elts);
  IssuerPattern pattern;
  std::string error;
  if (!IssuerPattern::parse(to_view(value[1]), pattern, error)) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\": invalid pattern \"%V\": %s", &cmd->name,
                       &value[1], error.c_str());
    return static_cast<char*>(NGX_CONF_ERROR);
  }
  return ngx_conf_set_str_array_slot(cf, cmd, conf);
}

// Collects every argument into the ngx_str_t array at cmd->offset.
char* set_list(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) {
  auto** list = reinterpret_cast<ngx_array_t**>(static_cast<char*>(conf) + cmd->offset);
  if (*list != NGX_CONF_UNSET_PTR) return const_cast<char*>("is duplicate");
  *list = ngx_array_create(cf->pool, cf->args->nelts - 1, sizeof(ngx_str_t));
  if (*list == nullptr) return static_cast<char*>(NGX_CONF_ERROR);
  ngx_str_t* value = static_cast<ngx_str_t*>(cf->args->elts);
  for (ngx_uint_t i = 1; i < cf->args->nelts; i++) {
    auto* s = static_cast<ngx_str_t*>(ngx_array_push(*list));
    if (s == nullptr) return static_cast<char*>(NGX_CONF_ERROR);
    *s = value[i];
  }
  return NGX_CONF_OK;
}

char* set_algorithms(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) {
  ngx_str_t* value = static_cast<ngx_str_t*>(cf->args->elts);
  for (ngx_uint_t i = 1; i < cf->args->nelts; i++) {
    Alg alg;
    if (!alg_from_name(to_view(value[i]), alg)) {
      ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                         "\"%V\": unsupported algorithm \"%V\" (asymmetric JWS algorithms "
                         "only: RS256..512, PS256..512, ES256..512, EdDSA)",
                         &cmd->name, &value[i]);
      return static_cast<char*>(NGX_CONF_ERROR);
    }
  }
  return set_list(cf, cmd, conf);
}

char* set_client_roles(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) {
  return set_list(cf, cmd, conf);
}

// auth_realm_token $variable | off: the bare token from a variable (a
// cookie, a query argument, another header) instead of Authorization.
char* set_token_source(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) {
  auto* lcf = static_cast<LocConf*>(conf);
  if (lcf->token_source != NGX_CONF_UNSET_PTR) return const_cast<char*>("is duplicate");
  ngx_str_t* value = static_cast<ngx_str_t*>(cf->args->elts);
  if (to_view(value[1]) == "off") {
    lcf->token_source = nullptr;
    return NGX_CONF_OK;
  }
  if (ngx_http_script_variables_count(&value[1]) == 0) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"%V\" takes a variable ($cookie_<name>, $arg_<name>, $http_<name>) or "
                       "off, not \"%V\"",
                       &cmd->name, &value[1]);
    return static_cast<char*>(NGX_CONF_ERROR);
  }
  auto* cv = static_cast<ngx_http_complex_value_t*>(
      ngx_pcalloc(cf->pool, sizeof(ngx_http_complex_value_t)));
  if (cv == nullptr) return static_cast<char*>(NGX_CONF_ERROR);
  ngx_http_compile_complex_value_t ccv;
  ngx_memzero(&ccv, sizeof(ccv));
  ccv.cf = cf;
  ccv.value = &value[1];
  ccv.complex_value = cv;
  if (ngx_http_compile_complex_value(&ccv) != NGX_OK) return static_cast<char*>(NGX_CONF_ERROR);
  lcf->token_source = cv;
  return NGX_CONF_OK;
}

// auth_realm_revocation_records <records> | off
char* set_revocation_records(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) {
  auto* mcf = static_cast<MainConf*>(conf);
  if (mcf->revocation_records != NGX_CONF_UNSET) return const_cast<char*>("is duplicate");
  ngx_str_t* value = static_cast<ngx_str_t*>(cf->args->elts);
  if (to_view(value[1]) == "off") {
    mcf->revocation_records = 0;
    return NGX_CONF_OK;
  }
  ngx_int_t n = ngx_atoi(value[1].data, value[1].len);
  // 2^26 records: 4 GiB of zone, beyond any nginx's needs.
  if (n == NGX_ERROR || n < 1 || n > (1 << 26)) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"%V\" takes a number of records (1 to 67108864) or off, not \"%V\"",
                       &cmd->name, &value[1]);
    return static_cast<char*>(NGX_CONF_ERROR);
  }
  mcf->revocation_records = n;
  return NGX_CONF_OK;
}

char* set_status(ngx_conf_t* cf, ngx_command_t*, void*) {
  auto* clcf = static_cast<ngx_http_core_loc_conf_t*>(
      ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module));
  clcf->handler = guard::content<status_handler>;
  return NGX_CONF_OK;
}

char* set_identity(ngx_conf_t* cf, ngx_command_t*, void*) {
  auto* clcf = static_cast<ngx_http_core_loc_conf_t*>(
      ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module));
  clcf->handler = guard::content<identity_handler>;
  return NGX_CONF_OK;
}

}  // namespace

KeyStore* worker_key_store() { return worker_keys; }
WorkerTokenCache* worker_token_cache() { return worker_tokens; }
TenantStates* worker_tenant_states() { return worker_tenants; }
RevocationTable* worker_revocation_table() { return worker_revocations; }

}  // namespace realm_auth

extern "C" {
ngx_module_t ngx_http_realm_auth_module = {
    NGX_MODULE_V1,
    &realm_auth::module_ctx,
    realm_auth::commands,
    NGX_HTTP_MODULE,
    nullptr,                                                  // init master
    nullptr,                                                  // init module
    realm_auth::guard::cycle_init<realm_auth::init_process>,  // init process
    nullptr,                                                  // init thread
    nullptr,                                                  // exit thread
    realm_auth::guard::cycle_exit<realm_auth::exit_process>,  // exit process
    nullptr,                                                  // exit master
    NGX_MODULE_V1_PADDING};
}
