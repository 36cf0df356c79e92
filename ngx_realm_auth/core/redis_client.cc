#include "redis_client.h"

#include <sys/time.h>

#include <cstdarg>
#include <utility>

namespace realm_auth {

namespace {

// Compare-and-delete in one round trip, atomic on the server: never removes
// a lock that expired and was taken over by another instance.
constexpr const char kDelIfEquals[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) "
    "else return 0 end";

timeval to_timeval(int ms) {
  timeval tv;
  tv.tv_sec = ms / 1000;
  tv.tv_usec = (ms % 1000) * 1000;
  return tv;
}

}  // namespace

namespace {

bool parse_port(std::string_view text, int& port) {
  if (text.empty() || text.size() > 5) return false;
  int n = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + (c - '0');
  }
  if (n < 1 || n > 65535) return false;
  port = n;
  return true;
}

// A host as a sentinel or an operator may name it: an IP literal or a DNS
// name; nothing that could smuggle a second field or a control byte.
bool valid_host(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  for (char c : host) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == '_' || c == ':';
    if (!ok) return false;
  }
  return true;
}

bool is_string(const redisReply* r) {
  return r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS;
}

}  // namespace

bool parse_redis_addresses(std::string_view text, std::vector<RedisAddress>& out,
                           std::string& error) {
  out.clear();
  while (true) {
    size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    RedisAddress a;
    size_t colon = item.rfind(':');
    std::string_view host = colon == std::string_view::npos ? item : item.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
      host = host.substr(1, host.size() - 2);  // [IPv6]:port
    } else if (host.find(':') != std::string_view::npos) {
      host = {};  // a bare IPv6 address is ambiguous: it needs brackets
    }
    if (colon == std::string_view::npos || !valid_host(host) ||
        !parse_port(item.substr(colon + 1), a.port)) {
      error = "\"" + std::string(item) + "\" is not host:port";
      return false;
    }
    a.host.assign(host);
    out.push_back(std::move(a));
    if (out.size() > kMaxSentinels) {
      error = "more than " + std::to_string(kMaxSentinels) + " addresses";
      return false;
    }
    if (comma == std::string_view::npos) return true;
    text.remove_prefix(comma + 1);
  }
}

bool valid_master_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

std::string describe(const RedisEndpoint& e) {
  if (e.sentinels.empty()) return e.host + ":" + std::to_string(e.port);
  std::string s = "sentinel=";
  for (size_t i = 0; i < e.sentinels.size(); i++) {
    if (i != 0) s += ",";
    s += e.sentinels[i].host + ":" + std::to_string(e.sentinels[i].port);
  }
  return s + " master=" + e.master_name;
}

RedisClient::RedisClient(RedisEndpoint endpoint) : endpoint_(std::move(endpoint)) {}

std::string RedisClient::connected_to() const {
  return ctx_ ? server_.host + ":" + std::to_string(server_.port) : std::string();
}

// Runs one command on a connected context. Any failure (I/O, timeout, error
// reply) drops the connection and returns nullptr; the next call reconnects,
// so a Redis restart (or, with sentinels, a failover) heals by itself and a
// half-read reply is never reused. READONLY means the connection outlived a
// failover (the old master now replicates): with sentinels the command is
// sent once more to the master they name now, as it was not applied.
RedisClient::ReplyPtr RedisClient::command(const char* what, const char* format, ...) {
  va_list ap;
  va_list again;
  va_start(ap, format);
  va_copy(again, ap);
  ReplyPtr reply(static_cast<redisReply*>(redisvCommand(ctx_.get(), format, ap)));
  va_end(ap);
  if (reply && reply->type == REDIS_REPLY_ERROR && !endpoint_.sentinels.empty() &&
      std::string_view(reply->str, reply->len).rfind("READONLY", 0) == 0) {
    ctx_.reset();
    reply.reset();
    if (connect()) reply.reset(static_cast<redisReply*>(redisvCommand(ctx_.get(), format, again)));
  }
  va_end(again);
  if (!ctx_) return nullptr;  // the reconnection failed: error_ says why
  if (!reply || reply->type == REDIS_REPLY_ERROR) {
    // Redis error replies name the problem ("NOPERM ...", "WRONGPASS ..."),
    // never a password or a stored value.
    error_ = std::string(what) + ": " +
             (reply ? std::string(reply->str, reply->len) : std::string(ctx_->errstr));
    ctx_.reset();
    return nullptr;
  }
  return reply;
}

