// auth_realm_status: the zone's counters as JSON (content handler).
#include "module.h"
#include "zone.h"

namespace realm_auth {

ngx_int_t status_handler(ngx_http_request_t* r) {
  if (!(r->method & (NGX_HTTP_GET | NGX_HTTP_HEAD))) return NGX_HTTP_NOT_ALLOWED;
  ngx_int_t rc = ngx_http_discard_request_body(r);
  if (rc != NGX_OK) return rc;

  MainConf* mcf = main_conf(r);
  if (mcf->zone == nullptr) return NGX_HTTP_NOT_FOUND;  // no auth_realm_zone configured
  ngx_str_t json = mcf->zone->status_json(r->pool);
  if (json.data == nullptr) return NGX_HTTP_INTERNAL_SERVER_ERROR;

  r->headers_out.status = NGX_HTTP_OK;
  r->headers_out.content_length_n = static_cast<off_t>(json.len);
  ngx_str_set(&r->headers_out.content_type, "application/json");
  r->headers_out.content_type_len = r->headers_out.content_type.len;
  rc = ngx_http_send_header(r);
  if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) return rc;

  ngx_buf_t* b = static_cast<ngx_buf_t*>(ngx_calloc_buf(r->pool));
  if (b == nullptr) return NGX_HTTP_INTERNAL_SERVER_ERROR;
  b->pos = json.data;
  b->last = json.data + json.len;
  b->memory = 1;
  b->last_buf = (r == r->main) ? 1 : 0;
  b->last_in_chain = 1;
  ngx_chain_t out{b, nullptr};
  return ngx_http_output_filter(r, &out);
}

}  // namespace realm_auth
