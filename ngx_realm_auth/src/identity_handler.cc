// auth_realm_identity: answers with the identity the access phase verified,
// as JSON (content handler), for "who am I" locations such as /api/whoami.
// A content handler because `return` runs in the rewrite phase, before the
// token is verified, and a named location (try_files) starts a new module
// context without the identity.
#include "module.h"

namespace realm_auth {

ngx_int_t identity_handler(ngx_http_request_t* r) {
  if (!(r->method & (NGX_HTTP_GET | NGX_HTTP_HEAD))) return NGX_HTTP_NOT_ALLOWED;
  ngx_int_t rc = ngx_http_discard_request_body(r);
  if (rc != NGX_OK) return rc;

  ngx_str_t json;
  if (!identity_json(r, json)) {
    // Only reachable when the location does not verify (auth_realm off):
    // never answer an unverified request with an identity.
    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "realm_auth: auth_realm_identity in a location without a verified token "
                  "(is auth_realm on here?)");
    return NGX_HTTP_INTERNAL_SERVER_ERROR;
  }

  r->headers_out.status = NGX_HTTP_OK;
  r->headers_out.content_length_n = static_cast<off_t>(json.len + 1);
  ngx_str_set(&r->headers_out.content_type, "application/json");
  r->headers_out.content_type_len = r->headers_out.content_type.len;
  rc = ngx_http_send_header(r);
  if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) return rc;

  ngx_buf_t* body = static_cast<ngx_buf_t*>(ngx_calloc_buf(r->pool));
  ngx_buf_t* nl = static_cast<ngx_buf_t*>(ngx_calloc_buf(r->pool));
  if (body == nullptr || nl == nullptr) return NGX_HTTP_INTERNAL_SERVER_ERROR;
  body->pos = json.data;
  body->last = json.data + json.len;
  body->memory = 1;
  static u_char newline[] = "\n";
  nl->pos = newline;
  nl->last = newline + 1;
  nl->memory = 1;
  nl->last_buf = (r == r->main) ? 1 : 0;
  nl->last_in_chain = 1;
  ngx_chain_t tail{nl, nullptr};
  ngx_chain_t out{body, &tail};
  return ngx_http_output_filter(r, &out);
}

}  // namespace realm_auth
