// auth_realm_status: the zone's counters as JSON, or in the Prometheus text
// format (content handler). The format: `?format=prometheus` or
// `?format=json` when given, else Prometheus text when Accept names
// text/plain or application/openmetrics-text (Prometheus's scraper sends
// both), else JSON (curl's `*/*`, a browser's text/html). docs/MODULE.md.
#include <cstring>
#include <string>

#include "module.h"
#include "prometheus_text.h"
#include "status_prometheus.h"
#include "zone.h"

namespace realm_auth {

namespace {

bool wants_prometheus(ngx_http_request_t* r) {
  ngx_str_t format;
  if (ngx_http_arg(r, reinterpret_cast<u_char*>(const_cast<char*>("format")), 6, &format) ==
      NGX_OK) {
    std::string_view f(reinterpret_cast<char*>(format.data), format.len);
    if (f == "prometheus") return true;
    if (f == "json") return false;
  }
  // Every Accept line counts (a client may send several).
  for (ngx_list_part_t* part = &r->headers_in.headers.part; part != nullptr; part = part->next) {
    auto* h = static_cast<ngx_table_elt_t*>(part->elts);
    for (ngx_uint_t i = 0; i < part->nelts; i++) {
      if (h[i].key.len == 6 && ngx_strncasecmp(h[i].key.data, (u_char*)"Accept", 6) == 0 &&
          accept_wants_prometheus(
              std::string_view(reinterpret_cast<char*>(h[i].value.data), h[i].value.len))) {
        return true;
      }
    }
  }
  return false;
}

ngx_str_t to_pool(ngx_pool_t* pool, const std::string& text) {
  ngx_str_t out{0, nullptr};
  out.data = static_cast<u_char*>(ngx_pnalloc(pool, text.size()));
  if (out.data != nullptr) {
    std::memcpy(out.data, text.data(), text.size());
    out.len = text.size();
  }
  return out;
}

}  // namespace

ngx_int_t status_handler(ngx_http_request_t* r) {
  if (!(r->method & (NGX_HTTP_GET | NGX_HTTP_HEAD))) return NGX_HTTP_NOT_ALLOWED;
  ngx_int_t rc = ngx_http_discard_request_body(r);
  if (rc != NGX_OK) return rc;

  MainConf* mcf = main_conf(r);
  if (mcf->zone == nullptr) return NGX_HTTP_NOT_FOUND;  // no auth_realm_zone configured
  const bool prometheus = wants_prometheus(r);
  ngx_str_t json = prometheus ? to_pool(r->pool, prometheus_status(mcf->zone->stats()))
                              : mcf->zone->status_json(r->pool);
  if (json.data == nullptr) return NGX_HTTP_INTERNAL_SERVER_ERROR;

  r->headers_out.status = NGX_HTTP_OK;
  r->headers_out.content_length_n = static_cast<off_t>(json.len);
  if (prometheus) {
    r->headers_out.content_type.data =
        reinterpret_cast<u_char*>(const_cast<char*>(kPrometheusContentType));
    r->headers_out.content_type.len = std::strlen(kPrometheusContentType);
  } else {
    ngx_str_set(&r->headers_out.content_type, "application/json");
  }
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
