// The module's error-log lines about a request never carry the token.
// nginx appends context to every line logged against a request (client,
// server, the request line, host, referrer): harmless for a token in the
// Authorization header, which nginx never logs, but with auth_realm_token
// the token may sit in the query string (or a path a regex captured), and
// the referrer may hold an earlier page's token URL. Those lines get a
// context of their own: client, server, method and the path without query,
// the path left out too if the token is in it.
#include <cstring>

#include "module.h"

namespace realm_auth {

namespace {

u_char* context_without_credential(ngx_log_t* log, u_char* buf, size_t len) {
  u_char* p = buf;
  u_char* last = buf + len;
  if (log->action) p = ngx_slprintf(p, last, " while %s", log->action);
  auto* lctx = static_cast<ngx_http_log_ctx_t*>(log->data);
  p = ngx_slprintf(p, last, ", client: %V", &lctx->connection->addr_text);
  ngx_http_request_t* r = lctx->current_request != nullptr ? lctx->current_request : lctx->request;
  if (r == nullptr) return p;
  auto* cscf =
      static_cast<ngx_http_core_srv_conf_t*>(ngx_http_get_module_srv_conf(r, ngx_http_core_module));
  p = ngx_slprintf(p, last, ", server: %V", &cscf->server_name);

  std::string_view uri = to_view(r->unparsed_uri);
  std::string_view path = uri.substr(0, uri.find('?'));
  RequestCtx* ctx = request_ctx(r);
  std::string_view token = ctx != nullptr ? to_view(ctx->token) : std::string_view();
  if (!token.empty() && path.find(token) != std::string_view::npos) {
    return ngx_slprintf(p, last, ", request: \"%V (path withheld)\"", &r->method_name);
  }
  return ngx_slprintf(p, last, ", request: \"%V %*s\"", &r->method_name, path.size(), path.data());
}

}  // namespace

ngx_log_t* request_log(ngx_http_request_t* r, ngx_log_t& scratch) {
  ngx_log_t* log = r->connection->log;
  LocConf* lcf = loc_conf(r);
  if (lcf == nullptr || lcf->token_source == nullptr) return log;
  // A copy, so nginx's own lines about this request keep their context;
  // ngx_log_error builds the text with the first log's handler and writes
  // it to every log of the chain.
  scratch = *log;
  scratch.handler = context_without_credential;
  return &scratch;
}

}  // namespace realm_auth
