// Worker-side JWKS tiers and fetch hand-off to the thread pool (key_store.h).
#include "key_store.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <new>

#include "guard.h"

namespace realm_auth {

// Everything a fetch needs, owned by the job: the thread never touches a
// request, a pool or the zone. Deleted by fetch_done on the event loop.
struct KeyStore::FetchJob {
  ngx_thread_task_t task;  // must stay first-class: nginx links it into its queue
  KeyStore* store;
  std::string issuer;
  bool force_http;
  JwksSourceConfig config;
  JwksFetchOutcome outcome;            // written by the thread
  std::shared_ptr<const Jwks> parsed;  // written by the thread
  uint64_t duration_us = 0;            // written by the thread: how long obtaining took
  std::atomic<bool> finished{false};   // set by the thread last: outcome and parsed are final
};

KeyStore::KeyStore(Zone* zone, ngx_thread_pool_t* pool, const JwksSourceConfig& source,
                   bool tenant_registry, RedisRejections* rejections, ngx_log_t* log)
    : zone_(zone), pool_(pool), source_(source), rejections_(rejections), log_(log) {
  if (tenant_registry) gate_ = std::make_unique<TenantGate>(source.redis, pool, rejections, log);
}

// A worker that exits (a reload, an upgrade, a shutdown) first lets its
// thread pool run every queued task to its end (nginx's pool exit, before
// this module's exit_process), but never runs their completions. A fetch
// still in flight then is one whose requests went away, or a refresh that
// served stale keys meanwhile: without this, its keys were lost and its
// claim in the zone made every other worker (the new generation) wait for
// it to be abandoned, fetch timeout + 1 s, then fetch again. A fetch that
// landed is stored as its completion would have; one whose thread is
// still running (nginx's order changed) gives its claim back and leaves
// the job to that thread.
void KeyStore::settle_at_exit() {
  for (auto it = in_flight_.begin(); it != in_flight_.end(); it = in_flight_.erase(it)) {
    FetchJob* job = *it;
    if (!job->finished.load(std::memory_order_acquire)) {
      zone_->abandon_fetch(job->issuer);
      continue;
    }
    std::unique_ptr<FetchJob> owned(job);
    uint64_t generation;
    ngx_msec_t age;
    record_outcome(*owned, generation, age);
  }
}

KeyStore::Issuer* KeyStore::find_entry(const std::string& issuer) {
  auto it = issuers_.find(issuer);
  return it == issuers_.end() ? nullptr : &it->second;
}

void KeyStore::set_keys(Issuer& w, std::shared_ptr<const Jwks> keys) {
  w.keys = std::move(keys);
  w.keys_serial = ++keys_serials_;
}

void KeyStore::erase_entry(std::unordered_map<std::string, Issuer>::iterator it) {
  if (it->second.keys_serial != 0) ++keyed_erasures_;
  issuers_.erase(it);
}

KeyStore::Issuer& KeyStore::issuer_entry(const std::string& issuer) {
  if (issuers_.size() >= sweep_at_) {
    // Entries left by requests that gave up waiting (the client went away,
    // the fetch ran in another worker): drop every idle one, then allow
    // twice what is left before the next sweep, so sweeping stays O(1)
    // per entry made.
    for (auto it = issuers_.begin(); it != issuers_.end();) {
      auto next = std::next(it);
      if (!it->second.keys && ngx_queue_empty(&it->second.waiters)) erase_entry(it);
      it = next;
    }
    sweep_at_ = std::max(kFirstSweep, 2 * issuers_.size());
  }
  auto [it, inserted] = issuers_.try_emplace(issuer);
  if (inserted) {
    ngx_queue_init(&it->second.waiters);
  }
  return it->second;
}

KeyStore::Lookup KeyStore::wait_for(const std::string& issuer) {
  return {Result::kWait, nullptr, Status::kOk, &issuer_entry(issuer).waiters};
}

void KeyStore::forget_if_idle(const std::string& issuer) {
  auto it = issuers_.find(issuer);
  if (it != issuers_.end() && !it->second.keys && ngx_queue_empty(&it->second.waiters)) {
    erase_entry(it);
  }
}

KeyStore::Issuer* KeyStore::refresh_from_zone(const std::string& issuer, Issuer* w,
                                              IssuerSnapshot& snap) {
  if (!snap.has_document) {
    // Keys this worker took from the zone, and the zone holds them no more:
    // Zone::forget_issuer ended the tenant's incarnation. Drop them too, or
    // this worker would serve them until their TTL.
    if (w != nullptr && w->keys && w->generation != 0) {
      set_keys(*w, nullptr);
      w->generation = 0;
      w->fetched_at = 0;
    }
    return w;
  }
  if (w != nullptr && snap.generation == w->generation) {
    w->fetched_at = snap.fetched_at;
    return w;
  }
  std::shared_ptr<const Jwks> keys;
  if (Jwks::parse(snap.document, keys) != Status::kOk) return w;  // stored only after parsing
  if (w == nullptr) w = &issuer_entry(issuer);
  set_keys(*w, std::move(keys));
  w->generation = snap.generation;
  w->fetched_at = snap.fetched_at;
  zone_->count(Counter::kZoneHits);
  return w;
}

bool KeyStore::admitted(const std::string& tenant_id, Lookup& out) {
  ngx_queue_t* queue = nullptr;
  switch (gate_->check(tenant_id, &queue)) {
    case TenantGate::Verdict::kRegistered:
      return true;
    case TenantGate::Verdict::kPending:
      out = {Result::kWait, nullptr, Status::kOk, queue};
      return false;
    case TenantGate::Verdict::kUnknown:
      out = {Result::kFail, nullptr, Status::kTenantUnknown};
      return false;
    case TenantGate::Verdict::kDeleted:
      out = {Result::kFail, nullptr, Status::kTenantDeleted};
      return false;
    case TenantGate::Verdict::kBusy:
    default:
      out = {Result::kFail, nullptr, Status::kJwksUnavailable};
      return false;
  }
}

KeyStore::Lookup KeyStore::acquire(const std::string& issuer, const std::string& tenant_id,
                                   const LocConf& lcf, bool after_refetch) {
  Issuer* w = find_entry(issuer);
  ngx_msec_t now = ngx_current_msec;
  uint64_t epoch = zone_->jwks_epoch();
  if (!after_refetch && w && w->keys && w->epoch == epoch &&
      elapsed(w->fetched_at, now) < lcf.jwks_ttl) {
    zone_->count(Counter::kWorkerHits);
    return {Result::kReady, w->keys, Status::kOk};
  }

  ClaimPolicy policy{after_refetch ? Claim::kNone : Claim::kIfStale, lcf.jwks_ttl,
                     lcf.fetch_timeout, lcf.refetch_interval};
  // With the registry on, a tenant the zone does not know yet gets no entry
  // before the registry has answered for it.
  bool gated = gate_ && !tenant_id.empty() && (w == nullptr || !w->keys);
  policy.create = !gated;
  IssuerSnapshot snap;
  bool room = zone_->look_up_issuer(issuer, w ? w->generation : 0, policy, snap);
  if (room && gated && !snap.known && policy.claim != Claim::kNone) {
    Lookup verdict;
    if (!admitted(tenant_id, verdict)) {
      if (verdict.result == Result::kFail) forget_if_idle(issuer);
      return verdict;
    }
    policy.create = true;
    room = zone_->look_up_issuer(issuer, 0, policy, snap);
  }
  if (!room) {
    // Document-less issuers hold their whole share of the zone: a flood of
    // made-up realms. Counted, and logged like any refusal (at info).
    zone_->count(Counter::kIssuersRefused);
    forget_if_idle(issuer);
    return {Result::kFail, nullptr, Status::kJwksUnavailable};
  }
  w = refresh_from_zone(issuer, w, snap);
  if (w != nullptr) w->epoch = epoch;
  if (snap.claimed && !start_fetch(issuer, false, lcf)) {
    zone_->fetch_failed(issuer);
    snap.fetch_in_flight = false;
  }
  if (after_refetch && snap.fetch_in_flight) return wait_for(issuer);
  if (w && w->keys && elapsed(w->fetched_at, now) < lcf.jwks_ttl + lcf.jwks_stale) {
    return {Result::kReady, w->keys, Status::kOk};
  }
  if (snap.fetch_in_flight) return wait_for(issuer);
  if (snap.no_fetch_slot) zone_->count(Counter::kIssuersRefused);
  forget_if_idle(issuer);
  return {Result::kFail, nullptr, Status::kJwksUnavailable};
}

KeyStore::Lookup KeyStore::refetch(const std::string& issuer, const LocConf& lcf) {
  Issuer* w = find_entry(issuer);
  ClaimPolicy policy{Claim::kRefetch, lcf.jwks_ttl, lcf.fetch_timeout, lcf.refetch_interval};
  policy.create = false;  // only issuers that had keys get here
  IssuerSnapshot snap;
  if (!zone_->look_up_issuer(issuer, w ? w->generation : 0, policy, snap) || !snap.known) {
    return {Result::kFail, nullptr, Status::kKeyNotFound};
  }
  refresh_from_zone(issuer, w, snap);
  if (snap.claimed) {
    zone_->count(Counter::kRefetches);
    if (!start_fetch(issuer, true, lcf)) {
      zone_->fetch_failed(issuer);
      return {Result::kFail, nullptr, Status::kKeyNotFound};
    }
  }
  // A fetch in flight (ours or another's) may bring the kid; otherwise the
  // rate limit says no.
  if (snap.claimed || snap.fetch_in_flight) return wait_for(issuer);
  return {Result::kFail, nullptr, Status::kKeyNotFound};
}

bool KeyStore::still_published(const Identity& identity, const LocConf& lcf, KeyCheckMemo& memo) {
  // The memo's entry is alive while no keyed entry was erased since (an
  // entry the memo names had keys). Otherwise the lookup by name.
  const bool memo_alive = memo.entry != nullptr && memo.erasures == keyed_erasures_;
  Issuer* w = memo_alive ? static_cast<Issuer*>(memo.entry) : find_entry(identity.issuer);
  uint64_t epoch = zone_->jwks_epoch();
  if (w == nullptr || w->epoch != epoch) {
    ClaimPolicy look_only;
    look_only.create = false;
    IssuerSnapshot snap;
    if (zone_->look_up_issuer(identity.issuer, w ? w->generation : 0, look_only, snap)) {
      w = refresh_from_zone(identity.issuer, w, snap);
      if (w != nullptr) w->epoch = epoch;
    }
  }
  if (w == nullptr || !w->keys) return true;  // keys not known here: nothing says otherwise
  // A key set never changes: the one that held the kid at the last check
  // still does. (A live memo's entry is `w`: the zone refresh above keeps
  // an entry it was given.)
  if (!memo_alive || memo.keys_serial != w->keys_serial) {
    if (!w->keys->has_kid(identity.key_id)) return false;
    memo = {w, keyed_erasures_, w->keys_serial};
  }
  if (elapsed(w->fetched_at, ngx_current_msec) < lcf.jwks_ttl) return true;
  // Keys past their TTL: start their refresh as a verification would, so a
  // key the issuer removed stops vouching for cached tokens too, even when
  // every request is a cache hit. Meanwhile they serve as stale keys do.
  Lookup l = acquire(identity.issuer, identity.tenant_id, lcf, false);
  return l.result == Result::kReady && l.keys->has_kid(identity.key_id);
}

void KeyStore::forget(const std::string& issuer) {
  auto it = issuers_.find(issuer);
  if (it == issuers_.end()) return;
  wake_all(&it->second.waiters);  // they re-run the access phase and find no entry
  erase_entry(it);
}

void KeyStore::wait(RequestCtx* ctx, ngx_queue_t* queue) {
  if (ctx->queued) return;
  ngx_queue_insert_tail(queue, &ctx->waiting);
  ctx->queued = true;
}

void KeyStore::stop_waiting(RequestCtx* ctx) {
  if (!ctx->queued) return;
  ngx_queue_remove(&ctx->waiting);
  ctx->queued = false;
}

void KeyStore::wake_all(ngx_queue_t* waiters) {
  while (!ngx_queue_empty(waiters)) {
    RequestCtx* ctx = ngx_queue_data(ngx_queue_head(waiters), RequestCtx, waiting);
    stop_waiting(ctx);
    ngx_post_event(ctx->request->connection->write, &ngx_posted_events);
  }
}

ngx_uint_t KeyStore::warn_level() {
  ngx_msec_t now = ngx_current_msec;
  if (last_warn_ != 0 && elapsed(last_warn_, now) < 1000) return NGX_LOG_INFO;
  last_warn_ = now;
  return NGX_LOG_WARN;
}

bool KeyStore::start_fetch(const std::string& issuer, bool force_http, const LocConf& lcf) {
  auto* job = new (std::nothrow) FetchJob();
  if (job == nullptr) return false;
  ngx_memzero(&job->task, sizeof(job->task));
  job->store = this;
  job->issuer = issuer;
  job->force_http = force_http;
  job->config = source_;
  job->config.fetch_timeout_ms = static_cast<long>(lcf.fetch_timeout);
  job->config.ttl_ms = static_cast<long>(lcf.jwks_ttl);
  job->task.ctx = job;
  // Guarded here, where the job is known: an exception in the thread fails
  // the fetch (its waiters get jwks_unavailable); one in the completion
  // still frees the job (fetch_done owns it).
  job->task.handler = [](void* data, ngx_log_t* log) noexcept {
    auto* self = static_cast<FetchJob*>(data);
    if (!guarded(guard::LogReport{log, "JWKS fetch task"}, [&] { run_fetch(data, log); })) {
      self->parsed.reset();
      self->outcome.status = Status::kJwksUnavailable;
      self->outcome.error = "internal error";  // fits std::string's own buffer: no allocation
      OPENSSL_thread_stop();                   // as run_fetch does on return
    }
    self->finished.store(true, std::memory_order_release);
  };
  job->task.event.handler = guard::event<fetch_done>;
  job->task.event.data = job;
  job->task.event.log = log_;
  try {
    in_flight_.insert(job);
  } catch (...) {
    delete job;
    throw;
  }
  if (ngx_thread_task_post(pool_, &job->task) != NGX_OK) {
    in_flight_.erase(job);
    delete job;
    return false;
  }
  return true;
}

void KeyStore::run_fetch(void* data, ngx_log_t* /*log*/) {
  auto* job = static_cast<FetchJob*>(data);
  // Timed in the thread (a monotonic clock): the event loop's cached
  // ngx_current_msec would add the wait for the completion event.
  const auto started = std::chrono::steady_clock::now();
  job->outcome = obtain_jwks(job->issuer, job->force_http, job->config);
  if (job->outcome.status == Status::kOk &&
      Jwks::parse(job->outcome.body, job->parsed) != Status::kOk) {
    job->outcome.status = Status::kJwksMalformed;
  }
  job->duration_us = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                               std::chrono::steady_clock::now() - started)
                                               .count());
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
  std::unique_ptr<FetchJob> job(static_cast<FetchJob*>(ev->data));
  job->store->in_flight_.erase(job.get());
  job->store->finish_fetch(*job);
}

