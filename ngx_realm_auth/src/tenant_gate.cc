// Registry lookups before any issuer state (tenant_gate.h).
#include "tenant_gate.h"

#include <openssl/crypto.h>

#include <memory>
#include <new>

#include "guard.h"
#include "key_store.h"
#include "redis_client.h"
#include "redis_keys.h"
#include "tenant_registry.h"

namespace realm_auth {

// One batch of slugs read over one Redis connection. Owned by the task; the
// thread touches nothing else.
namespace {
enum : int { kNoAnswer = -1, kNo = 0, kYes = 1, kGone = 2 };  // Task::registered
}  // namespace

struct TenantGate::Task {
  ngx_thread_task_t task;
  TenantGate* gate;
  RedisEndpoint redis;
  std::vector<std::string> slugs;
  std::vector<int> registered;        // per slug: kYes, kNo, kGone, kNoAnswer
  std::vector<std::string> rejected;  // "key: reason" of records that failed their check
};

TenantGate::Verdict TenantGate::check(const std::string& slug, ngx_queue_t** queue) {
  ngx_msec_t now = ngx_current_msec;
  auto it = entries_.find(slug);
  if (it != entries_.end()) {
    Entry& e = it->second;
    bool decided =
        e.state == State::kRegistered || e.state == State::kUnknown || e.state == State::kDeleted;
    if (decided && elapsed(e.decided_at, now) < kVerdictTtlMs) {
      ngx_queue_remove(&e.lru);
      ngx_queue_insert_head(&lru_, &e.lru);
      if (e.state == State::kRegistered) return Verdict::kRegistered;
      return e.state == State::kDeleted ? Verdict::kDeleted : Verdict::kUnknown;
    }
    if (!decided) {
      submit();  // in case the thread pool's queue refused the last try
      *queue = &e.waiters;
      return Verdict::kPending;
    }
    // An old verdict: ask again (the entry is reused, its waiters list empty).
    if (pending_ >= kMaxPending) return Verdict::kBusy;
    ngx_queue_remove(&e.lru);
    e.state = State::kQueued;
  } else {
    if (pending_ >= kMaxPending) return Verdict::kBusy;
    while (entries_.size() >= kMaxVerdicts + kMaxPending && !ngx_queue_empty(&lru_)) {
      forget_oldest();
    }
    it = entries_.try_emplace(slug).first;
    ngx_queue_init(&it->second.waiters);
    it->second.slug = &it->first;
  }
  pending_++;
  queued_.push_back(slug);
  submit();
  *queue = &it->second.waiters;
  return Verdict::kPending;
}

void TenantGate::forget_oldest() {
  Entry* e = ngx_queue_data(ngx_queue_last(&lru_), Entry, lru);
  ngx_queue_remove(&e->lru);
  entries_.erase(*e->slug);
}

void TenantGate::submit() {
  while (tasks_ < kMaxTasks && !queued_.empty()) {
    std::unique_ptr<Task> t(new (std::nothrow) Task());
    if (!t) return;  // retried when the next slug or task comes
    ngx_memzero(&t->task, sizeof(t->task));
    t->gate = this;
    t->redis = redis_;
    size_t n = queued_.size() < kBatch ? queued_.size() : kBatch;
    t->slugs.assign(queued_.end() - static_cast<std::ptrdiff_t>(n), queued_.end());
    t->task.ctx = t.get();
    // An exception in the thread answers like a Redis that did not answer.
    t->task.handler = [](void* data, ngx_log_t* log) noexcept {
      if (guarded(guard::LogReport{log, "tenant registry task"}, [&] { run(data, log); })) return;
      static_cast<Task*>(data)->registered.clear();  // done() reads it as no answer
    };
    t->task.event.handler = guard::event<done>;
    t->task.event.data = t.get();
    t->task.event.log = log_;
    if (ngx_thread_task_post(pool_, &t->task) != NGX_OK) return;
    queued_.resize(queued_.size() - n);
    for (const auto& slug : t->slugs) entries_.at(slug).state = State::kAsking;
    tasks_++;
    t.release();  // done() owns it now
  }
}

void TenantGate::run(void* data, ngx_log_t*) {
  auto* t = static_cast<Task*>(data);
  RedisClient client(t->redis);
  t->registered.assign(t->slugs.size(), kNoAnswer);
  for (size_t i = 0; i < t->slugs.size(); i++) {
    TenantRecordValue record;
    std::string why;
    RedisRead read = read_tenant_record(client, t->slugs[i], record, why);
    if (read == RedisRead::kError) break;  // the rest stay kNoAnswer
    // A record that fails its check (forged, oversized) counts as absent:
    // whoever can plant one can delete the real one too, so that grants
    // nothing, while believing it would let any Redis writer register
    // tenants (docs/REDIS_TRUST.md).
    if (read == RedisRead::kRejected) {
      t->rejected.push_back("\"" + t->redis.prefix + tenant_key(t->slugs[i]) + "\": " + why);
    }
    if (read != RedisRead::kFound) {
      t->registered[i] = kNo;
    } else {
      t->registered[i] = record.state == TenantRecord::kDeleted ? kGone : kYes;
    }
  }
  OPENSSL_thread_stop();  // see KeyStore::run_fetch
}

void TenantGate::done(ngx_event_t* ev) {
  std::unique_ptr<Task> t(static_cast<Task*>(ev->data));
  TenantGate* gate = t->gate;
  gate->tasks_--;
  for (const auto& what : t->rejected) gate->rejections_->note(what);
  bool answered = t->registered.size() == t->slugs.size();
  for (size_t i = 0; i < t->slugs.size(); i++) {
    auto it = gate->entries_.find(t->slugs[i]);
    if (it == gate->entries_.end()) continue;
    // Redis not answering lets the fetch go ahead: the registry guards the
    // identity provider's load; the signature still guards the door.
    int registered = answered ? t->registered[i] : kNoAnswer;
    if (registered == kNo) {
      ngx_log_error(NGX_LOG_INFO, gate->log_, 0,
                    "realm_auth: tenant \"%s\" is not in the tenant registry", t->slugs[i].c_str());
    }
    State state = State::kRegistered;
    if (registered == kNo) state = State::kUnknown;
    if (registered == kGone) state = State::kDeleted;
    gate->decide(it->second, state);
  }
  gate->submit();
}

void TenantGate::decide(Entry& e, State state) {
  e.state = state;
  e.decided_at = ngx_current_msec;
  ngx_queue_insert_head(&lru_, &e.lru);
  pending_--;
  KeyStore::wake_all(&e.waiters);
}

}  // namespace realm_auth
