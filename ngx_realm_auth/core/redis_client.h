// The one Redis client of realm-auth (hiredis), used by the module (thread
// pool) and realm-sidecar. Blocking, with a connect/command timeout; any
// error closes the connection and reports failure so callers fall back to
// their own tiers. Not thread-safe: one client per thread or per task.
//
// Redis is a trust boundary (docs/REDIS_TRUST.md): the client logs in with
// its own ACL user (AUTH user password) when a password is configured, reads
// values through GETRANGE so no reply is larger than the caller's cap, and
// get_sealed/set_sealed carry the fleet's authenticator (redis_seal.h).
//
// High availability (Redis Sentinel): with `sentinels` and `master_name` set,
// every new connection asks the sentinels, in turn, for the master's address
// (SENTINEL get-master-addr-by-name), connects there and checks with ROLE
// that it really is the master. Any error drops the connection, so the next
// call asks again and follows a failover; a write refused with READONLY (a
// demoted master still connected) is retried once on the rediscovered
// master. Sentinels are as untrusted as Redis (docs/REDIS_TRUST.md): what
// they say only picks the server; values stay sealed.
#pragma once

#include <hiredis/hiredis.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "redis_seal.h"

namespace realm_auth {

struct RedisAddress {
  std::string host;
  int port = 0;
};

struct RedisEndpoint {
  std::string host = "127.0.0.1";  // unused with sentinels
  int port = 6379;
  // Sentinel mode when not empty: the master named `master_name` is
  // discovered through these (tried in order, the last that answered first).
  std::vector<RedisAddress> sentinels;
  std::string master_name;
  std::string sentinel_user;           // ACL user on the sentinels; empty = default
  std::string sentinel_password;       // empty = no AUTH to the sentinels (never logged)
  std::string prefix = "realm_auth:";  // prepended to every key
  int timeout_ms = 200;
  std::string user;      // ACL user; empty = the default user
  std::string password;  // empty = no AUTH (never logged)
  SealKeys seal_keys;    // the fleet's HMAC keys; the first seals
};

// "host:port,host:port" (at least one; IPv4, IPv6 in brackets or a name;
// ports 1-65535; at most kMaxSentinels). False with `error` naming the bad
// element. Used by the module's sentinel= and the sidecar's REDIS_SENTINELS.
constexpr size_t kMaxSentinels = 16;
bool parse_redis_addresses(std::string_view text, std::vector<RedisAddress>& out,
                           std::string& error);
// A Sentinel master name as Redis accepts it in a config: 1-64 of
// [A-Za-z0-9._-].
bool valid_master_name(std::string_view name);
// "host:port" or "sentinel=h:p,h:p master=<name>", for logs and fingerprints
// (no password).
std::string describe(const RedisEndpoint& e);

struct RedisContextDeleter {
  void operator()(redisContext* c) const { redisFree(c); }
};

enum class RedisRead {
  kFound,     // a value within the cap (and, for get_sealed, authentic)
  kAbsent,    // no such key (or an empty value)
  kRejected,  // too large or, for get_sealed, not authentic / expired
  kError,     // Redis did not answer, refused the login or the command
};

// One entry of a stream as XRANGE returns it: its id and its field/value
// pairs in order.
struct RedisStreamEntry {
  std::string id;  // "<ms>-<seq>"
  std::vector<std::pair<std::string, std::string>> fields;
};

class RedisClient {
 public:
  explicit RedisClient(RedisEndpoint endpoint);

  // At most max_len bytes of prefix+key (GETRANGE 0 max_len: a larger value
  // is kRejected without being transferred).
  RedisRead get(const std::string& key, size_t max_len, std::string& value);
  // get() plus open_value(): the payload of an authentic, unexpired value.
  // `why` says why a value was rejected or the read failed.
  RedisRead get_sealed(const std::string& key, size_t max_payload, OpenedValue& out,
                       std::string& why);
  // SET prefix+key value [PX ttl_ms]; ttl_ms <= 0 = no expiry.
  bool set(const std::string& key, const std::string& value, long ttl_ms);
  // set() of the sealed form of payload; the seal expires with ttl_ms.
  bool set_sealed(const std::string& key, const std::string& payload, long ttl_ms);
  // SET prefix+key value NX PX ttl_ms; `acquired` when the key was created.
  bool set_nx(const std::string& key, const std::string& value, long ttl_ms, bool& acquired);
  // Deletes prefix+key only if it still holds `value` (lock release).
  bool del_if_equals(const std::string& key, const std::string& value);
  bool del(const std::string& key);
  // PING (after connecting and logging in): true when Redis answered PONG.
  // For readiness probes; `error()` says why not.
  bool ping();

  // Streams (the revocation feed, revocation_feed.h).
  // XADD prefix+key * field value; `id` = the id Redis gave the entry.
  bool xadd(const std::string& key, const std::string& field, const std::string& value,
            std::string& id);
  // XRANGE prefix+key (after_id + COUNT count: entries strictly after
  // after_id. An entry with a value longer than max_value is returned with
  // its fields cleared (the caller counts it as rejected).
  RedisRead xrange_after(const std::string& key, const std::string& after_id, size_t count,
                         size_t max_value, std::vector<RedisStreamEntry>& out);
  // The id of the newest entry ("0-0" when the stream is empty or absent).
  RedisRead xlast_id(const std::string& key, std::string& id);
  // XTRIM prefix+key MINID min_id: drops entries with smaller ids.
  bool xtrim_minid(const std::string& key, const std::string& min_id);

  // Why the last call failed ("connect: ...", "AUTH: ...", "GETRANGE: ..."),
  // for logs. Never contains a password or a value.
  const std::string& error() const { return error_; }
  const RedisEndpoint& endpoint() const { return endpoint_; }
  // The server of the current connection ("" when none), e.g. the master
  // the sentinels named.
  std::string connected_to() const;

 private:
  bool connect();
  bool open(RedisAddress server);
  bool ask_sentinel(const RedisAddress& sentinel, RedisAddress& master);
  bool check_master_role();
  struct ReplyDeleter {
    void operator()(redisReply* r) const { freeReplyObject(r); }
  };
  using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;
  ReplyPtr command(const char* what, const char* format, ...);

  RedisEndpoint endpoint_;
  std::unique_ptr<redisContext, RedisContextDeleter> ctx_;
  RedisAddress server_;        // where ctx_ is connected
  size_t first_sentinel_ = 0;  // the sentinel that answered last
  std::string error_;
};

}  // namespace realm_auth