void KeyStore::record_outcome(const FetchJob& job, uint64_t& generation, ngx_msec_t& age) {
  const JwksFetchOutcome& out = job.outcome;
  generation = 0;
  age = 0;
  if (out.redis_error) zone_->count(Counter::kRedisErrors);
  if (out.redis_rejected) rejections_->note(out.rejection);
  zone_->observe_fetch(out.status == Status::kOk, job.duration_us);

  if (out.status == Status::kOk) {
    zone_->count(out.origin == JwksOrigin::kRedis ? Counter::kRedisHits : Counter::kHttpFetches);
    // A Redis copy counts from when it was fetched (jwks_source keeps its
    // age below the TTL), never from before this clock's origin.
    const ngx_msec_t now = ngx_current_msec;
    age = std::min(static_cast<ngx_msec_t>(out.age_ms), now);
    generation = zone_->store_document(job.issuer, out.body, age);
    return;
  }
  zone_->count(Counter::kFetchFailures);
  zone_->fetch_failed(job.issuer);
  // Connection-level failures concern the operator, but a client can
  // cause one per made-up realm while the identity provider is down: warn
  // once a second at most. An HTTP error usually means a client named a
  // realm that does not exist, so keep it quiet.
  ngx_uint_t level = out.http_status == 0 ? warn_level() : NGX_LOG_INFO;
  ngx_log_error(level, log_, 0, "realm_auth: JWKS fetch for \"%*s\" failed: %s", job.issuer.size(),
                job.issuer.data(), out.error.c_str());
}

void KeyStore::finish_fetch(FetchJob& job) {
  uint64_t generation;
  ngx_msec_t age;
  record_outcome(job, generation, age);
  if (job.outcome.status == Status::kOk) {
    Issuer& w = issuer_entry(job.issuer);
    set_keys(w, job.parsed);
    w.generation = generation;
    w.fetched_at = ngx_current_msec - age;
    w.epoch = zone_->jwks_epoch();
  }

  // Wake this worker's waiters; they re-run the access phase and find the
  // keys (or the failure) in the worker tier. An issuer left without keys
  // keeps no worker state.
  if (Issuer* w = find_entry(job.issuer)) {
    wake_all(&w->waiters);
    forget_if_idle(job.issuer);
  }
}

}  // namespace realm_auth
