// ngx_http_realm_auth_dpop_module: the configuration of sender-constrained
// tokens (dpop.h). A second module in the same .so, so its directives and
// conf structs stay out of module.cc; it registers no phase handler: the
// realm_auth access handler calls into dpop_request.cc.
#include <cstring>
#include <string>

#include "dpop.h"
#include "dpop_htu.h"
#include "dpop_replay.h"
#include "guard.h"

namespace realm_auth {
namespace {

char* set_htu_base(ngx_conf_t* cf, ngx_command_t* cmd, void* conf);
char* set_algorithms(ngx_conf_t* cf, ngx_command_t* cmd, void* conf);
char* set_replay_cache(ngx_conf_t* cf, ngx_command_t* cmd, void* conf);
void* create_main_conf(ngx_conf_t* cf);
void* create_loc_conf(ngx_conf_t* cf);
char* merge_loc_conf(ngx_conf_t* cf, void* parent, void* child);

// Default replay cache: 131072 entries (3 MB); see docs/MODULE.md for sizing.
constexpr ngx_int_t kDefaultReplayEntries = 131072;
constexpr time_t kDefaultWindow = 60;
// iat further in the future than this is refused whatever the window.
constexpr time_t kMaxWindow = 600;

ngx_conf_enum_t modes[] = {{ngx_string("off"), static_cast<ngx_uint_t>(DpopMode::kOff)},
                           {ngx_string("on"), static_cast<ngx_uint_t>(DpopMode::kOn)},
                           {ngx_string("required"), static_cast<ngx_uint_t>(DpopMode::kRequired)},
                           {ngx_null_string, 0}};

#define LOC_ANY (NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF)

ngx_command_t commands[] = {
    {ngx_string("auth_realm_dpop"), LOC_ANY | NGX_CONF_TAKE1, ngx_conf_set_enum_slot,
     NGX_HTTP_LOC_CONF_OFFSET, offsetof(DpopLocConf, mode), modes},
    {ngx_string("auth_realm_dpop_htu_base"), LOC_ANY | NGX_CONF_TAKE1,
     guard::directive<set_htu_base>, NGX_HTTP_LOC_CONF_OFFSET, 0, nullptr},
    {ngx_string("auth_realm_dpop_window"), LOC_ANY | NGX_CONF_TAKE1, ngx_conf_set_sec_slot,
     NGX_HTTP_LOC_CONF_OFFSET, offsetof(DpopLocConf, window), nullptr},
    {ngx_string("auth_realm_dpop_algorithms"), LOC_ANY | NGX_CONF_1MORE,
     guard::directive<set_algorithms>, NGX_HTTP_LOC_CONF_OFFSET, 0, nullptr},
    {ngx_string("auth_realm_dpop_replay_cache"), NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE1,
     guard::directive<set_replay_cache>, NGX_HTTP_MAIN_CONF_OFFSET, 0, nullptr},
    ngx_null_command};

ngx_http_module_t module_ctx = {
    nullptr, nullptr, guard::conf_create<create_main_conf>, nullptr,
    nullptr, nullptr, guard::conf_create<create_loc_conf>,  guard::conf_merge<merge_loc_conf>,
};

void* create_main_conf(ngx_conf_t* cf) {
  auto* mcf = static_cast<DpopMainConf*>(ngx_pcalloc(cf->pool, sizeof(DpopMainConf)));
  if (mcf == nullptr) return nullptr;
  mcf->replay_entries = NGX_CONF_UNSET;
  return mcf;
}

void* create_loc_conf(ngx_conf_t* cf) {
  auto* lcf = static_cast<DpopLocConf*>(ngx_pcalloc(cf->pool, sizeof(DpopLocConf)));
  if (lcf == nullptr) return nullptr;
  lcf->mode = NGX_CONF_UNSET_UINT;
  lcf->window = NGX_CONF_UNSET;
  lcf->algs = static_cast<ngx_array_t*>(NGX_CONF_UNSET_PTR);
  // htu_base zeroed: unset (ngx_conf_merge_str_value reads data == NULL).
  return lcf;
}

// The replay zone, made once, by the first location that turns DPoP on.
char* ensure_replay_zone(ngx_conf_t* cf) {
  auto* mcf = static_cast<DpopMainConf*>(
      ngx_http_conf_get_module_main_conf(cf, ngx_http_realm_auth_dpop_module));
  if (mcf->replay_zone != nullptr) return NGX_CONF_OK;
  if (mcf->replay_entries == NGX_CONF_UNSET) mcf->replay_entries = kDefaultReplayEntries;
  ngx_str_t name = ngx_string("realm_auth_dpop_replay");
  size_t entries = static_cast<size_t>(mcf->replay_entries);
  mcf->replay_zone = ngx_shared_memory_add(cf, &name, DpopReplayCache::zone_size(entries),
                                           &ngx_http_realm_auth_dpop_module);
  if (mcf->replay_zone == nullptr) return static_cast<char*>(NGX_CONF_ERROR);
  mcf->replay_zone->init = guard::shm_init<DpopReplayCache::init_zone>;
  mcf->replay_zone->data = reinterpret_cast<void*>(static_cast<uintptr_t>(entries));
  return NGX_CONF_OK;
}

char* merge_loc_conf(ngx_conf_t* cf, void* parent, void* child) {
  auto* prev = static_cast<DpopLocConf*>(parent);
  auto* conf = static_cast<DpopLocConf*>(child);
  ngx_conf_merge_uint_value(conf->mode, prev->mode, static_cast<ngx_uint_t>(DpopMode::kOff));
  ngx_conf_merge_str_value(conf->htu_base, prev->htu_base, "");
  ngx_conf_merge_sec_value(conf->window, prev->window, kDefaultWindow);
  ngx_conf_merge_ptr_value(conf->algs, prev->algs, nullptr);
  if (conf->window < 1 || conf->window > kMaxWindow) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"auth_realm_dpop_window\" must be between 1s and 10m");
    return static_cast<char*>(NGX_CONF_ERROR);
  }
  conf->algorithms = 0;
  if (conf->algs == nullptr) {
    conf->algorithms = kAllAlgs;
  } else {
    auto* names = static_cast<ngx_str_t*>(conf->algs->elts);
    for (ngx_uint_t i = 0; i < conf->algs->nelts; i++) {
      Alg alg;
      alg_from_name(to_view(names[i]), alg);  // validated by set_algorithms
      conf->algorithms |= alg_bit(alg);
    }
  }
  if (conf->mode != static_cast<ngx_uint_t>(DpopMode::kOff)) return ensure_replay_zone(cf);
  return NGX_CONF_OK;
}

