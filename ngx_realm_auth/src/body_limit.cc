// ngx_http_realm_auth_body_module: auth_realm_body_limit, a request body
// limit that refuses with 413 and logs at info (docs/MODULE.md).
//
// Why not client_max_body_size: nginx's own check logs every refusal at
// [error] ("client intended to send too large body", "... too large chunked
// body"), so any client can write error-level lines at will, and operators
// alert on those. The refusal is the client's doing, not the server's. This
// limit replaces it in two places, which between them see every body:
//   - the rewrite phase: a declared length (Content-Length, HTTP/1 or 2)
//     over the limit is refused before a byte of the body is read, and
//     before "100 Continue" invites it;
//   - a request body filter on top of nginx's chain, after the chunked and
//     HTTP/2 parsers and before the save filter (memory, temp file, or the
//     upstream when unbuffered): it counts the decoded bytes of bodies
//     without a length and refuses as soon as they pass the limit, so at
//     most the limit plus one read buffer is ever held.
// nginx's check runs before both, so the limit requires client_max_body_size
// 0 wherever it applies (checked at configuration time).
#include "guard.h"

namespace realm_auth {
namespace {

// The request's count of body bytes seen by the filter.
struct BodyCtx {
  off_t received;
  bool refused;
};

// limit: NGX_CONF_UNSET unset, 0 off, else the largest accepted body.
struct BodyLocConf {
  off_t limit;
};

char* set_body_limit(ngx_conf_t* cf, ngx_command_t* cmd, void* conf);
void* create_loc_conf(ngx_conf_t* cf);
char* merge_loc_conf(ngx_conf_t* cf, void* parent, void* child);
ngx_int_t postconfiguration(ngx_conf_t* cf);

ngx_http_request_body_filter_pt next_body_filter;

ngx_command_t commands[] = {
    {ngx_string("auth_realm_body_limit"),
     NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF | NGX_CONF_TAKE1,
     guard::directive<set_body_limit>, NGX_HTTP_LOC_CONF_OFFSET, 0, nullptr},
    ngx_null_command};

ngx_http_module_t module_ctx = {
    nullptr,
    guard::conf_step<postconfiguration>,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
    guard::conf_create<create_loc_conf>,
    guard::conf_merge<merge_loc_conf>,
};

}  // namespace
}  // namespace realm_auth

extern "C" {
ngx_module_t ngx_http_realm_auth_body_module = {NGX_MODULE_V1,
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

namespace realm_auth {
namespace {

void* create_loc_conf(ngx_conf_t* cf) {
  auto* lcf = static_cast<BodyLocConf*>(ngx_pcalloc(cf->pool, sizeof(BodyLocConf)));
  if (lcf == nullptr) return nullptr;
  lcf->limit = NGX_CONF_UNSET;
  return lcf;
}

char* merge_loc_conf(ngx_conf_t* cf, void* parent, void* child) {
  auto* prev = static_cast<BodyLocConf*>(parent);
  auto* conf = static_cast<BodyLocConf*>(child);
  ngx_conf_merge_off_value(conf->limit, prev->limit, 0);
  if (conf->limit == 0) return NGX_CONF_OK;
  // nginx merges its core module first: this is the same block's final
  // client_max_body_size. Were it not 0, nginx would refuse first, at [error].
  auto* clcf = static_cast<ngx_http_core_loc_conf_t*>(
      ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module));
  if (clcf->client_max_body_size != 0) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"auth_realm_body_limit\" needs \"client_max_body_size 0\" where it "
                       "applies (nginx's own check runs first and logs at error)%s%V",
                       clcf->name.len ? ": location " : "", &clcf->name);
    return static_cast<char*>(NGX_CONF_ERROR);
  }
  return NGX_CONF_OK;
}

// auth_realm_body_limit <size>|off
char* set_body_limit(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) {
  auto* lcf = static_cast<BodyLocConf*>(conf);
  if (lcf->limit != NGX_CONF_UNSET) return const_cast<char*>("is duplicate");
  ngx_str_t* value = static_cast<ngx_str_t*>(cf->args->elts);
  if (value[1].len == 3 && ngx_strncmp(value[1].data, "off", 3) == 0) {
    lcf->limit = 0;
    return NGX_CONF_OK;
  }
  off_t n = ngx_parse_offset(&value[1]);
  if (n == NGX_ERROR || n < 1) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"%V\" takes a size of at least 1 byte (e.g. 64k) or \"off\", not \"%V\"",
                       &cmd->name, &value[1]);
    return static_cast<char*>(NGX_CONF_ERROR);
  }
  lcf->limit = n;
  return NGX_CONF_OK;
}

