// Tenant records from Redis (tenant_state.h).
#include "tenant_state.h"

#include <memory>
#include <new>
#include <vector>

#include "guard.h"
#include "key_store.h"
#include "module.h"
#include "redis_client.h"
#include "redis_keys.h"
#include "tenant_registry.h"
#include "worker_token_cache.h"
#include "zone.h"

namespace realm_auth {

// One read: the slugs to read in, their records out. Owned by the job; the
// thread touches nothing else.
struct TenantStates::RefreshJob {
  struct Read {
    RedisRead result = RedisRead::kError;
    TenantRecordValue record;  // kFound
    std::string why;           // kRejected
  };
  ngx_thread_task_t task;
  TenantStates* owner;
  bool periodic;
  RedisEndpoint redis;
  std::vector<std::string> slugs;
  std::vector<Read> reads;  // per slug; shorter when the thread failed (the rest: kError)
};

TenantStates::TenantStates(const RedisEndpoint& redis, ngx_msec_t interval, ngx_thread_pool_t* pool,
                           Zone* zone, RedisRejections* rejections, ngx_log_t* log)
    : redis_(redis),
      interval_(interval),
      pool_(pool),
      zone_(zone),
      rejections_(rejections),
      log_(log) {
  ngx_memzero(&timer_, sizeof(timer_));
  timer_.handler = guard::event<on_timer>;
  timer_.data = this;
  timer_.log = log;
  timer_.cancelable = 1;  // never delays a graceful shutdown
  ngx_add_timer(&timer_, interval_);
}

TenantStates::~TenantStates() {
  if (timer_.timer_set) ngx_del_timer(&timer_);
}

Status TenantStates::admit(const Identity& identity, RequestCtx* ctx, bool& wait) {
  wait = false;
  auto [it, inserted] = tenants_.try_emplace(identity.tenant_id);
  Entry& e = it->second;
  if (inserted) {
    ngx_queue_init(&e.waiters);
    e.issuer = identity.issuer;
  }
  if (!e.known) {
    if (!e.reading) {
      e.reading = post({identity.tenant_id}, false);
      // No task could be posted (out of memory, pool queue full): as if
      // Redis had not answered.
      if (!e.reading) {
        adopt_shared(identity.tenant_id, e);
        e.known = true;
      }
    }
    if (e.reading) {
      if (!ctx->queued) {
        ngx_queue_insert_tail(&e.waiters, &ctx->waiting);
        ctx->queued = true;
      }
      wait = true;
      return Status::kOk;
    }
  }
  return admit_tenant_token(e.info, identity.iat);
}

bool TenantStates::known(const std::string& tenant_id, TenantRecordValue& out) const {
  auto it = tenants_.find(tenant_id);
  if (it != tenants_.end() && it->second.known) {
    out = it->second.info;
    return true;
  }
  return zone_->shared_tenant_record(tenant_id, out);
}

bool TenantStates::post(std::vector<std::string> slugs, bool periodic) {
  std::unique_ptr<RefreshJob> job(new (std::nothrow) RefreshJob());
  if (!job) return false;
  ngx_memzero(&job->task, sizeof(job->task));
  job->owner = this;
  job->periodic = periodic;
  job->redis = redis_;
  job->slugs = std::move(slugs);
  job->task.ctx = job.get();
  // An exception in the thread reads nothing: refresh_done then sees every
  // slug as "Redis did not answer" (states kept, first-sight waiters woken).
  job->task.handler = [](void* data, ngx_log_t* log) noexcept {
    if (guarded(guard::LogReport{log, "tenant state task"}, [&] { run_refresh(data, log); })) {
      return;
    }
    static_cast<RefreshJob*>(data)->reads.clear();
  };
  job->task.event.handler = guard::event<refresh_done>;
  job->task.event.data = job.get();
  job->task.event.log = log_;
  if (ngx_thread_task_post(pool_, &job->task) != NGX_OK) return false;
  job.release();  // refresh_done owns it now
  return true;
}

void TenantStates::on_timer(ngx_event_t* ev) {
  auto* self = static_cast<TenantStates*>(ev->data);
  if (ngx_exiting) return;
  ngx_add_timer(&self->timer_, self->interval_);
  if (self->refreshing_ || self->tenants_.empty()) return;
  std::vector<std::string> slugs;
  slugs.reserve(self->tenants_.size());
  for (const auto& entry : self->tenants_) {
    if (!entry.second.reading) slugs.push_back(entry.first);
  }
  self->refreshing_ = self->post(std::move(slugs), true);
}

void TenantStates::run_refresh(void* data, ngx_log_t*) {
  auto* job = static_cast<RefreshJob*>(data);
  RedisClient client(job->redis);
  job->reads.resize(job->slugs.size());
  for (size_t i = 0; i < job->slugs.size(); i++) {
    RefreshJob::Read& read = job->reads[i];
    read.result = read_tenant_record(client, job->slugs[i], read.record, read.why);
    if (read.result == RedisRead::kError) break;  // Redis down: the rest stay kError
  }
}

void TenantStates::purge(const std::string& issuer) {
  if (issuer.empty()) return;
  if (KeyStore* keys = worker_key_store()) keys->forget(issuer);
  if (WorkerTokenCache* tokens = worker_token_cache()) tokens->forget_issuer(issuer);
  zone_->forget_issuer(issuer);
  ngx_log_error(NGX_LOG_INFO, log_, 0,
                "realm_auth: tenant incarnation of \"%*s\" ended: its keys and verified tokens "
                "were dropped",
                issuer.size(), issuer.data());
}

void TenantStates::apply(Entry& e, const TenantRecordValue& record) {
  if (record.issued_ms < e.info.issued_ms) return;  // older than what we applied: a replay
  if (e.known && incarnation_ended(e.info, record)) purge(e.issuer);
  e.info = record;
}

void TenantStates::adopt_shared(const std::string& slug, Entry& e) {
  TenantRecordValue shared;
  if (zone_->shared_tenant_record(slug, shared)) apply(e, shared);
}

void TenantStates::refresh_done(ngx_event_t* ev) {
  std::unique_ptr<RefreshJob> job(static_cast<RefreshJob*>(ev->data));
  TenantStates* self = job->owner;
  if (job->periodic) self->refreshing_ = false;
  for (size_t i = 0; i < job->slugs.size(); i++) {
    auto it = self->tenants_.find(job->slugs[i]);
    if (it == self->tenants_.end()) continue;  // never the case today: entries are not erased
    Entry& e = it->second;
    const RefreshJob::Read* read = i < job->reads.size() ? &job->reads[i] : nullptr;
    if (read && read->result == RedisRead::kRejected) {
      self->rejections_->note("\"" + job->redis.prefix + tenant_key(job->slugs[i]) +
                              "\": " + read->why);
    }
    // Only an authentic record sealed no earlier than the one applied last
    // changes anything (an older one is a replay). What this worker read is
    // shared with the others of this nginx (the zone), and what they read
    // is taken from there: a worker whose read failed (Redis down, a
    // failover) or that never read this tenant still honours a disable
    // another worker read. Absent, forged, or Redis down, and nothing in
    // the zone: the last authentic record stays; a failed first read of a
    // tenant no worker of this nginx ever read leaves "absent" (served) so
    // Redis down does not block requests, and the periodic refresh tries
    // again.
    if (read && read->result == RedisRead::kFound) {
      self->zone_->share_tenant_record(job->slugs[i], read->record);
      self->apply(e, read->record);
    }
    self->adopt_shared(job->slugs[i], e);
    e.known = true;
    if (!job->periodic) e.reading = false;
    while (!ngx_queue_empty(&e.waiters)) {
      ngx_queue_t* q = ngx_queue_head(&e.waiters);
      RequestCtx* ctx = ngx_queue_data(q, RequestCtx, waiting);
      ngx_queue_remove(q);
      ctx->queued = false;
      ngx_post_event(ctx->request->connection->write, &ngx_posted_events);
    }
  }
}

}  // namespace realm_auth