// auth_realm_dpop_htu_base https://api.example.com[:port]: the scheme, host
// and port clients use when nginx sits behind a load balancer that
// terminates TLS or rewrites the host. A path is not allowed: htu's path is
// always the request's.
char* set_htu_base(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) {
  auto* lcf = static_cast<DpopLocConf*>(conf);
  if (lcf->htu_base.data != nullptr) return const_cast<char*>("is duplicate");
  ngx_str_t* value = static_cast<ngx_str_t*>(cf->args->elts);
  std::string_view base = to_view(value[1]);
  size_t scheme_end = base.find("://");
  bool has_path = scheme_end != std::string_view::npos &&
                  base.find_first_of("/?#", scheme_end + 3) != std::string_view::npos;
  std::string normalised;
  if (has_path || !normalize_htu(base, normalised)) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"%V\" takes http(s)://host[:port] without a path, not \"%V\"", &cmd->name,
                       &value[1]);
    return static_cast<char*>(NGX_CONF_ERROR);
  }
  normalised.pop_back();  // the "/" of the empty path: the request's path follows
  lcf->htu_base.data = static_cast<u_char*>(ngx_pnalloc(cf->pool, normalised.size()));
  if (lcf->htu_base.data == nullptr) return static_cast<char*>(NGX_CONF_ERROR);
  std::memcpy(lcf->htu_base.data, normalised.data(), normalised.size());
  lcf->htu_base.len = normalised.size();
  return NGX_CONF_OK;
}

char* set_algorithms(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) {
  auto* lcf = static_cast<DpopLocConf*>(conf);
  if (lcf->algs != NGX_CONF_UNSET_PTR) return const_cast<char*>("is duplicate");
  ngx_str_t* value = static_cast<ngx_str_t*>(cf->args->elts);
  lcf->algs = ngx_array_create(cf->pool, cf->args->nelts, sizeof(ngx_str_t));
  if (lcf->algs == nullptr) return static_cast<char*>(NGX_CONF_ERROR);
  for (ngx_uint_t i = 1; i < cf->args->nelts; i++) {
    Alg alg;
    if (!alg_from_name(to_view(value[i]), alg)) {
      ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                         "\"%V\": unsupported algorithm \"%V\" (asymmetric JWS algorithms "
                         "only: RS256..512, PS256..512, ES256..512, EdDSA)",
                         &cmd->name, &value[i]);
      return static_cast<char*>(NGX_CONF_ERROR);
    }
    auto* s = static_cast<ngx_str_t*>(ngx_array_push(lcf->algs));
    if (s == nullptr) return static_cast<char*>(NGX_CONF_ERROR);
    *s = value[i];
  }
  return NGX_CONF_OK;
}

// auth_realm_dpop_replay_cache <entries>: the zone is made (at merge time,
// after the whole http block is read) when some location turns DPoP on.
char* set_replay_cache(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) {
  auto* mcf = static_cast<DpopMainConf*>(conf);
  if (mcf->replay_entries != NGX_CONF_UNSET) return const_cast<char*>("is duplicate");
  ngx_str_t* value = static_cast<ngx_str_t*>(cf->args->elts);
  ngx_int_t n = ngx_atoi(value[1].data, value[1].len);
  if (n == NGX_ERROR || n < 1024 || n > (1 << 26)) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"%V\" takes a number of entries (1024 to 67108864), not \"%V\"",
                       &cmd->name, &value[1]);
    return static_cast<char*>(NGX_CONF_ERROR);
  }
  mcf->replay_entries = n;
  return NGX_CONF_OK;
}

}  // namespace
}  // namespace realm_auth

extern "C" {
ngx_module_t ngx_http_realm_auth_dpop_module = {NGX_MODULE_V1,
                                                &realm_auth::module_ctx,
                                                realm_auth::commands,
                                                NGX_HTTP_MODULE,
                                                nullptr,
                                                nullptr,
                                                nullptr,
                                                nullptr,
                                                nullptr,
                                                nullptr,
                                                nullptr,
                                                NGX_MODULE_V1_PADDING};
}
