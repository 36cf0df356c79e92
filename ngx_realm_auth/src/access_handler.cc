// The access-phase handler. Like auth_request it is re-entrant: it may
// return NGX_AGAIN while the issuer's keys are fetched, and runs again when
// woken (fetch landed in this worker) or when its poll timer fires (fetch
// running in another worker). The flow, in two steps:
//
//   authenticate  begin()    the credential (Authorization or auth_realm_token)
//                 recall()   | the verified-token cache, or
//                 resolve()  | keys → signature → claims → identity
//                 finish()   the tenant's record, revocations (cache hits too)
//   authorize     decide()   request rules (X-Purpose), then the location's
//                            rules (authorize.h), then respond(): the single
//                            Status → response mapping
//
// The sender constraint (DPoP proof, mTLS binding: dpop.h) is checked at
// the start of finish(), where fresh verifications and cache hits meet.
#include <cstring>
#include <new>
#include <string>

#include "authorize.h"
#include "bearer.h"
#include "dpop.h"
#include "key_store.h"
#include "module.h"
#include "tenant_state.h"
#include "token_hash.h"
#include "worker_token_cache.h"
#include "zone.h"

namespace realm_auth {

namespace {

// How often a waiting request re-reads the zone: the fetch may be running in
// another worker, which cannot wake this one.
constexpr ngx_msec_t kPollIntervalMs = 10;

void cleanup_ctx(void* data) {
  auto* ctx = static_cast<RequestCtx*>(data);
  KeyStore::stop_waiting(ctx);
  ctx->~RequestCtx();
}

RequestCtx* create_ctx(ngx_http_request_t* r) {
  void* mem = ngx_palloc(r->pool, sizeof(RequestCtx));
  ngx_pool_cleanup_t* cln = ngx_pool_cleanup_add(r->pool, 0);
  if (mem == nullptr || cln == nullptr) return nullptr;
  auto* ctx = new (mem) RequestCtx();
  ctx->request = r;
  cln->handler = cleanup_ctx;
  cln->data = ctx;
  ngx_http_set_ctx(r, ctx, ngx_http_realm_auth_module);
  return ctx;
}

// What follows "Bearer" (or "DPoP") 1*SP in the Authorization header (core bearer.h:
// the sidecar's rule too); begin() checks it is one b64token unless the
// verified-token cache already knows it. Points into the header.
Status bearer_token(ngx_http_request_t* r, RequestCtx* ctx, ngx_str_t& token) {
  ngx_table_elt_t* h = r->headers_in.authorization;
  if (h == nullptr) return Status::kTokenMissing;
  std::string_view found;
  Status s = bearer_scheme(to_view(h->value), found);
  // Or "DPoP" 1*SP token where the location takes DPoP (dpop.h).
  if (s == Status::kTokenMissing && dpop_credential(r, ctx, token) == Status::kOk) {
    return Status::kOk;
  }
  token.data = reinterpret_cast<u_char*>(const_cast<char*>(found.data()));
  token.len = found.size();
  return s;
}

// The credential: auth_realm_token's value (the bare token, used as is:
// no scheme, no URL decoding) or the Authorization header's bearer token.
// Where auth_realm_token is set, Authorization is not read at all (NGINX
// Plus's rule): one source per location, so two tokens can never both
// claim a request. begin() checks it is one b64token unless the
// verified-token cache already knows it.
Status credential(ngx_http_request_t* r, const LocConf& lcf, RequestCtx* ctx, ngx_str_t& token) {
  if (lcf.token_source == nullptr) return bearer_token(r, ctx, token);
  if (ngx_http_complex_value(r, lcf.token_source, &token) != NGX_OK) return Status::kInternalError;
  return token.len == 0 ? Status::kTokenMissing : Status::kOk;
}

// auth_realm_require_purpose: the selection made before any phase ran
// (identity_headers.cc); none at all is treated as missing.
Status purpose_status(ngx_http_request_t* r) {
  const RequestPurpose* p = request_purpose(r);
  if (p == nullptr || p->check == PurposeCheck::kMissing) return Status::kPurposeMissing;
  return p->check == PurposeCheck::kOk ? Status::kOk : Status::kPurposeInvalid;
}

bool is_request_rule(Status s) {
  return s == Status::kPurposeMissing || s == Status::kPurposeInvalid;
}

// 401 or 403 with its WWW-Authenticate challenge.
ngx_int_t challenge(ngx_http_request_t* r, const std::string& value, ngx_int_t code) {
  ngx_table_elt_t* h = static_cast<ngx_table_elt_t*>(ngx_list_push(&r->headers_out.headers));
  if (h == nullptr) return NGX_HTTP_INTERNAL_SERVER_ERROR;
  h->value.data = static_cast<u_char*>(ngx_pnalloc(r->pool, value.size()));
  if (h->value.data == nullptr) return NGX_HTTP_INTERNAL_SERVER_ERROR;
  h->value.len = value.size();
  std::memcpy(h->value.data, value.data(), value.size());
  h->hash = 1;
  ngx_str_set(&h->key, "WWW-Authenticate");
  r->headers_out.www_authenticate = h;
  return code;
}

ngx_int_t suspend_for_tenant(ngx_http_request_t* r, RequestCtx* ctx);
ngx_int_t suspend_for_sender(ngx_http_request_t* r, RequestCtx* ctx);

// The keys of the verified token in the revocation table (none without one).
const RevocationKeys& revocation_keys(RequestCtx* ctx) {
  RevocationTable* table = worker_revocation_table();
  if (!ctx->have_revocation_keys && table != nullptr) {
    ctx->revocation_keys = table->keys_for(*ctx->identity);
    ctx->have_revocation_keys = true;
  }
  return ctx->revocation_keys;
}

// Whether a revocation record names the verified token: kOk,
// kTokenRevoked, or kOk with `wait` while a new nginx reads the stream for
// the first time. Records name tenants: a token of another realm is never
// revoked by one. An empty table (the usual case) costs two loads.
Status revocation_check(RequestCtx* ctx, bool& wait) {
  wait = false;
  RevocationTable* table = worker_revocation_table();
  if (table == nullptr || ctx->identity->tenant_id.empty()) return Status::kOk;
  if (!table->loaded()) {
    wait = true;
    return Status::kOk;
  }
  if (table->empty()) return Status::kOk;
  // Read before the lookups: a record added meanwhile changes the version
  // again, so the next hit looks again.
  uint64_t checked = table->version() + 1;
  const RevocationKeys& keys = revocation_keys(ctx);
  if (keys.checked == checked) return Status::kOk;  // a cache hit, nothing new since
  if (table->revoked(keys, ngx_time())) return Status::kTokenRevoked;
  worker_token_cache()->note_not_revoked(ctx->cache_slot, checked);
  return Status::kOk;
}

// Waits for the first read of the revocation stream (the poller sets the
// zone's flag; other workers cannot wake this one): re-checked every 20 ms.
ngx_int_t suspend_for_revocations(ngx_http_request_t* r, RequestCtx* ctx);

ngx_int_t decide(ngx_http_request_t* r, const LocConf& lcf, RequestCtx* ctx, Status s);

// The end of authentication, for fresh verifications and cache hits alike.
// A verified tenant token passes its tenant's record (state and
// incarnation, tenant_state.h); the first token of a tenant this worker
// has not read yet waits for the read. Then the revocation records.
ngx_int_t finish(ngx_http_request_t* r, const LocConf& lcf, RequestCtx* ctx, Status s) {
  // The sender binding first, for verified and cached tokens alike: the
  // DPoP proof is checked on every request (dpop.h).
  if (s == Status::kOk && !ctx->sender_checked) {
    bool wait = false;
    s = check_sender(r, ctx, wait);
    if (wait) return suspend_for_sender(r, ctx);
  }
  TenantStates* tenants = worker_tenant_states();
  if (s == Status::kOk && tenants != nullptr && !ctx->identity->tenant_id.empty()) {
    bool wait = false;
    s = tenants->admit(*ctx->identity, ctx, wait);
    if (wait) {
      if (ctx->phase != RequestCtx::Phase::kWaitingForTenant) {
        ctx->phase = RequestCtx::Phase::kWaitingForTenant;
        ctx->wait_started = ngx_current_msec;
      } else if (ngx_current_msec - ctx->wait_started > lcf.fetch_timeout + 1000) {
        // The read is stuck (thread pool saturated): fail closed.
        KeyStore::stop_waiting(ctx);
        s = Status::kJwksUnavailable;
        wait = false;
      }
      if (wait) return suspend_for_tenant(r, ctx);
    }
  }
  // After the tenant's record: cached tokens come through here too.
  if (s == Status::kOk) {
    bool wait = false;
    s = revocation_check(ctx, wait);
    if (wait) {
      if (ctx->phase != RequestCtx::Phase::kWaitingForRevocations) {
        ctx->phase = RequestCtx::Phase::kWaitingForRevocations;
        ctx->wait_started = ngx_current_msec;
        return suspend_for_revocations(r, ctx);
      }
      // Not read within the bound (a huge stream, a stuck thread pool):
      // fail closed, the client may retry.
      if (ngx_current_msec - ctx->wait_started > lcf.fetch_timeout + 1000) {
        s = Status::kJwksUnavailable;
      } else {
        return suspend_for_revocations(r, ctx);
      }
    }
  }
  if ((s == Status::kKeyNotFound || s == Status::kJwksUnavailable) && tenants != nullptr &&
      !ctx->inspected.match.tenant_id.empty()) {
    // A signer the tenant does not know, on a token from before its current
    // incarnation: the deleted incarnation's token.
    TenantRecordValue info;
    if (tenants->known(ctx->inspected.match.tenant_id, info)) {
      s = unverified_refusal(s, info, claimed_iat(ctx->inspected));
    }
  }
  return decide(r, lcf, ctx, s);
}

// The single Status → response mapping. Authorization refusals were
// logged by authorize() with the rule's name.
ngx_int_t respond(ngx_http_request_t* r, const LocConf& lcf, RequestCtx* ctx, Status s) {
  Zone* zone = main_conf(r)->zone;
  if (s == Status::kOk) {
    zone->count(Counter::kVerified);
    ctx->rc = !lcf.identity_headers || set_identity_headers(r, *ctx) == NGX_OK
                  ? NGX_OK
                  : NGX_HTTP_INTERNAL_SERVER_ERROR;
    return ctx->rc;
  }

  zone->count_refused(s);
  if (is_authorization_refusal(s)) {
    ctx->rc = ctx->denial_code == NGX_HTTP_UNAUTHORIZED
                  ? challenge(r, auth_challenge(r, ctx, s), NGX_HTTP_UNAUTHORIZED)
                  : challenge(r,
                              ctx->scheme == TokenScheme::kDpop ? auth_challenge(r, ctx, s)
                                                                : bearer_insufficient_scope(s),
                              NGX_HTTP_FORBIDDEN);
    return ctx->rc;
  }
  // info, not error: every refusal is caused by a client, who must not be
  // able to flood the log at the levels operators alert on. An internal
  // error (out of memory) is the operator's.
  ngx_uint_t level = s == Status::kTokenMissing    ? NGX_LOG_DEBUG
                     : s == Status::kInternalError ? NGX_LOG_ALERT
                                                   : NGX_LOG_INFO;
  ngx_log_t scratch;
  ngx_log_error(level, request_log(r, scratch), 0, "realm_auth: %s refused: %s",
                is_request_rule(s) ? "request" : "token", status_name(s));
  ctx->rc = s == Status::kInternalError ? NGX_HTTP_INTERNAL_SERVER_ERROR
            : is_request_rule(s)        ? NGX_HTTP_BAD_REQUEST
                                 : challenge(r, auth_challenge(r, ctx, s), NGX_HTTP_UNAUTHORIZED);
  return ctx->rc;
}

// Authentication is settled (s): the request rules, then the location's
// authorization rules, which may read the verified identity through
// variables, so the context says kDone and kOk while they run.
ngx_int_t decide(ngx_http_request_t* r, const LocConf& lcf, RequestCtx* ctx, Status s) {
  ctx->phase = RequestCtx::Phase::kDone;
  ctx->status = s;
  if (s == Status::kOk && lcf.require_purpose) s = purpose_status(r);
  if (s == Status::kOk) s = authorize(r, lcf, *ctx);
  ctx->status = s;
  return respond(r, lcf, ctx, s);
}

void wake(ngx_http_request_t* r) {
  // Woken by the poll timer or by the fetch landing, whichever came first:
  // cancel the other so it cannot fire into a later phase.
  ngx_event_t* wev = r->connection->write;
  if (wev->timer_set) {
    ngx_del_timer(wev);
  }
  if (wev->posted) {  // nginx's macro is several statements: keep the braces
    ngx_delete_posted_event(wev);
  }
  wev->timedout = 0;
  r->read_event_handler = ngx_http_block_reading;
  r->write_event_handler = ngx_http_core_run_phases;
  ngx_http_core_run_phases(r);
}

ngx_int_t suspend(ngx_http_request_t* r, RequestCtx* ctx, ngx_queue_t* queue) {
  KeyStore::wait(ctx, queue);
  if (ctx->phase != RequestCtx::Phase::kWaitingForKeys) {
    ctx->phase = RequestCtx::Phase::kWaitingForKeys;
    ctx->wait_started = ngx_current_msec;
  }
  // test_reading finalizes the request if the client goes away meanwhile.
  r->read_event_handler = ngx_http_test_reading;
  r->write_event_handler = wake;
  ngx_add_timer(r->connection->write, kPollIntervalMs);
  return NGX_AGAIN;
}

// Waits for the tenant record read started by TenantStates::admit, which
// wakes the request; the timer only bounds the wait.
ngx_int_t suspend_for_tenant(ngx_http_request_t* r, RequestCtx*) {
  r->read_event_handler = ngx_http_test_reading;
  r->write_event_handler = wake;
  ngx_add_timer(r->connection->write, 100);
  return NGX_AGAIN;
}

// Waits for the Redis replay check of a DPoP proof, which wakes the
// request; the timer only bounds the wait (dpop_request.cc gives up after 2 s).
ngx_int_t suspend_for_sender(ngx_http_request_t* r, RequestCtx* ctx) {
  ctx->phase = RequestCtx::Phase::kWaitingForSender;
  r->read_event_handler = ngx_http_test_reading;
  r->write_event_handler = wake;
  ngx_add_timer(r->connection->write, 100);
  return NGX_AGAIN;
}

ngx_int_t suspend_for_revocations(ngx_http_request_t* r, RequestCtx*) {
  r->read_event_handler = ngx_http_test_reading;
  r->write_event_handler = wake;
  ngx_add_timer(r->connection->write, 20);
  return NGX_AGAIN;
}

// The cache key of the request's token, computed once.
const TokenHash& cache_key(const LocConf& lcf, RequestCtx* ctx) {
  if (!ctx->have_cache_key) {
    // The signing input's SHA-256 comes with the key: a new RS256 token's
    // signature check uses it instead of hashing the token again.
    ctx->cache_key =
        token_cache_key(lcf.cache_key_settings, to_view(ctx->token), &ctx->signing_input_sha256);
    ctx->have_cache_key = true;
  }
  return ctx->cache_key;
}

// Verified-token cache: this worker's table first (no hashing, no lock),
// then the zone shared by all workers (SHA-256 key). A hit on an entry
// only this worker holds shares it (worker_token_cache.h: admission).
bool recall(ngx_http_request_t* r, const LocConf& lcf, RequestCtx* ctx) {
  Zone* zone = main_conf(r)->zone;
  time_t now = ngx_time();
  KeyCheckMemo key_check;
  ctx->identity = worker_token_cache()->find(lcf.fingerprint, to_view(ctx->token), now,
                                             ctx->revocation_keys, key_check, ctx->cache_slot);
  ctx->have_revocation_keys = ctx->identity != nullptr;
  if (!ctx->identity) {
    Identity found;
    if (zone->find_token(cache_key(lcf, ctx), now, found)) {
      time_t valid_until = found.exp + lcf.leeway;
      ctx->identity = std::make_shared<const Identity>(std::move(found));
      ctx->cache_slot =
          worker_token_cache()->store(lcf.fingerprint, to_view(ctx->token), ctx->identity,
                                      valid_until, revocation_keys(ctx), true);
    }
  }
  if (ctx->identity) {
    if (worker_key_store()->still_published(*ctx->identity, lcf, key_check)) {
      worker_token_cache()->note_key_check(ctx->cache_slot, key_check);
    } else {
      ctx->identity = nullptr;  // its key was unpublished (or its keys expired): verify again
      ctx->have_revocation_keys = false;
      ctx->cache_slot = TokenSlotRef{};
    }
  }
  if (ctx->identity && !ctx->cache_slot.shared) {
    // Reused: from now on other workers find it in the zone.
    zone->store_token(cache_key(lcf, ctx), *ctx->identity, ctx->identity->exp + lcf.leeway);
    worker_token_cache()->note_shared(ctx->cache_slot);
  }
  zone->count(ctx->identity ? Counter::kTokenCacheHits : Counter::kTokenCacheMisses);
  return ctx->identity != nullptr;
}

void remember(ngx_http_request_t* r, const LocConf& lcf, RequestCtx* ctx) {
  time_t valid_until = ctx->identity->exp + lcf.leeway;
  WorkerTokenCache* worker = worker_token_cache();
  const TokenHash& key = cache_key(lcf, ctx);
  // First verification here: this worker's table only; the zone when it
  // proves reused (a hit, or a second verification here).
  const bool shared = worker->seen_before(key);
  if (shared) main_conf(r)->zone->store_token(key, *ctx->identity, valid_until);
  ctx->cache_slot = worker->store(lcf.fingerprint, to_view(ctx->token), ctx->identity, valid_until,
                                  revocation_keys(ctx), shared);
}

// Keys → signature → claims → identity; suspends while keys are fetched.
ngx_int_t resolve(ngx_http_request_t* r, const LocConf& lcf, RequestCtx* ctx) {
  KeyStore* keys = worker_key_store();
  KeyStore::stop_waiting(ctx);
  if (ctx->phase == RequestCtx::Phase::kWaitingForKeys &&
      ngx_current_msec - ctx->wait_started > lcf.fetch_timeout + 1000) {
    return finish(r, lcf, ctx, Status::kJwksUnavailable);
  }

  KeyStore::Lookup found = keys->acquire(ctx->inspected.issuer, ctx->inspected.match.tenant_id, lcf,
                                         ctx->refetch_requested);
  if (found.result == KeyStore::Result::kWait) return suspend(r, ctx, found.queue);
  if (found.result == KeyStore::Result::kFail) return finish(r, lcf, ctx, found.status);

  auto identity = std::make_shared<Identity>();
  Status s = verify_token(ctx->inspected, *found.keys, *lcf.verifier, ngx_time(), *identity);
  if (s == Status::kKeyNotFound && !ctx->refetch_requested) {
    // Maybe the issuer rotated its keys: one rate-limited refetch.
    ctx->refetch_requested = true;
    found = keys->refetch(ctx->inspected.issuer, lcf);
    if (found.result == KeyStore::Result::kWait) return suspend(r, ctx, found.queue);
  }
  if (s == Status::kOk) {
    ctx->identity = std::move(identity);
    if (lcf.token_cache) remember(r, lcf, ctx);
  }
  return finish(r, lcf, ctx, s);
}

ngx_int_t begin(ngx_http_request_t* r, const LocConf& lcf, RequestCtx* ctx) {
  Status found = credential(r, lcf, ctx, ctx->token);
  if (found != Status::kOk) return decide(r, lcf, ctx, found);

  // A cached token was verified, so it is a b64token: hits skip the scan.
  if (lcf.token_cache && ctx->token.len <= lcf.token_max_size && recall(r, lcf, ctx)) {
    return finish(r, lcf, ctx, Status::kOk);
  }
  // A token inspect_token accepts is base64url segments joined by '.', so
  // a b64token: the scan (RFC 6750 §2.1) only picks the reason for a token
  // it refuses, and a new token does not pay for reading its bytes twice.
  Status s = inspect_token(to_view(ctx->token), *lcf.verifier, ctx->inspected);
  if (s != Status::kOk && !is_b64token(to_view(ctx->token))) s = Status::kTokenMalformed;
  if (s != Status::kOk) return finish(r, lcf, ctx, s);
  ctx->inspected.jwt.signing_input_sha256 = std::move(ctx->signing_input_sha256);
  return resolve(r, lcf, ctx);
}

}  // namespace

ngx_int_t access_handler(ngx_http_request_t* r) {
  LocConf* lcf = loc_conf(r);
  if (!lcf->enable) return NGX_DECLINED;

  RequestCtx* ctx = request_ctx(r);
  if (ctx == nullptr) {
    ctx = create_ctx(r);
    if (ctx == nullptr) return NGX_HTTP_INTERNAL_SERVER_ERROR;
    return begin(r, *lcf, ctx);
  }
  switch (ctx->phase) {
    case RequestCtx::Phase::kWaitingForKeys:
      return resolve(r, *lcf, ctx);
    case RequestCtx::Phase::kWaitingForTenant:
    case RequestCtx::Phase::kWaitingForRevocations:
    case RequestCtx::Phase::kWaitingForSender:
      return finish(r, *lcf, ctx, Status::kOk);
    case RequestCtx::Phase::kDone:
      return ctx->rc;
    default:
      return begin(r, *lcf, ctx);
  }
}

}  // namespace realm_auth
