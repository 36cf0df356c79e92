// The request path of sender-constrained tokens (dpop.h): the DPoP
// credential, the proof, the replay caches, the cnf binding, the client
// certificate. Everything but the Redis replay check runs on the event
// loop (a proof check is one signature verify); the Redis check is a
// thread pool task the request waits for.
#include <cstring>
#include <memory>
#include <new>
#include <string>

#include "bearer.h"
#include "client_cert.h"
#include "dpop.h"
#include "dpop_htu.h"
#include "dpop_proof.h"
#include "dpop_replay.h"
#include "guard.h"
#include "module.h"
#include "redis_client.h"
#include "redis_keys.h"

namespace realm_auth {

namespace {

// A Redis replay check that has not answered within this is given up: the
// zone's replay cache has already accepted the jti, so only cross-instance
// replays within that moment could slip through (logged).
constexpr ngx_msec_t kRedisWaitMs = 2000;

// Conditions a client can provoke on every request (a full replay cache,
// Redis down) are logged at warn for the operator, at most once a second
// per worker, so no client floods the log.
enum class Noted { kReplayFull, kRedis, kCount };
bool first_this_second(Noted what) {
  static time_t last[static_cast<size_t>(Noted::kCount)];  // per worker process
  time_t& t = last[static_cast<size_t>(what)];
  if (t == ngx_time()) return false;
  t = ngx_time();
  return true;
}

DpopLocConf* dpop_conf(ngx_http_request_t* r) {
  return static_cast<DpopLocConf*>(
      ngx_http_get_module_loc_conf(r, ngx_http_realm_auth_dpop_module));
}
DpopMainConf* dpop_main(ngx_http_request_t* r) {
  return static_cast<DpopMainConf*>(
      ngx_http_get_module_main_conf(r, ngx_http_realm_auth_dpop_module));
}

bool is_dpop_name(const ngx_table_elt_t& h) {
  size_t n = h.key.len;
  while (n > 0 && (h.lowcase_key[n - 1] == ' ' || h.lowcase_key[n - 1] == '\t')) n--;
  return n == 4 && std::memcmp(h.lowcase_key, "dpop", 4) == 0;
}

// The DPoP header lines the client sent, taken out of the request's
// header list at post-read (take_client_proofs) so that no access
// decision (satisfy any, a location without auth_realm, an error_page
// fallback) can forward one; kept in a pool cleanup, which survives
// internal redirects and is shared with subrequests.
struct DpopHeaders {
  ngx_uint_t count = 0;
  ngx_str_t value{};  // the first one's
};
void client_proofs_tag(void*) {}

const DpopHeaders* client_proofs(ngx_http_request_t* r) {
  for (ngx_pool_cleanup_t* c = r->pool->cleanup; c != nullptr; c = c->next) {
    if (c->handler == client_proofs_tag) return static_cast<const DpopHeaders*>(c->data);
  }
  return nullptr;
}

// Records the DPoP lines and removes them from the list (nginx 1.22 cannot
// unlink one element; every upstream module walks this list).
ngx_int_t record_and_remove(ngx_http_request_t* r, DpopHeaders& out) {
  for (ngx_list_part_t* part = &r->headers_in.headers.part; part != nullptr; part = part->next) {
    auto* h = static_cast<ngx_table_elt_t*>(part->elts);
    for (ngx_uint_t i = 0; i < part->nelts; i++) {
      if (!is_dpop_name(h[i])) continue;
      if (out.count++ == 0) out.value = h[i].value;
    }
  }
  ngx_pool_cleanup_t* cln = ngx_pool_cleanup_add(r->pool, sizeof(DpopHeaders));
  if (cln == nullptr) return NGX_ERROR;
  *static_cast<DpopHeaders*>(cln->data) = out;
  cln->handler = client_proofs_tag;
  if (out.count == 0) return NGX_OK;
  ngx_list_t fresh;
  if (ngx_list_init(&fresh, r->pool, 20, sizeof(ngx_table_elt_t)) != NGX_OK) return NGX_ERROR;
  for (ngx_list_part_t* part = &r->headers_in.headers.part; part != nullptr; part = part->next) {
    auto* h = static_cast<ngx_table_elt_t*>(part->elts);
    for (ngx_uint_t i = 0; i < part->nelts; i++) {
      if (is_dpop_name(h[i])) continue;
      auto* slot = static_cast<ngx_table_elt_t*>(ngx_list_push(&fresh));
      if (slot == nullptr) return NGX_ERROR;
      *slot = h[i];
    }
  }
  bool single_part = fresh.last == &fresh.part;
  r->headers_in.headers = fresh;
  if (single_part) r->headers_in.headers.last = &r->headers_in.headers.part;
  return NGX_OK;
}

// The request's proofs: as taken at post-read, or taken now where
// post-read did not (a request that skipped it).
ngx_int_t dpop_headers(ngx_http_request_t* r, DpopHeaders& out) {
  if (const DpopHeaders* taken = client_proofs(r)) {
    out = *taken;
    return NGX_OK;
  }
  return record_and_remove(r, out);
}

// The request's URI as the client addressed it: auth_realm_dpop_htu_base
// or this connection's scheme with the Host header, then the path of the
// request line (query cut off by normalize_htu).
bool request_htu(ngx_http_request_t* r, const DpopLocConf& dcf, std::string& out) {
  std::string uri;
  if (dcf.htu_base.len > 0) {
    uri.assign(to_view(dcf.htu_base));
  } else {
    uri = r->connection->ssl != nullptr ? "https://" : "http://";
    if (r->headers_in.host != nullptr) {
      uri.append(to_view(r->headers_in.host->value));
    } else {
      uri.append(to_view(r->headers_in.server));
      uri += ':' + std::to_string(ngx_inet_get_port(r->connection->local_sockaddr));
    }
  }
  std::string_view target = to_view(r->unparsed_uri);
  if (target.empty() || target.front() != '/') return false;  // "*" or an absolute form
  uri.append(target);
  return normalize_htu(uri, out);
}

// A proof checked once per request: an internal redirect or a subrequest
// runs the access phase again, without the DPoP header (removed) and with
// its jti already recorded. Kept in a pool cleanup, which (unlike a module
// context) survives internal redirects and is shared with subrequests.
struct CheckedProof {
  std::string token;  // the access token it was checked with
  std::string jkt;
};
void checked_proof_cleanup(void* data) { static_cast<CheckedProof*>(data)->~CheckedProof(); }

const CheckedProof* find_checked_proof(ngx_http_request_t* r) {
  for (ngx_pool_cleanup_t* c = r->pool->cleanup; c != nullptr; c = c->next) {
    if (c->handler == checked_proof_cleanup) return static_cast<const CheckedProof*>(c->data);
  }
  return nullptr;
}

bool record_checked_proof(ngx_http_request_t* r, std::string_view token, std::string_view jkt) {
  ngx_pool_cleanup_t* cln = ngx_pool_cleanup_add(r->pool, sizeof(CheckedProof));
  if (cln == nullptr) return false;
  new (cln->data) CheckedProof{std::string(token), std::string(jkt)};
  cln->handler = checked_proof_cleanup;
  return true;
}

}  // namespace

// The Redis replay check of one proof: SET <prefix>dpop:<hex key> NX PX.
// Owned by the request while it waits; by the task once the request is
// gone (the completion handler then frees it).
struct SenderWait {
  ngx_thread_task_t task;
  RedisEndpoint redis;
  std::string key;
  long ttl_ms = 0;
  bool done = false;
  bool ok = false;        // Redis answered
  bool acquired = false;  // the key was new: first use of the jti in the fleet
  std::string error;
  ngx_msec_t started = 0;
  ngx_http_request_t* request = nullptr;  // null once the request is gone
};

namespace {

void run_redis_check(void* data, ngx_log_t*) {
  auto* w = static_cast<SenderWait*>(data);
  RedisClient client(w->redis);
  w->ok = client.set_nx(w->key, "1", w->ttl_ms, w->acquired);
  if (!w->ok) w->error = client.error();
}

void redis_check_done(ngx_event_t* ev) {
  auto* w = static_cast<SenderWait*>(ev->data);
  w->done = true;
  if (w->request == nullptr) {
    delete w;
    return;
  }
  ngx_post_event(w->request->connection->write, &ngx_posted_events);
}

void sender_wait_cleanup(void* data) {
  auto* ctx = static_cast<RequestCtx*>(data);
  SenderWait* w = ctx->sender_wait;
  if (w == nullptr) return;
  ctx->sender_wait = nullptr;
  if (w->done) {
    delete w;
  } else {
    w->request = nullptr;  // the completion frees it
  }
}

// Posts the Redis check; false when it could not be posted (then only the
// zone's cache applies, as when Redis is down).
bool post_redis_check(ngx_http_request_t* r, RequestCtx* ctx, const DpopReplayCache::Key& key,
                      long ttl_ms) {
  const JwksSourceConfig& source = *main_conf(r)->source;
  std::unique_ptr<SenderWait> w(new (std::nothrow) SenderWait());
  ngx_pool_cleanup_t* cln = ngx_pool_cleanup_add(r->pool, 0);
  if (!w || cln == nullptr) return false;
  ngx_memzero(&w->task, sizeof(w->task));
  w->redis = source.redis;
  static const char kHex[] = "0123456789abcdef";
  std::string hex;
  for (uint8_t b : key) {
    hex += kHex[b >> 4];
    hex += kHex[b & 15];
  }
  w->key = dpop_jti_key(hex);
  w->ttl_ms = ttl_ms;
  w->request = r;
  w->started = ngx_current_msec;
  w->task.ctx = w.get();
  w->task.handler = [](void* data, ngx_log_t* log) noexcept {
    if (guarded(guard::LogReport{log, "dpop replay task"}, [&] { run_redis_check(data, log); })) {
      return;
    }
    static_cast<SenderWait*>(data)->ok = false;
  };
  w->task.event.handler = guard::event<redis_check_done>;
  w->task.event.data = w.get();
  w->task.event.log = r->connection->log;
  cln->handler = sender_wait_cleanup;
  cln->data = ctx;
  if (ngx_thread_task_post(main_conf(r)->thread_pool, &w->task) != NGX_OK) {
    cln->handler = nullptr;
    return false;
  }
  ctx->sender_wait = w.release();
  return true;
}

// The answer of a finished (or given up) Redis check.
Status redis_result(ngx_http_request_t* r, RequestCtx* ctx, bool& wait) {
  SenderWait* w = ctx->sender_wait;
  if (!w->done && ngx_current_msec - w->started <= kRedisWaitMs) {
    wait = true;
    return Status::kOk;
  }
  ctx->sender_wait = nullptr;
  ctx->sender_checked = true;
  if (!w->done) {
    w->request = nullptr;  // the completion frees it
    if (first_this_second(Noted::kRedis)) {
      ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                    "realm_auth: DPoP replay check in Redis did not answer in time; this "
                    "nginx's replay cache alone applied");
    }
    return Status::kOk;
  }
  bool ok = w->ok, acquired = w->acquired;
  if (!ok && first_this_second(Noted::kRedis)) {
    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                  "realm_auth: DPoP replay check in Redis failed (%s); this nginx's replay "
                  "cache alone applied",
                  w->error.c_str());
  }
  delete w;
  if (ok && !acquired) return Status::kDpopReplayed;  // another nginx saw the jti
  return Status::kOk;
}

