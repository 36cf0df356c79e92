// Tenant lifecycle states from Redis (tenant_state.h).
#include "tenant_state.h"

#include <memory>
#include <new>
#include <vector>

#include "guard.h"
#include "redis_client.h"
#include "redis_keys.h"
#include "tenant_registry.h"

namespace realm_auth {

// One refresh: the slugs to read in, their states out. Owned by the job;
// the thread touches nothing else.
struct TenantStates::RefreshJob {
  struct Read {
    RedisRead result = RedisRead::kError;
    TenantRecordValue record;  // kFound
    std::string why;           // kRejected
  };
  ngx_thread_task_t task;
  TenantStates* owner;
  RedisEndpoint redis;
  std::vector<std::string> slugs;
  std::vector<Read> reads;  // per slug
};

TenantStates::TenantStates(const RedisEndpoint& redis, ngx_msec_t interval, ngx_thread_pool_t* pool,
                           RedisRejections* rejections, ngx_log_t* log)
    : redis_(redis), interval_(interval), pool_(pool), rejections_(rejections), log_(log) {
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
  auto [it, inserted] = known_.try_emplace(tenant_id);
  return !it->second.blocked;
}

void TenantStates::on_timer(ngx_event_t* ev) {
  auto* self = static_cast<TenantStates*>(ev->data);
  if (ngx_exiting) return;
  ngx_add_timer(&self->timer_, self->interval_);
  if (self->refreshing_ || self->known_.empty()) return;

  std::unique_ptr<RefreshJob> job(new (std::nothrow) RefreshJob());
  if (!job) return;
  ngx_memzero(&job->task, sizeof(job->task));
  job->owner = self;
  job->redis = self->redis_;
  for (const auto& entry : self->known_) job->slugs.push_back(entry.first);
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
  job->reads.resize(job->slugs.size());
  for (size_t i = 0; i < job->slugs.size(); i++) {
    RefreshJob::Read& read = job->reads[i];
    read.result = read_tenant_record(client, job->slugs[i], read.record, read.why);
    if (read.result == RedisRead::kError) break;  // Redis down: the rest stay kError
  }
}

void TenantStates::refresh_done(ngx_event_t* ev) {
  std::unique_ptr<RefreshJob> job(static_cast<RefreshJob*>(ev->data));
  TenantStates* self = job->owner;
  self->refreshing_ = false;
  for (size_t i = 0; i < job->slugs.size() && i < job->reads.size(); i++) {
    const RefreshJob::Read& read = job->reads[i];
    if (read.result == RedisRead::kRejected) {
      self->rejections_->note("\"" + job->redis.prefix + tenant_key(job->slugs[i]) +
                              "\": " + read.why);
    }
    if (read.result != RedisRead::kFound) continue;  // absent, forged, Redis down: keep
    auto it = self->known_.find(job->slugs[i]);
    if (it == self->known_.end()) continue;  // forgotten meanwhile
    Known& k = it->second;
    if (read.record.issued_ms < k.issued_ms) continue;  // older than what we applied: a replay
    k.blocked =
        read.record.state == TenantRecord::kDisabled || read.record.state == TenantRecord::kDeleted;
    k.issued_ms = read.record.issued_ms;
  }
}

}  // namespace realm_auth
