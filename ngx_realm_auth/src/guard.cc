// The access handler's guard (guard.h): the one adapter that needs the
// module's request context.
#include "guard.h"

#include "key_store.h"
#include "module.h"
#include "zone.h"

namespace realm_auth::guard {

ngx_int_t access_phase(ngx_http_request_t* r) noexcept {
  ngx_int_t rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
  ngx_log_t scratch;  // without the request line where the token may be in it
  if (guarded(LogReport{request_log(r, scratch), "access handler"},
              [&] { rc = access_handler(r); })) {
    return rc;
  }
  // Whatever the handler had got to is void: the request is neither
  // verified nor waiting for keys any more, and 500 is not a decision that
  // `satisfy any` or another access module can turn into a pass.
  if (RequestCtx* ctx = request_ctx(r)) {
    KeyStore::stop_waiting(ctx);
    ctx->identity.reset();
    ctx->phase = RequestCtx::Phase::kDone;
    ctx->status = Status::kInternalError;
    ctx->rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
  }
  if (Zone* zone = main_conf(r)->zone) zone->count_refused(Status::kInternalError);
  return NGX_HTTP_INTERNAL_SERVER_ERROR;
}

}  // namespace realm_auth::guard