Status check_proof(ngx_http_request_t* r, RequestCtx* ctx, const DpopLocConf& dcf,
                   const DpopHeaders& headers, std::string& jkt, bool& wait) {
  if (const CheckedProof* done = find_checked_proof(r)) {
    if (done->token == to_view(ctx->token)) {
      jkt = done->jkt;
      return Status::kOk;
    }
  }
  if (headers.count == 0) return Status::kDpopProofMissing;
  if (headers.count > 1) return Status::kDpopProofInvalid;  // RFC 9449 §4.3 check 1
  std::string htu;
  if (!request_htu(r, dcf, htu)) return Status::kDpopUrlMismatch;
  DpopRequest req;
  req.method = to_view(r->method_name);
  req.htu = htu;
  req.access_token = to_view(ctx->token);
  req.now = ngx_time();
  req.window = dcf.window;
  req.algorithms = dcf.algorithms;
  DpopProof proof;
  Status s = verify_dpop_proof(to_view(headers.value), req, proof);
  if (s != Status::kOk) return s;
  // The binding before the replay caches: only proofs that would be
  // accepted take a slot.
  Presentation p;
  p.scheme = TokenScheme::kDpop;
  p.proof_jkt = proof.jkt;
  std::string cert;
  if (!ctx->identity->cnf.x5t_s256.empty()) cert = client_cert_x5t(r->connection);
  p.client_cert_x5t = cert;
  s = check_sender_binding(ctx->identity->cnf, p, dcf.mode == ngx_uint_t(DpopMode::kRequired));
  if (s != Status::kOk) return s;

  // Remembered until the proof's iat leaves the window: after that it is
  // stale, replayed or not.
  int64_t expires = proof.iat + dcf.window + 1;
  s = DpopReplayCache::remember(dpop_main(r)->replay_zone, proof.jkt, proof.jti, expires, req.now);
  if (s == Status::kDpopReplayFull && first_this_second(Noted::kReplayFull)) {
    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                  "realm_auth: DPoP replay cache full: proof refused (make "
                  "auth_realm_dpop_replay_cache larger)");
  }
  if (s != Status::kOk) return s;
  if (!record_checked_proof(r, to_view(ctx->token), proof.jkt)) return Status::kInternalError;
  jkt = proof.jkt;
  if (main_conf(r)->source->use_redis) {
    long ttl_ms = static_cast<long>(expires - req.now) * 1000;
    auto key = DpopReplayCache::key_of(proof.jkt, proof.jti);
    if (post_redis_check(r, ctx, key, ttl_ms)) {
      wait = true;
      return Status::kOk;
    }
    if (first_this_second(Noted::kRedis)) {
      ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                    "realm_auth: DPoP replay check in Redis could not be started; this nginx's "
                    "replay cache alone applied");
    }
  }
  return Status::kOk;
}

}  // namespace

