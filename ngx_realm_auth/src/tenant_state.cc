// Tenant lifecycle states from Redis (tenant_state.h).
#include "tenant_state.h"

#include <memory>
#include <new>
#include <vector>

#include "guard.h"
#include "redis_client.h"
#include "tenant_registry.h"

namespace realm_auth {

// One refresh: the slugs to read in, their states out. Owned by the job;
// the thread touches nothing else.
struct TenantStates::RefreshJob {
  ngx_thread_task_t task;
  TenantStates* owner;
  RedisEndpoint redis;
  std::vector<std::string> slugs;
  std::vector<int> blocked;  // per slug: 1 blocked, 0 allowed, -1 unknown (Redis error)
};

TenantStates::TenantStates(const RedisEndpoint& redis, ngx_msec_t interval, ngx_thread_pool_t* pool,
                           ngx_log_t* log)
    : redis_(redis), interval_(interval), pool_(pool), log_(log) {
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

bool TenantStates::allowed(const std::string& tenant_id) {
  auto [it, inserted] = blocked_.try_emplace(tenant_id, false);
  return !it->second;
}

void TenantStates::on_timer(ngx_event_t* ev) {
  auto* self = static_cast<TenantStates*>(ev->data);
  if (ngx_exiting) return;
  ngx_add_timer(&self->timer_, self->interval_);
  if (self->refreshing_ || self->blocked_.empty()) return;

  std::unique_ptr<RefreshJob> job(new (std::nothrow) RefreshJob());
  if (!job) return;
  ngx_memzero(&job->task, sizeof(job->task));
  job->owner = self;
  job->redis = self->redis_;
  for (const auto& entry : self->blocked_) job->slugs.push_back(entry.first);
  job->task.ctx = job.get();
  // An exception in the thread reads no state: the old states stay.
  job->task.handler = [](void* data, ngx_log_t* log) noexcept {
    if (guarded(guard::LogReport{log, "tenant state task"}, [&] { run_refresh(data, log); })) {
      return;
    }
    static_cast<RefreshJob*>(data)->slugs.clear();  // refresh_done then changes nothing
  };
  job->task.event.handler = guard::event<refresh_done>;
  job->task.event.data = job.get();
  job->task.event.log = self->log_;
  if (ngx_thread_task_post(self->pool_, &job->task) != NGX_OK) return;
  job.release();  // refresh_done owns it now
  self->refreshing_ = true;
}

void TenantStates::run_refresh(void* data, ngx_log_t*) {
  auto* job = static_cast<RefreshJob*>(data);
  RedisClient client(job->redis);
  job->blocked.assign(job->slugs.size(), -1);
  for (size_t i = 0; i < job->slugs.size(); i++) {
    TenantRecord record;
    if (!read_tenant_record(client, job->slugs[i], record)) break;  // Redis down: keep old states
    job->blocked[i] = record == TenantRecord::kDisabled || record == TenantRecord::kDeleted ? 1 : 0;
  }
}

void TenantStates::refresh_done(ngx_event_t* ev) {
  std::unique_ptr<RefreshJob> job(static_cast<RefreshJob*>(ev->data));
  TenantStates* self = job->owner;
  self->refreshing_ = false;
  for (size_t i = 0; i < job->slugs.size() && i < job->blocked.size(); i++) {
    if (job->blocked[i] >= 0) self->blocked_[job->slugs[i]] = job->blocked[i] == 1;
  }
}

}  // namespace realm_auth
