// Tenant records from Redis (tenant_state.h).
#include "tenant_state.h"

#include <new>
#include <vector>

#include "key_store.h"
#include "module.h"
#include "redis_client.h"
#include "tenant_registry.h"
#include "worker_token_cache.h"
#include "zone.h"

namespace realm_auth {

// One read: the slugs to read in, their records out. Owned by the job; the
// thread touches nothing else.
struct TenantStates::RefreshJob {
  ngx_thread_task_t task;
  TenantStates* owner;
  bool periodic;
  RedisEndpoint redis;
  std::vector<std::string> slugs;
  std::vector<TenantInfo> records;
  std::vector<bool> read;  // per slug: Redis answered
};

TenantStates::TenantStates(const RedisEndpoint& redis, ngx_msec_t interval, ngx_thread_pool_t* pool,
                           Zone* zone, ngx_log_t* log)
    : redis_(redis), interval_(interval), pool_(pool), zone_(zone), log_(log) {
  ngx_memzero(&timer_, sizeof(timer_));
  timer_.handler = on_timer;
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
      if (!e.reading) e.known = true;
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

const TenantInfo* TenantStates::known(const std::string& tenant_id) const {
  auto it = tenants_.find(tenant_id);
  return it != tenants_.end() && it->second.known ? &it->second.info : nullptr;
}

bool TenantStates::post(std::vector<std::string> slugs, bool periodic) {
  auto* job = new (std::nothrow) RefreshJob();
  if (job == nullptr) return false;
  ngx_memzero(&job->task, sizeof(job->task));
  job->owner = this;
  job->periodic = periodic;
  job->redis = redis_;
  job->slugs = std::move(slugs);
  job->task.ctx = job;
  job->task.handler = run_refresh;
  job->task.event.handler = refresh_done;
  job->task.event.data = job;
  job->task.event.log = log_;
  if (ngx_thread_task_post(pool_, &job->task) != NGX_OK) {
    delete job;
    return false;
  }
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
  job->records.assign(job->slugs.size(), TenantInfo{});
  job->read.assign(job->slugs.size(), false);
  for (size_t i = 0; i < job->slugs.size(); i++) {
    if (!read_tenant_record(client, job->slugs[i], job->records[i])) break;  // Redis down
    job->read[i] = true;
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

void TenantStates::refresh_done(ngx_event_t* ev) {
  auto* job = static_cast<RefreshJob*>(ev->data);
  TenantStates* self = job->owner;
  if (job->periodic) self->refreshing_ = false;
  for (size_t i = 0; i < job->slugs.size(); i++) {
    auto it = self->tenants_.find(job->slugs[i]);
    if (it == self->tenants_.end()) continue;
    Entry& e = it->second;
    if (job->read[i]) {
      if (e.known && incarnation_ended(e.info, job->records[i])) self->purge(e.issuer);
      e.info = std::move(job->records[i]);
    }
    // A failed first read leaves the old (absent) record: Redis down does
    // not block requests; the periodic refresh tries again.
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
  delete job;
}

}  // namespace realm_auth
