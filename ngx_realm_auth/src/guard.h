// The module's entry points as nginx sees them: each function nginx (or its
// thread pool) calls is registered through one of these thin adapters,
// which runs the real function under core's guarded() (core/guarded.h)
// and turns an exception into nginx's fail-closed answer for that kind of
// callback. The functions they wrap stay plain C++ and may throw.
//
//   directive / conf_*  configuration time  → logged at emerg with the file
//                                             and line; NGX_CONF_ERROR,
//                                             NGX_ERROR or NULL (nginx -t
//                                             and reload fail, nothing runs
//                                             half-configured)
//   content             content handler     → 500
//   variable            variable getter     → not found (empty)
//   event / cycle_*     event loop, process → logged at alert; the handler's
//                                             work is skipped
//   access_phase        the access handler  → 500, never a decision
//                                             (guard.cc)
//   phase               post-read strip,    → 500
//                       body limit check
//   body_filter         request body filter → 500
// Thread pool tasks need their job marked failed, so they are guarded where
// they are posted (key_store.cc, tenant_state.cc).
#pragma once

#include "guarded.h"
#include "ngx.h"

namespace realm_auth::guard {

// Reports to an nginx log at alert: an exception here is a bug or memory
// exhaustion, both for the operator.
struct LogReport {
  ngx_log_t* log;
  const char* where;
  void operator()(const char* what) const noexcept {
    ngx_log_error(NGX_LOG_ALERT, log, 0, "realm_auth: %s failed: %s", where, what);
  }
};

// Reports against the configuration file and line being parsed.
struct ConfReport {
  ngx_conf_t* cf;
  const char* where;
  void operator()(const char* what) const noexcept {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "realm_auth: %s failed: %s", where, what);
  }
};

inline char* conf_error() { return static_cast<char*>(NGX_CONF_ERROR); }

template <char* (*Fn)(ngx_conf_t*, ngx_command_t*, void*)>
char* directive(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) noexcept {
  return guarded(ConfReport{cf, "directive"}, conf_error(), [&] { return Fn(cf, cmd, conf); });
}

// create_main_conf, create_loc_conf: NULL tells nginx the step failed.
template <void* (*Fn)(ngx_conf_t*)>
void* conf_create(ngx_conf_t* cf) noexcept {
  return guarded(ConfReport{cf, "configuration"}, static_cast<void*>(nullptr),
                 [&] { return Fn(cf); });
}

template <char* (*Fn)(ngx_conf_t*, void*)>
char* conf_init(ngx_conf_t* cf, void* conf) noexcept {
  return guarded(ConfReport{cf, "configuration"}, conf_error(), [&] { return Fn(cf, conf); });
}

template <char* (*Fn)(ngx_conf_t*, void*, void*)>
char* conf_merge(ngx_conf_t* cf, void* parent, void* child) noexcept {
  return guarded(ConfReport{cf, "configuration merge"}, conf_error(),
                 [&] { return Fn(cf, parent, child); });
}

// preconfiguration, postconfiguration.
template <ngx_int_t (*Fn)(ngx_conf_t*)>
ngx_int_t conf_step(ngx_conf_t* cf) noexcept {
  return guarded(ConfReport{cf, "configuration"}, static_cast<ngx_int_t>(NGX_ERROR),
                 [&] { return Fn(cf); });
}

// A shared memory zone's init: NGX_ERROR stops nginx from (re)starting.
template <ngx_int_t (*Fn)(ngx_shm_zone_t*, void*)>
ngx_int_t shm_init(ngx_shm_zone_t* zone, void* old_data) noexcept {
  return guarded(LogReport{zone->shm.log, "shared zone init"}, static_cast<ngx_int_t>(NGX_ERROR),
                 [&] { return Fn(zone, old_data); });
}

// init_process: NGX_ERROR makes the worker exit; it serves nothing.
template <ngx_int_t (*Fn)(ngx_cycle_t*)>
ngx_int_t cycle_init(ngx_cycle_t* cycle) noexcept {
  return guarded(LogReport{cycle->log, "worker init"}, static_cast<ngx_int_t>(NGX_ERROR),
                 [&] { return Fn(cycle); });
}

template <void (*Fn)(ngx_cycle_t*)>
void cycle_exit(ngx_cycle_t* cycle) noexcept {
  guarded(LogReport{cycle->log, "worker exit"}, [&] { Fn(cycle); });
}

// A content handler (auth_realm_status).
template <ngx_int_t (*Fn)(ngx_http_request_t*)>
ngx_int_t content(ngx_http_request_t* r) noexcept {
  return guarded(LogReport{r->connection->log, "content handler"},
                 static_cast<ngx_int_t>(NGX_HTTP_INTERNAL_SERVER_ERROR), [&] { return Fn(r); });
}

// A phase handler other than access (the post-read strip of client-sent
// identity headers): 500, the request goes no further.
template <ngx_int_t (*Fn)(ngx_http_request_t*)>
ngx_int_t phase(ngx_http_request_t* r) noexcept {
  return guarded(LogReport{r->connection->log, "phase handler"},
                 static_cast<ngx_int_t>(NGX_HTTP_INTERNAL_SERVER_ERROR), [&] { return Fn(r); });
}

// A request body filter (auth_realm_body_limit): 500, the body goes no
// further.
template <ngx_int_t (*Fn)(ngx_http_request_t*, ngx_chain_t*)>
ngx_int_t body_filter(ngx_http_request_t* r, ngx_chain_t* in) noexcept {
  return guarded(LogReport{r->connection->log, "request body filter"},
                 static_cast<ngx_int_t>(NGX_HTTP_INTERNAL_SERVER_ERROR), [&] { return Fn(r, in); });
}

// A variable getter: on failure the variable is not found (empty), the
// same as for a request that was not verified.
template <ngx_int_t (*Fn)(ngx_http_request_t*, ngx_http_variable_value_t*, uintptr_t)>
ngx_int_t variable(ngx_http_request_t* r, ngx_http_variable_value_t* v, uintptr_t data) noexcept {
  ngx_int_t rc = NGX_OK;
  if (guarded(LogReport{r->connection->log, "variable"}, [&] { rc = Fn(r, v, data); })) return rc;
  v->valid = 0;
  v->not_found = 1;
  return NGX_OK;
}

// An event handler (timer, thread task completion).
template <void (*Fn)(ngx_event_t*)>
void event(ngx_event_t* ev) noexcept {
  guarded(LogReport{ev->log, "event handler"}, [&] { Fn(ev); });
}

// The access-phase handler, guarded: on an exception the request ends with
// 500 and its context is marked failed ($realm_auth_error internal_error),
// so no later phase or variable sees it as verified (guard.cc).
ngx_int_t access_phase(ngx_http_request_t* r) noexcept;

}  // namespace realm_auth::guard
