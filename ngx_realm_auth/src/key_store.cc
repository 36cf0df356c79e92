// Worker-side JWKS tiers and fetch hand-off to the thread pool (key_store.h).
#include "key_store.h"

#include <openssl/crypto.h>

#include <new>

#include "redis_keys.h"
#include "tenant_registry.h"

namespace realm_auth {

// Everything a fetch needs, owned by the job: the thread never touches a
// request, a pool or the zone. Deleted by fetch_done on the event loop.
struct KeyStore::FetchJob {
  ngx_thread_task_t task;  // must stay first-class: nginx links it into its queue
  KeyStore* store;
  std::string issuer;
  std::string tenant_id;  // set when the registry must be asked first
  bool force_http;
  JwksSourceConfig config;
  JwksFetchOutcome outcome;            // written by the thread
  std::shared_ptr<const Jwks> parsed;  // written by the thread
};

KeyStore::Issuer& KeyStore::issuer_entry(const std::string& issuer) {
  auto [it, inserted] = issuers_.try_emplace(issuer);
  if (inserted) {
    ngx_queue_init(&it->second.waiters);
  }
  return it->second;
}

void KeyStore::refresh_from_zone(Issuer& w, IssuerSnapshot& snap) {
  if (!snap.has_document) return;
  if (snap.generation == w.generation) {
    w.fetched_at = snap.fetched_at;
    return;
  }
  std::shared_ptr<const Jwks> keys;
  if (Jwks::parse(snap.document, keys) != Status::kOk) return;  // stored only after parsing
  w.keys = std::move(keys);
  w.generation = snap.generation;
  w.fetched_at = snap.fetched_at;
  zone_->count(Counter::kZoneHits);
}

KeyStore::Lookup KeyStore::acquire(const std::string& issuer, const std::string& tenant_id,
                                   const LocConf& lcf, bool after_refetch) {
  Issuer& w = issuer_entry(issuer);
  ngx_msec_t now = ngx_current_msec;
  uint64_t epoch = zone_->jwks_epoch();
  if (!after_refetch && w.keys && w.epoch == epoch && elapsed(w.fetched_at, now) < lcf.jwks_ttl) {
    zone_->count(Counter::kWorkerHits);
    return {Result::kReady, w.keys, Status::kOk};
  }

  ClaimPolicy policy{after_refetch ? Claim::kNone : Claim::kIfStale, lcf.jwks_ttl,
                     lcf.fetch_timeout, lcf.refetch_interval};
  IssuerSnapshot snap;
  if (!zone_->look_up_issuer(issuer, w.generation, policy, snap)) {
    ngx_log_error(NGX_LOG_WARN, log_, 0, "realm_auth: zone full, cannot track issuer");
    return {Result::kFail, nullptr, Status::kJwksUnavailable};
  }
  refresh_from_zone(w, snap);
  w.epoch = epoch;
  if (snap.claimed && !start_fetch(issuer, tenant_id, false, lcf)) {
    zone_->fetch_failed(issuer);
    snap.fetch_in_flight = false;
  }
  if (after_refetch && snap.fetch_in_flight) return {Result::kWait, nullptr, Status::kOk};
  if (w.keys && elapsed(w.fetched_at, now) < lcf.jwks_ttl + lcf.jwks_stale) {
    return {Result::kReady, w.keys, Status::kOk};
  }
  if (snap.fetch_in_flight) return {Result::kWait, nullptr, Status::kOk};
  // The last fetch's reason (an unregistered tenant, say), else no keys.
  Status why = snap.failure != Status::kOk ? snap.failure : Status::kJwksUnavailable;
  return {Result::kFail, nullptr, why};
}

KeyStore::Lookup KeyStore::refetch(const std::string& issuer, const std::string& tenant_id,
                                   const LocConf& lcf) {
  Issuer& w = issuer_entry(issuer);
  ClaimPolicy policy{Claim::kRefetch, lcf.jwks_ttl, lcf.fetch_timeout, lcf.refetch_interval};
  IssuerSnapshot snap;
  if (!zone_->look_up_issuer(issuer, w.generation, policy, snap)) {
    return {Result::kFail, nullptr, Status::kKeyNotFound};
  }
  refresh_from_zone(w, snap);
  if (snap.claimed) {
    zone_->count(Counter::kRefetches);
    if (!start_fetch(issuer, tenant_id, true, lcf)) {
      zone_->fetch_failed(issuer);
      return {Result::kFail, nullptr, Status::kKeyNotFound};
    }
  }
  // A fetch in flight (ours or another's) may bring the kid; otherwise the
  // rate limit says no.
  if (snap.claimed || snap.fetch_in_flight) return {Result::kWait, nullptr, Status::kOk};
  return {Result::kFail, nullptr, Status::kKeyNotFound};
}

bool KeyStore::still_published(const std::string& issuer, const std::string& kid) {
  Issuer& w = issuer_entry(issuer);
  uint64_t epoch = zone_->jwks_epoch();
  if (w.epoch != epoch) {
    IssuerSnapshot snap;
    if (zone_->look_up_issuer(issuer, w.generation, ClaimPolicy{}, snap)) {
      refresh_from_zone(w, snap);
      w.epoch = epoch;
    }
  }
  return !w.keys || w.keys->has_kid(kid);  // keys not known here: nothing says otherwise
}

void KeyStore::wait(RequestCtx* ctx, const std::string& issuer) {
  if (ctx->queued) return;
  ngx_queue_insert_tail(&issuer_entry(issuer).waiters, &ctx->waiting);
  ctx->queued = true;
}

void KeyStore::stop_waiting(RequestCtx* ctx) {
  if (!ctx->queued) return;
  ngx_queue_remove(&ctx->waiting);
  ctx->queued = false;
}

bool KeyStore::start_fetch(const std::string& issuer, const std::string& tenant_id, bool force_http,
                           const LocConf& lcf) {
  auto* job = new (std::nothrow) FetchJob();
  if (job == nullptr) return false;
  ngx_memzero(&job->task, sizeof(job->task));
  job->store = this;
  job->issuer = issuer;
  if (tenant_registry_) job->tenant_id = tenant_id;
  job->force_http = force_http;
  job->config = source_;
  job->config.fetch_timeout_ms = static_cast<long>(lcf.fetch_timeout);
  job->config.ttl_ms = static_cast<long>(lcf.jwks_ttl);
  job->task.ctx = job;
  job->task.handler = run_fetch;
  job->task.event.handler = fetch_done;
  job->task.event.data = job;
  job->task.event.log = log_;
  if (ngx_thread_task_post(pool_, &job->task) != NGX_OK) {
    delete job;
    return false;
  }
  return true;
}

namespace {

// An invented tenant-<slug> must not cost a request to Keycloak: with the
// registry on, a tenant the sidecar never created (or deleted) is refused
// after one Redis read. Redis not answering (`redis_error`) lets the fetch
// go ahead: the registry guards Keycloak's load, the signature still guards
// the door. A record that fails its check (forged, oversized) counts as
// absent: whoever can plant one can delete the real one too, so that grants
// nothing, while believing it would let any Redis writer register tenants.
bool registered(const std::string& tenant_id, const RedisEndpoint& redis, JwksFetchOutcome& out) {
  RedisClient client(redis);
  TenantRecordValue record;
  std::string why;
  switch (read_tenant_record(client, tenant_id, record, why)) {
    case RedisRead::kError:
      out.redis_error = true;
      return true;
    case RedisRead::kRejected:
      out.redis_rejected = true;
      out.rejection = "\"" + redis.prefix + tenant_key(tenant_id) + "\": " + why;
      return false;
    case RedisRead::kAbsent:
      return false;
    case RedisRead::kFound:
      break;
  }
  return record.state == TenantRecord::kActive || record.state == TenantRecord::kDisabled;
}

}  // namespace

void KeyStore::run_fetch(void* data, ngx_log_t* /*log*/) {
  auto* job = static_cast<FetchJob*>(data);
  JwksFetchOutcome registry;
  if (!job->tenant_id.empty() && !registered(job->tenant_id, job->config.redis, registry)) {
    job->outcome = std::move(registry);
    job->outcome.status = Status::kTenantUnknown;
    job->outcome.error = "tenant \"" + job->tenant_id + "\" is not in the tenant registry";
  } else {
    job->outcome = obtain_jwks(job->issuer, job->force_http, job->config);
    if (job->outcome.status == Status::kOk &&
        Jwks::parse(job->outcome.body, job->parsed) != Status::kOk) {
      job->outcome.status = Status::kJwksMalformed;
    }
    job->outcome.redis_error = job->outcome.redis_error || registry.redis_error;
  }
  // Hand back this thread's OpenSSL state (error queue, thread-stop handler
  // list) before the thread returns to the pool. At worker exit nginx lets
  // pool threads go without joining them, and OpenSSL's atexit cleanup
  // assumes no other thread is alive: a pool thread still holding that state
  // would free it in its thread-exit destructor while OPENSSL_cleanup() in
  // the main thread frees it too (ASan: "attempting double-free" in a pool
  // thread). Fetches are rare, so rebuilding the state next time is cheap.
  OPENSSL_thread_stop();
}

void KeyStore::fetch_done(ngx_event_t* ev) {
  auto* job = static_cast<FetchJob*>(ev->data);
  job->store->finish_fetch(*job);
  delete job;
}

void KeyStore::finish_fetch(FetchJob& job) {
  const JwksFetchOutcome& out = job.outcome;
  Issuer& w = issuer_entry(job.issuer);
  if (out.redis_error) zone_->count(Counter::kRedisErrors);
  if (out.redis_rejected) rejections_->note(out.rejection);

  if (out.status == Status::kOk) {
    zone_->count(out.origin == JwksOrigin::kRedis ? Counter::kRedisHits : Counter::kHttpFetches);
    uint64_t generation = zone_->store_document(job.issuer, out.body);
    w.keys = job.parsed;
    w.generation = generation;
    w.fetched_at = ngx_current_msec;
    w.epoch = zone_->jwks_epoch();
  } else if (out.status == Status::kTenantUnknown) {
    zone_->fetch_failed(job.issuer, out.status);  // no fetch happened: not a fetch failure
    ngx_log_error(NGX_LOG_INFO, log_, 0, "realm_auth: no JWKS fetch for \"%*s\": %s",
                  job.issuer.size(), job.issuer.data(), out.error.c_str());
  } else {
    zone_->count(Counter::kFetchFailures);
    zone_->fetch_failed(job.issuer);
    // Connection-level failures concern the operator; an HTTP error usually
    // means a client named a realm that does not exist, so keep it quiet.
    ngx_uint_t level = out.http_status == 0 ? NGX_LOG_WARN : NGX_LOG_INFO;
    ngx_log_error(level, log_, 0, "realm_auth: JWKS fetch for \"%*s\" failed: %s",
                  job.issuer.size(), job.issuer.data(), out.error.c_str());
  }

  // Wake this worker's waiters; they re-run the access phase and find the
  // keys (or the failure) in the worker tier.
  while (!ngx_queue_empty(&w.waiters)) {
    ngx_queue_t* q = ngx_queue_head(&w.waiters);
    RequestCtx* ctx = ngx_queue_data(q, RequestCtx, waiting);
    stop_waiting(ctx);
    ngx_post_event(ctx->request->connection->write, &ngx_posted_events);
  }
}

}  // namespace realm_auth