ngx_int_t take_client_proofs(ngx_http_request_t* r) {
  if (client_proofs(r) != nullptr) return NGX_OK;
  DpopHeaders taken;
  return record_and_remove(r, taken);
}

Status dpop_credential(ngx_http_request_t* r, RequestCtx* ctx, ngx_str_t& token) {
  ngx_table_elt_t* h = r->headers_in.authorization;
  if (h == nullptr || dpop_conf(r)->mode == ngx_uint_t(DpopMode::kOff)) {
    return Status::kTokenMissing;
  }
  std::string_view found;
  Status s = authorization_scheme(to_view(h->value), "DPoP", found);
  if (s != Status::kOk) return s;
  ctx->scheme = TokenScheme::kDpop;
  token.data = reinterpret_cast<u_char*>(const_cast<char*>(found.data()));
  token.len = found.size();
  return Status::kOk;
}

Status check_sender(ngx_http_request_t* r, RequestCtx* ctx, bool& wait) {
  wait = false;
  if (ctx->sender_wait != nullptr) return redis_result(r, ctx, wait);
  const DpopLocConf& dcf = *dpop_conf(r);
  DpopHeaders headers;
  if (dpop_headers(r, headers) != NGX_OK) return Status::kInternalError;

  Status s;
  if (ctx->scheme == TokenScheme::kDpop) {
    std::string jkt;
    s = check_proof(r, ctx, dcf, headers, jkt, wait);
    if (wait) return Status::kOk;
  } else {
    Presentation p;
    std::string cert;
    if (!ctx->identity->cnf.x5t_s256.empty()) cert = client_cert_x5t(r->connection);
    p.client_cert_x5t = cert;
    s = check_sender_binding(ctx->identity->cnf, p, dcf.mode == ngx_uint_t(DpopMode::kRequired));
  }
  ctx->sender_checked = true;
  return s;
}

std::string auth_challenge(ngx_http_request_t* r, const RequestCtx* ctx, Status s) {
  const DpopLocConf& dcf = *dpop_conf(r);
  bool dpop = dcf.mode != ngx_uint_t(DpopMode::kOff) &&
              (dcf.mode == ngx_uint_t(DpopMode::kRequired) ||
               (ctx != nullptr && ctx->scheme == TokenScheme::kDpop) || is_dpop_proof_status(s) ||
               s == Status::kDpopBoundAsBearer || s == Status::kDpopBindingMismatch);
  return dpop ? dpop_challenge(s, dcf.algorithms) : bearer_challenge(s);
}

}  // namespace realm_auth