bool RedisClient::connect() {
  if (ctx_) return true;
  if (endpoint_.sentinels.empty()) return open(RedisAddress{endpoint_.host, endpoint_.port});
  // Each sentinel in turn, starting with the one that answered last (the
  // order of Redis's client guidelines), until one names a server that
  // answers as master: during a failover the sentinels may still disagree.
  const size_t n = endpoint_.sentinels.size();
  std::vector<std::string> tried;
  std::string errors;
  for (size_t i = 0; i < n; i++) {
    const size_t k = (first_sentinel_ + i) % n;
    RedisAddress master;
    if (ask_sentinel(endpoint_.sentinels[k], master)) {
      const std::string id = master.host + ":" + std::to_string(master.port);
      bool seen = false;
      for (const std::string& t : tried) seen = seen || t == id;
      if (seen) continue;  // another sentinel named the server that just failed
      tried.push_back(id);
      if (open(master) && check_master_role()) {
        first_sentinel_ = k;
        return true;
      }
    }
    errors += (errors.empty() ? "" : "; ") + error_;
  }
  error_ = "master \"" + endpoint_.master_name + "\": " + errors;
  return false;
}

// Connects to `server` and logs in; ctx_ is set only on success.
bool RedisClient::open(RedisAddress server) {
  timeval tv = to_timeval(endpoint_.timeout_ms);
  ctx_.reset(redisConnectWithTimeout(server.host.c_str(), server.port, tv));
  if (!ctx_ || ctx_->err != 0 || redisSetTimeout(ctx_.get(), tv) != REDIS_OK) {
    error_ = "connect to " + server.host + ":" + std::to_string(server.port) + ": " +
             (ctx_ ? ctx_->errstr : "out of memory");
    ctx_.reset();
    return false;
  }
  server_ = std::move(server);
  if (endpoint_.password.empty()) return true;
  const std::string& pw = endpoint_.password;
  ReplyPtr reply = endpoint_.user.empty() ? command("AUTH", "AUTH %b", pw.data(), pw.size())
                                          : command("AUTH", "AUTH %b %b", endpoint_.user.data(),
                                                    endpoint_.user.size(), pw.data(), pw.size());
  return reply != nullptr;
}

// The sentinels may be behind (a failover in progress) or lying: only a
// server that calls itself master is used, so writes never land on a
// replica (which would refuse them) and reads never come from a sentinel.
bool RedisClient::check_master_role() {
  const std::string where = connected_to();
  ReplyPtr reply = command("ROLE", "ROLE");
  if (!reply) return false;
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements == 0 || !is_string(reply->element[0])) {
    error_ = "ROLE: unexpected reply from " + where;
    ctx_.reset();
    return false;
  }
  std::string_view role(reply->element[0]->str, reply->element[0]->len);
  if (role != "master") {
    // Not echoed: the role is the server's text.
    error_ = "ROLE: " + where + " is " + (role == "slave" ? "a replica" : "not a Redis master");
    ctx_.reset();
    return false;
  }
  return true;
}

bool RedisClient::ask_sentinel(const RedisAddress& sentinel, RedisAddress& master) {
  const std::string where = "sentinel " + sentinel.host + ":" + std::to_string(sentinel.port);
  timeval tv = to_timeval(endpoint_.timeout_ms);
  std::unique_ptr<redisContext, RedisContextDeleter> s(
      redisConnectWithTimeout(sentinel.host.c_str(), sentinel.port, tv));
  if (!s || s->err != 0 || redisSetTimeout(s.get(), tv) != REDIS_OK) {
    error_ = where + ": " + (s ? s->errstr : "out of memory");
    return false;
  }
  auto run = [&](const char* what, ReplyPtr reply) -> ReplyPtr {
    if (!reply || reply->type == REDIS_REPLY_ERROR) {
      error_ = where + ": " + what + ": " +
               (reply ? std::string(reply->str, reply->len) : std::string(s->errstr));
      return nullptr;
    }
    return reply;
  };
  const std::string& pw = endpoint_.sentinel_password;
  const std::string& user = endpoint_.sentinel_user;
  if (!pw.empty()) {
    void* r = user.empty() ? redisCommand(s.get(), "AUTH %b", pw.data(), pw.size())
                           : redisCommand(s.get(), "AUTH %b %b", user.data(), user.size(),
                                          pw.data(), pw.size());
    if (!run("AUTH", ReplyPtr(static_cast<redisReply*>(r)))) return false;
  }
  const std::string& name = endpoint_.master_name;
  ReplyPtr reply = run(
      "SENTINEL", ReplyPtr(static_cast<redisReply*>(redisCommand(
                      s.get(), "SENTINEL get-master-addr-by-name %b", name.data(), name.size()))));
  if (!reply) return false;
  if (reply->type == REDIS_REPLY_NIL) {
    error_ = where + ": does not know master \"" + name + "\"";
    return false;
  }
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 || !is_string(reply->element[0]) ||
      !is_string(reply->element[1])) {
    error_ = where + ": unexpected reply";
    return false;
  }
  std::string_view host(reply->element[0]->str, reply->element[0]->len);
  std::string_view port(reply->element[1]->str, reply->element[1]->len);
  if (!valid_host(host) || !parse_port(port, master.port)) {
    error_ = where + ": not an address";  // never echoed: it is the sentinel's text
    return false;
  }
  master.host.assign(host);
  return true;
}

