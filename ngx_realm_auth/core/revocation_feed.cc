#include "revocation_feed.h"

#include "redis_keys.h"

namespace realm_auth {

namespace {

constexpr char kField[] = "r";

bool parse_u64(const std::string& t, size_t from, size_t to, uint64_t& out) {
  if (from >= to || to - from > 20) return false;
  uint64_t v = 0;
  for (size_t i = from; i < to; i++) {
    char c = t[i];
    if (c < '0' || c > '9') return false;
    uint64_t next = v * 10 + static_cast<uint64_t>(c - '0');
    if (next / 10 != v) return false;  // overflow
    v = next;
  }
  out = v;
  return true;
}

}  // namespace

bool parse_stream_id(const std::string& id, uint64_t& ms, uint64_t& seq) {
  size_t dash = id.find('-');
  if (dash == std::string::npos) return false;
  return parse_u64(id, 0, dash, ms) && parse_u64(id, dash + 1, id.size(), seq);
}

bool stream_id_less(const std::string& a, const std::string& b) {
  uint64_t ams = 0, aseq = 0, bms = 0, bseq = 0;
  bool ok_a = parse_stream_id(a, ams, aseq);
  bool ok_b = parse_stream_id(b, bms, bseq);
  if (!ok_a || !ok_b) return !ok_a && ok_b;
  return ams < bms || (ams == bms && aseq < bseq);
}

bool publish_revocation(RedisClient& client, const RevocationRecord& r, std::string& entry_id) {
  const std::string text = encode_revocation(r);
  if (text.empty()) return false;
  const RedisEndpoint& ep = client.endpoint();
  std::string sealed =
      seal_value(ep.seal_keys, ep.prefix + revocations_key(), text, unix_ms(), r.expires * 1000);
  if (sealed.empty()) return false;
  return client.xadd(revocations_key(), kField, sealed, entry_id);
}

RedisRead read_revocations(RedisClient& client, const std::string& after_id, size_t count,
                           RevocationPage& out, std::string& why) {
  out = RevocationPage{};
  out.last_id = after_id;
  std::vector<RedisStreamEntry> entries;
  RedisRead r = client.xrange_after(revocations_key(), after_id, count,
                                    kMaxRevocationRecord + kSealOverhead, entries);
  if (r == RedisRead::kError || r == RedisRead::kRejected) {
    why = r == RedisRead::kRejected ? "the revocation key is not a stream" : client.error();
    return r;
  }
  const RedisEndpoint& ep = client.endpoint();
  const std::string full_key = ep.prefix + revocations_key();
  const int64_t now = unix_ms();
  for (const RedisStreamEntry& e : entries) {
    out.last_id = e.id;
    if (e.fields.size() != 1 || e.fields[0].first != kField) {
      out.rejected++;
      continue;
    }
    OpenedValue opened;
    std::string reason;
    if (!open_value(ep.seal_keys, full_key, e.fields[0].second, now, opened, reason)) {
      if (reason == "expired") {
        out.expired++;
      } else {
        out.rejected++;
      }
      continue;
    }
    RevocationRecord rec;
    // The seal's expiry and the record's must agree: a record cannot be
    // re-sealed to live longer than it says.
    if (!decode_revocation(opened.payload, rec) || opened.expires_ms != rec.expires * 1000) {
      out.rejected++;
      continue;
    }
    out.records.push_back(std::move(rec));
  }
  out.end = entries.size() < count;
  return r;
}

RedisRead last_revocation_id(RedisClient& client, std::string& id, std::string& why) {
  RedisRead r = client.xlast_id(revocations_key(), id);
  if (r == RedisRead::kError) why = client.error();
  if (r == RedisRead::kRejected) why = "the revocation key is not a stream";
  return r;
}

bool trim_revocations(RedisClient& client, int64_t before_ms) {
  if (before_ms <= 0) return true;
  return client.xtrim_minid(revocations_key(), std::to_string(before_ms) + "-0");
}

}  // namespace realm_auth
