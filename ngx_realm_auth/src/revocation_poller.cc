// Reading the revocation feed into the zone (revocation_poller.h).
#include "revocation_poller.h"

#include <algorithm>
#include <new>

#include "guard.h"
#include "redis_keys.h"
#include "revocation_feed.h"

namespace realm_auth {

// One read: the cursor in, the records and the new cursor out. Owned by
// the job; the thread touches nothing else.
struct RevocationPoller::Job {
  ngx_thread_task_t task;
  RevocationPoller* owner;
  std::unique_ptr<RedisClient> client;
  std::string cursor;  // in: where the zone's cursor was; out: where this read ended
  bool ok = false;     // Redis answered every command
  bool rebuilt = false;
  bool end = false;  // caught up with the stream
  std::vector<RevocationRecord> records;
  size_t rejected = 0;
  std::string why;  // when !ok, or a rejection's reason
};

namespace {

uint32_t fingerprint(const RedisEndpoint& r) {
  std::string id = describe(r) + "/" + r.prefix;
  return ngx_crc32_short(reinterpret_cast<u_char*>(&id[0]), id.size());
}

bool valid_cursor(const std::string& id) {
  uint64_t ms, seq;
  return id.size() <= RevocationTable::kMaxCursor && parse_stream_id(id, ms, seq);
}

}  // namespace

RevocationPoller::RevocationPoller(const RedisEndpoint& redis, ngx_msec_t interval,
                                   ngx_thread_pool_t* pool, RevocationTable* table,
                                   RedisRejections* rejections, ngx_log_t* log)
    : redis_(redis),
      source_(fingerprint(redis)),
      interval_(interval),
      pool_(pool),
      table_(table),
      rejections_(rejections),
      log_(log),
      client_(std::make_unique<RedisClient>(redis)) {
  ngx_memzero(&timer_, sizeof(timer_));
  timer_.handler = guard::event<on_timer>;
  timer_.data = this;
  timer_.log = log;
  timer_.cancelable = 1;  // never delays a graceful shutdown
  // The first poll at once: a new nginx reads the stream before its first
  // interval has passed.
  ngx_add_timer(&timer_, 1);
}

RevocationPoller::~RevocationPoller() {
  if (timer_.timer_set) ngx_del_timer(&timer_);
  table_->release(ngx_pid);
}

void RevocationPoller::on_timer(ngx_event_t* ev) {
  auto* self = static_cast<RevocationPoller*>(ev->data);
  if (ngx_exiting) {
    // Another worker (of the new configuration) polls from now on.
    self->table_->release(ngx_pid);
    return;
  }
  ngx_add_timer(&self->timer_, self->interval_);
  self->poll();
}

void RevocationPoller::poll() {
  ngx_msec_t now = ngx_current_msec;
  // Renewed on every tick, a task in flight included (its Redis commands
  // are bounded by the endpoint's timeout).
  ngx_msec_t abandon_after = ngx_max(4 * interval_, 1000);
  if (!table_->claim(ngx_pid, now, abandon_after) || in_flight_) return;
  size_t sweep = std::min(std::max(2 * table_->capacity() / 8, kMinSweep), kMaxSweep);
  table_->sweep(sweep, ngx_time());
  in_flight_ = post();
  if (!in_flight_) {
    table_->poll_failed();
    table_->set_loaded();  // no task could be posted: as if Redis had not answered
  }
}

bool RevocationPoller::post() {
  std::unique_ptr<Job> job(new (std::nothrow) Job());
  if (!job) return false;
  ngx_memzero(&job->task, sizeof(job->task));
  job->owner = this;
  job->client = std::move(client_);
  if (!job->client) job->client = std::make_unique<RedisClient>(redis_);
  job->cursor = table_->cursor(source_);
  job->task.ctx = job.get();
  // An exception in the thread reads nothing: done() sees a failed poll.
  job->task.handler = [](void* data, ngx_log_t* log) noexcept {
    if (guarded(guard::LogReport{log, "revocation poll task"}, [&] { run(data, log); })) return;
    auto* failed = static_cast<Job*>(data);
    failed->ok = false;
    failed->records.clear();
  };
  job->task.event.handler = guard::event<done>;
  job->task.event.data = job.get();
  job->task.event.log = log_;
  if (ngx_thread_task_post(pool_, &job->task) != NGX_OK) {
    client_ = std::move(job->client);
    return false;
  }
  job.release();  // done() owns it now
  return true;
}

void RevocationPoller::run(void* data, ngx_log_t*) {
  auto* job = static_cast<Job*>(data);
  RedisClient& client = *job->client;
  std::string last;
  RedisRead r = last_revocation_id(client, last, job->why);
  if (r == RedisRead::kError || r == RedisRead::kRejected) return;
  if (stream_id_less(last, job->cursor)) {
    job->rebuilt = true;
    job->cursor = "0-0";
  }
  if (last == job->cursor) {
    job->ok = job->end = true;
    return;
  }
  for (size_t page = 0; page < kPagesPerTask; page++) {
    RevocationPage got;
    std::string why;
    r = read_revocations(client, job->cursor, kPage, got, why);
    if (r == RedisRead::kError || r == RedisRead::kRejected) {
      job->why = why;
      return;  // the records read so far are applied; the cursor stays before the rest
    }
    job->rejected += got.rejected;
    for (RevocationRecord& rec : got.records) job->records.push_back(std::move(rec));
    if (!valid_cursor(got.last_id)) {
      job->why = "unreadable stream id";
      return;
    }
    job->cursor = got.last_id;
    if (got.end) {
      job->end = true;
      break;
    }
  }
  job->ok = true;
}

void RevocationPoller::done(ngx_event_t* ev) {
  std::unique_ptr<Job> job(static_cast<Job*>(ev->data));
  job->owner->finish(*job);
}

void RevocationPoller::finish(Job& job) {
  in_flight_ = false;
  client_ = std::move(job.client);
  ngx_msec_t now = ngx_current_msec;
  // Whatever was read is authentic: apply it even when a later page failed.
  RevocationTable::Applied applied = table_->apply(job.records, ngx_time());
  if (job.rejected > 0) {
    rejections_->note("\"" + redis_.prefix + revocations_key() +
                      "\": " + std::to_string(job.rejected) +
                      " entries failed their seal or did not decode (counted in "
                      "revocation.rejected)");
  }
  if (applied.overflowed > 0 && (overflow_logged_at_ == 0 || now - overflow_logged_at_ > 60000)) {
    overflow_logged_at_ = now;
    ngx_log_error(NGX_LOG_WARN, log_, 0,
                  "realm_auth: revocation table full (%uz records, auth_realm_revocation_records): "
                  "%uz records were applied to their whole tenant instead (revocation.overflowed)",
                  table_->capacity(), applied.overflowed);
  }
  if (!job.ok) {
    table_->poll_failed();
    // Redis down at start: serve with what the table holds (nothing, for
    // a new nginx) rather than hold every request until Redis is back.
    table_->set_loaded();
    // Redis being down concerns the operator, once a minute is enough.
    if (error_logged_at_ == 0 || now - error_logged_at_ > 60000) {
      error_logged_at_ = now;
      ngx_log_error(NGX_LOG_WARN, log_, 0,
                    "realm_auth: revocation feed not read: %s (the records already known keep "
                    "applying)",
                    job.why.c_str());
    }
    return;
  }
  if (job.rebuilt) {
    ngx_log_error(NGX_LOG_NOTICE, log_, 0,
                  "realm_auth: the revocation stream ends before this nginx's cursor (Redis lost "
                  "its data or failed over): read again from the start");
  }
  table_->polled(source_, job.cursor, job.rejected, now);
  if (job.end) table_->set_loaded();
  // More to read (a first start, a burst): at once, not at the next tick.
  if (!job.end && !ngx_exiting) {
    in_flight_ = post();
    if (!in_flight_) table_->poll_failed();
  }
}

}  // namespace realm_auth