RedisRead RedisClient::get(const std::string& key, size_t max_len, std::string& value) {
  const std::string k = endpoint_.prefix + key;
  if (!connect()) return RedisRead::kError;
  // One byte more than allowed tells "too large" from "exactly max_len".
  const std::string last = std::to_string(max_len);
  ReplyPtr reply = command("GETRANGE", "GETRANGE %b 0 %s", k.data(), k.size(), last.c_str());
  // Another type under our key (a planted hash or list) is a bad value, not
  // an outage: callers must not take it for "Redis is down".
  if (!reply && error_.rfind("GETRANGE: WRONGTYPE", 0) == 0) return RedisRead::kRejected;
  if (!reply) return RedisRead::kError;
  if (reply->type != REDIS_REPLY_STRING) {
    error_ = "GETRANGE: unexpected reply";
    ctx_.reset();
    return RedisRead::kError;
  }
  if (reply->len == 0) return RedisRead::kAbsent;  // GETRANGE of a missing key is ""
  if (reply->len > max_len) {
    error_ = "value larger than " + std::to_string(max_len) + " bytes";
    return RedisRead::kRejected;
  }
  value.assign(reply->str, reply->len);
  return RedisRead::kFound;
}

RedisRead RedisClient::get_sealed(const std::string& key, size_t max_payload, OpenedValue& out,
                                  std::string& why) {
  std::string stored;
  RedisRead r = get(key, max_payload + kSealOverhead, stored);
  if (r != RedisRead::kFound) {
    if (r != RedisRead::kAbsent) why = error_;
    return r;
  }
  if (!open_value(endpoint_.seal_keys, endpoint_.prefix + key, stored, unix_ms(), out, why)) {
    return RedisRead::kRejected;
  }
  if (out.payload.size() > max_payload) {
    why = "value larger than " + std::to_string(max_payload) + " bytes";
    return RedisRead::kRejected;
  }
  return RedisRead::kFound;
}

bool RedisClient::set(const std::string& key, const std::string& value, long ttl_ms) {
  const std::string k = endpoint_.prefix + key;
  if (!connect()) return false;
  ReplyPtr reply =
      ttl_ms > 0 ? command("SET", "SET %b %b PX %ld", k.data(), k.size(), value.data(),
                           value.size(), ttl_ms)
                 : command("SET", "SET %b %b", k.data(), k.size(), value.data(), value.size());
  return reply && reply->type == REDIS_REPLY_STATUS;
}

bool RedisClient::set_sealed(const std::string& key, const std::string& payload, long ttl_ms) {
  const int64_t now = unix_ms();
  std::string sealed = seal_value(endpoint_.seal_keys, endpoint_.prefix + key, payload, now,
                                  ttl_ms > 0 ? now + ttl_ms : 0);
  if (sealed.empty()) {
    error_ = "no key to seal the value with";
    return false;
  }
  return set(key, sealed, ttl_ms);
}

bool RedisClient::set_nx(const std::string& key, const std::string& value, long ttl_ms,
                         bool& acquired) {
  const std::string k = endpoint_.prefix + key;
  if (!connect()) return false;
  ReplyPtr reply =
      command("SET", "SET %b %b NX PX %ld", k.data(), k.size(), value.data(), value.size(), ttl_ms);
  if (!reply) return false;
  acquired = reply->type == REDIS_REPLY_STATUS;  // "OK"; nil when the key exists
  return acquired || reply->type == REDIS_REPLY_NIL;
}

bool RedisClient::del_if_equals(const std::string& key, const std::string& value) {
  const std::string k = endpoint_.prefix + key;
  if (!connect()) return false;
  ReplyPtr reply = command("EVAL", "EVAL %s 1 %b %b", kDelIfEquals, k.data(), k.size(),
                           value.data(), value.size());
  return reply && reply->type == REDIS_REPLY_INTEGER;
}

bool RedisClient::del(const std::string& key) {
  const std::string k = endpoint_.prefix + key;
  if (!connect()) return false;
  ReplyPtr reply = command("DEL", "DEL %b", k.data(), k.size());
  return reply && reply->type == REDIS_REPLY_INTEGER;
}

