// The revocation feed's reader: one poller per nginx instance reads the
// stream `<prefix>revocations` (core revocation_feed.h) from the cursor kept
// in the zone and applies the records to the zone's revocation table
// (revocation_table.h), which every worker consults.
//
// Every worker runs this timer (auth_realm_revocation_interval); only the
// worker holding the zone's poll claim reads, so one nginx costs Redis one
// XREVRANGE per interval when nothing is new. A claim not renewed for four
// intervals (at least 1 s) is abandoned: a worker that crashed is replaced
// by the next one whose timer fires. The read runs in the thread pool,
// never on the event loop, over one Redis connection kept by this worker.
//
// A read first asks for the stream's last id: equal to the cursor, nothing
// to do; below it, the stream was rebuilt (Redis lost its data, a lagging
// replica took over) and is reread from "0-0" (records already in the table
// stay: a rebuilt stream may lack them). Then pages of kPage entries, at
// most kPagesPerTask per task; a task that did not reach the end is
// followed by the next one at once, so a first start reads the whole stream
// without waiting for the timer. Redis down: the poll fails (counted), the
// table keeps applying what it holds, the cursor stays, and the next poll
// after Redis is back reads what was added meanwhile.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "ngx.h"
#include "redis_client.h"
#include "redis_rejections.h"
#include "revocation_record.h"
#include "revocation_table.h"

namespace realm_auth {

class RevocationPoller {
 public:
  static constexpr size_t kPage = 500;
  static constexpr size_t kPagesPerTask = 20;
  // Slots the poller looks at for expired records per poll: an eighth of
  // the table (a full pass every 8 polls, 2 s by default), at least 4,096
  // and at most 65,536 (about 100 µs under the zone's mutex).
  static constexpr size_t kMinSweep = 4096, kMaxSweep = 65536;

  RevocationPoller(const RedisEndpoint& redis, ngx_msec_t interval, ngx_thread_pool_t* pool,
                   RevocationTable* table, RedisRejections* rejections, ngx_log_t* log);
  ~RevocationPoller();
  RevocationPoller(const RevocationPoller&) = delete;
  RevocationPoller& operator=(const RevocationPoller&) = delete;

 private:
  struct Job;
  static void on_timer(ngx_event_t* ev);
  void poll();
  bool post();
  static void run(void* data, ngx_log_t* log);  // thread pool
  static void done(ngx_event_t* ev);            // event loop
  void finish(Job& job);

  RedisEndpoint redis_;
  uint32_t source_;  // fingerprint of host, port and prefix: whose cursor the zone holds
  ngx_msec_t interval_;
  ngx_thread_pool_t* pool_;
  RevocationTable* table_;
  RedisRejections* rejections_;
  ngx_log_t* log_;
  ngx_event_t timer_;
  // The connection, used only by the task in flight (one at a time). Kept
  // by the job while it runs: a worker exiting with a task in flight
  // leaves the client to the job, which frees it.
  std::unique_ptr<RedisClient> client_;
  bool in_flight_ = false;
  ngx_msec_t error_logged_at_ = 0;
  ngx_msec_t overflow_logged_at_ = 0;
};

}  // namespace realm_auth