off_t limit_of(ngx_http_request_t* r) {
  auto* lcf =
      static_cast<BodyLocConf*>(ngx_http_get_module_loc_conf(r, ngx_http_realm_auth_body_module));
  return lcf->limit;
}

ngx_int_t refuse(ngx_http_request_t* r, off_t size, off_t limit, const char* how) {
  ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                "realm_auth: request body %s %O bytes is over auth_realm_body_limit %O, "
                "refused with 413",
                how, size, limit);
  return NGX_HTTP_REQUEST_ENTITY_TOO_LARGE;
}

// Rewrite phase: a declared length over the limit, before any body is read.
ngx_int_t check_declared_length(ngx_http_request_t* r) {
  // Subrequests share the main request's body; the body being read already
  // is the filter's; and the error page for this very refusal (or any other:
  // err_status is set) must not be refused again, or nginx would fall back to
  // its own HTML page.
  if (r != r->main || r->request_body != nullptr || r->discard_body || r->err_status != 0) {
    return NGX_DECLINED;
  }
  off_t limit = limit_of(r);
  if (limit == 0 || r->headers_in.content_length_n <= limit) return NGX_DECLINED;
  // No "100 Continue": the client need not send what will not be read.
  r->expect_tested = 1;
  return refuse(r, r->headers_in.content_length_n, limit, "declared as");
}

// Refused while the body is being read: the rest is never read.
ngx_int_t refuse_read(ngx_http_request_t* r, BodyCtx* ctx, off_t size, off_t limit,
                      const char* how) {
  ctx->refused = true;
  // HTTP/1: read and drop the rest for a while before closing, so the
  // client sees the answer rather than a reset, as nginx does for its own
  // 413. Not on an HTTP/2 stream: nginx ends only the stream there
  // (skip_data), and with lingering_close set it sent no answer at all
  // (t/module/230-body-limit.t).
  if (r->stream == nullptr) r->lingering_close = 1;
  return refuse(r, size, limit, how);
}

// Request body filter: the bytes the parsers decoded, counted before they
// are saved or sent on.
ngx_int_t body_filter(ngx_http_request_t* r, ngx_chain_t* in) {
  off_t limit = limit_of(r);
  if (limit == 0) return next_body_filter(r, in);
  auto* ctx = static_cast<BodyCtx*>(ngx_http_get_module_ctx(r, ngx_http_realm_auth_body_module));
  if (ctx == nullptr) {
    ctx = static_cast<BodyCtx*>(ngx_pcalloc(r->pool, sizeof(BodyCtx)));
    if (ctx == nullptr) return NGX_HTTP_INTERNAL_SERVER_ERROR;
    ngx_http_set_ctx(r, ctx, ngx_http_realm_auth_body_module);
  }
  if (ctx->refused) return NGX_HTTP_REQUEST_ENTITY_TOO_LARGE;
  // A declared length is known before the first byte (HTTP/2 without a
  // content-length and HTTP/1 chunked bodies set headers_in.chunked).
  if (!r->headers_in.chunked && r->headers_in.content_length_n > limit) {
    return refuse_read(r, ctx, r->headers_in.content_length_n, limit, "declared as");
  }
  for (ngx_chain_t* cl = in; cl != nullptr; cl = cl->next) ctx->received += ngx_buf_size(cl->buf);
  if (ctx->received > limit) return refuse_read(r, ctx, ctx->received, limit, "reached");
  return next_body_filter(r, in);
}

ngx_int_t postconfiguration(ngx_conf_t* cf) {
  auto* cmcf = static_cast<ngx_http_core_main_conf_t*>(
      ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module));
  auto* h = static_cast<ngx_http_handler_pt*>(
      ngx_array_push(&cmcf->phases[NGX_HTTP_REWRITE_PHASE].handlers));
  if (h == nullptr) return NGX_ERROR;
  *h = guard::phase<check_declared_length>;
  next_body_filter = ngx_http_top_request_body_filter;
  ngx_http_top_request_body_filter = guard::body_filter<body_filter>;
  return NGX_OK;
}

}  // namespace
}  // namespace realm_auth