bool RedisClient::ping() {
  if (!connect()) return false;
  ReplyPtr reply = command("PING", "PING");
  if (!reply) return false;
  if (reply->type != REDIS_REPLY_STATUS || std::string(reply->str, reply->len) != "PONG") {
    error_ = "PING: unexpected reply";
    ctx_.reset();
    return false;
  }
  return true;
}

bool RedisClient::xadd(const std::string& key, const std::string& field, const std::string& value,
                       std::string& id) {
  const std::string k = endpoint_.prefix + key;
  if (!connect()) return false;
  ReplyPtr reply = command("XADD", "XADD %b * %b %b", k.data(), k.size(), field.data(),
                           field.size(), value.data(), value.size());
  if (!reply) return false;
  if (reply->type != REDIS_REPLY_STRING) {
    error_ = "XADD: unexpected reply";
    ctx_.reset();
    return false;
  }
  id.assign(reply->str, reply->len);
  return true;
}

namespace {

// A stream entry reply: [id, [field, value, ...]]. False for any other shape.
bool read_entry(const redisReply* e, size_t max_value, RedisStreamEntry& out) {
  if (e->type != REDIS_REPLY_ARRAY || e->elements != 2) return false;
  const redisReply* id = e->element[0];
  const redisReply* kv = e->element[1];
  if (id->type != REDIS_REPLY_STRING) return false;
  out.id.assign(id->str, id->len);
  out.fields.clear();
  if (kv->type != REDIS_REPLY_ARRAY || kv->elements % 2 != 0) return false;
  for (size_t i = 0; i + 1 < kv->elements; i += 2) {
    const redisReply* f = kv->element[i];
    const redisReply* v = kv->element[i + 1];
    if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) return false;
    if (v->len > max_value) {
      out.fields.clear();  // too large: the caller sees an entry it cannot use
      return true;
    }
    out.fields.emplace_back(std::string(f->str, f->len), std::string(v->str, v->len));
  }
  return true;
}

}  // namespace

RedisRead RedisClient::xrange_after(const std::string& key, const std::string& after_id,
                                    size_t count, size_t max_value,
                                    std::vector<RedisStreamEntry>& out) {
  const std::string k = endpoint_.prefix + key;
  if (!connect()) return RedisRead::kError;
  const std::string from = "(" + after_id;
  const std::string n = std::to_string(count);
  ReplyPtr reply = command("XRANGE", "XRANGE %b %b + COUNT %s", k.data(), k.size(), from.data(),
                           from.size(), n.c_str());
  if (!reply && error_.rfind("XRANGE: WRONGTYPE", 0) == 0) return RedisRead::kRejected;
  if (!reply) return RedisRead::kError;
  if (reply->type != REDIS_REPLY_ARRAY) {
    error_ = "XRANGE: unexpected reply";
    ctx_.reset();
    return RedisRead::kError;
  }
  out.clear();
  out.reserve(reply->elements);
  for (size_t i = 0; i < reply->elements; i++) {
    RedisStreamEntry e;
    if (!read_entry(reply->element[i], max_value, e)) {
      error_ = "XRANGE: unexpected entry";
      ctx_.reset();
      return RedisRead::kError;
    }
    out.push_back(std::move(e));
  }
  return out.empty() ? RedisRead::kAbsent : RedisRead::kFound;
}

RedisRead RedisClient::xlast_id(const std::string& key, std::string& id) {
  const std::string k = endpoint_.prefix + key;
  if (!connect()) return RedisRead::kError;
  ReplyPtr reply = command("XREVRANGE", "XREVRANGE %b + - COUNT 1", k.data(), k.size());
  if (!reply && error_.rfind("XREVRANGE: WRONGTYPE", 0) == 0) return RedisRead::kRejected;
  if (!reply) return RedisRead::kError;
  RedisStreamEntry e;
  if (reply->type != REDIS_REPLY_ARRAY ||
      (reply->elements == 1 && !read_entry(reply->element[0], 0, e))) {
    error_ = "XREVRANGE: unexpected reply";
    ctx_.reset();
    return RedisRead::kError;
  }
  if (reply->elements == 0) {
    id = "0-0";
    return RedisRead::kAbsent;
  }
  id = e.id;
  return RedisRead::kFound;
}

bool RedisClient::xtrim_minid(const std::string& key, const std::string& min_id) {
  const std::string k = endpoint_.prefix + key;
  if (!connect()) return false;
  ReplyPtr reply =
      command("XTRIM", "XTRIM %b MINID %b", k.data(), k.size(), min_id.data(), min_id.size());
  return reply && reply->type == REDIS_REPLY_INTEGER;
}

}  // namespace realm_auth
