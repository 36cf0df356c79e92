// The shared revocation table (revocation_table.h).
#include "revocation_table.h"

#include <openssl/rand.h>

#include <cstring>

namespace realm_auth {

struct RevocationTable::Slot {
  uint64_t key[2];  // {0, 0} = empty; key[1] has its low bit set otherwise
  int64_t not_before;
  int64_t expires;
};

struct RevocationTable::Header {
  uint64_t sip[2];           // SipHash key, drawn at creation
  uint64_t capacity;         // records (user/session); tenant records get capacity / 4 more
  uint64_t slots;            // 2 × capacity
  uint64_t live;             // records stored, plus one while the floor is raised (empty())
  uint64_t count;            // records stored
  uint64_t seq;              // odd while a writer changes slots
  uint64_t version;          // bumped after every added or raised record (RevocationKeys::checked)
  int64_t floor_not_before;  // every token with iat below it is revoked, until floor_expires
  int64_t floor_expires;
  uint64_t sweep_next;
  ngx_pid_t poller;
  ngx_msec_t claimed_at;
  ngx_msec_t polled_at;
  bool polled;
  bool loaded;  // the stream was read to its end once, or Redis did not answer
  bool reread;  // a writer died mid-write: reread the stream from the start
  uint32_t source;
  char cursor[kMaxCursor + 1];
  uint64_t polls, poll_errors, rejected, overflowed, dropped;
};

namespace {

// Readers spin this many times on an odd sequence, then take the mutex.
constexpr int kSpins = 64;
// Records applied per hold of the mutex.
constexpr size_t kApplyChunk = 256;

inline uint64_t load(const uint64_t& v) { return __atomic_load_n(&v, __ATOMIC_RELAXED); }
inline int64_t load(const int64_t& v) { return __atomic_load_n(&v, __ATOMIC_RELAXED); }
inline void store(uint64_t& v, uint64_t x) { __atomic_store_n(&v, x, __ATOMIC_RELAXED); }
inline void store(int64_t& v, int64_t x) { __atomic_store_n(&v, x, __ATOMIC_RELAXED); }

// SipHash-2-4 with a 128-bit output (Aumasson & Bernstein's reference).
inline uint64_t rotl(uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

struct Sip {
  uint64_t v0, v1, v2, v3;
  void round() {
    v0 += v1;
    v1 = rotl(v1, 13);
    v1 ^= v0;
    v0 = rotl(v0, 32);
    v2 += v3;
    v3 = rotl(v3, 16);
    v3 ^= v2;
    v0 += v3;
    v3 = rotl(v3, 21);
    v3 ^= v0;
    v2 += v1;
    v1 = rotl(v1, 17);
    v1 ^= v2;
    v2 = rotl(v2, 32);
  }
  void absorb(uint64_t m) {
    v3 ^= m;
    round();
    round();
    v0 ^= m;
  }
};

void siphash128(const uint64_t k[2], const unsigned char* in, size_t len, uint64_t out[2]) {
  Sip s{k[0] ^ 0x736f6d6570736575ULL, k[1] ^ 0x646f72616e646f6dULL, k[0] ^ 0x6c7967656e657261ULL,
        k[1] ^ 0x7465646279746573ULL};
  s.v1 ^= 0xee;
  size_t whole = len & ~size_t{7};
  for (size_t i = 0; i < whole; i += 8) {
    uint64_t m;
    std::memcpy(&m, in + i, 8);  // little-endian hosts (x86-64, arm64)
    s.absorb(m);
  }
  uint64_t b = static_cast<uint64_t>(len) << 56;
  for (size_t i = 0; i < (len & 7); i++) b |= static_cast<uint64_t>(in[whole + i]) << (8 * i);
  s.absorb(b);
  s.v2 ^= 0xee;
  for (int i = 0; i < 4; i++) s.round();
  out[0] = s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
  s.v1 ^= 0xdd;
  for (int i = 0; i < 4; i++) s.round();
  out[1] = s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

}  // namespace

size_t RevocationTable::bytes_for(size_t capacity) {
  static_assert(sizeof(Slot) * 2 == kBytesPerRecord, "two slots per record");
  return sizeof(Header) + 2 * capacity * sizeof(Slot);
}

bool RevocationTable::create(void* memory, size_t capacity) {
  auto* h = static_cast<Header*>(memory);
  if (RAND_bytes(reinterpret_cast<unsigned char*>(h->sip), sizeof(h->sip)) != 1) return false;
  h->capacity = capacity;
  h->slots = 2 * capacity;
  std::memcpy(h->cursor, "0-0", 4);
  return true;
}

RevocationTable::RevocationTable(void* memory, ngx_shmtx_t* mutex)
    : h_(static_cast<Header*>(memory)),
      slots_(reinterpret_cast<Slot*>(static_cast<char*>(memory) + sizeof(Header))),
      live_(&h_->live),
      loaded_(&h_->loaded),
      version_(&h_->version),
      mutex_(mutex) {}

void RevocationTable::set_loaded() {
  if (!loaded()) __atomic_store_n(&h_->loaded, true, __ATOMIC_RELEASE);
}

size_t RevocationTable::capacity() const { return h_->capacity; }

void RevocationTable::key_of(RevocationKind kind, std::string_view tenant, std::string_view subject,
                             uint64_t out[2]) const {
  // kind, tenant, NUL, subject: no two triples share an input (slugs have no NUL).
  unsigned char buf[1 + 63 + 1 + kMaxRevocationSubject];
  if (tenant.size() > 63 || subject.size() > kMaxRevocationSubject) {
    out[0] = out[1] = 0;  // no record can name it (the decoder refuses longer fields)
    return;
  }
  size_t n = 0;
  buf[n++] = static_cast<unsigned char>('0' + static_cast<int>(kind));
  std::memcpy(buf + n, tenant.data(), tenant.size());
  n += tenant.size();
  buf[n++] = 0;
  std::memcpy(buf + n, subject.data(), subject.size());
  n += subject.size();
  siphash128(h_->sip, buf, n, out);
  out[1] |= 1;  // never the empty slot's {0, 0}
}

RevocationKeys RevocationTable::keys_for(const Identity& id) const {
  RevocationKeys k;
  key_of(RevocationKind::kUser, id.tenant_id, id.actor_id, k.user);
  if (!id.session_id.empty())
    key_of(RevocationKind::kSession, id.tenant_id, id.session_id, k.session);
  key_of(RevocationKind::kTenant, id.tenant_id, "", k.tenant);
  k.iat = id.iat;
  return k;
}

RevocationTable::Slot* RevocationTable::find(const uint64_t key[2]) const {
  const uint64_t n = h_->slots;
  uint64_t i = static_cast<uint64_t>((static_cast<unsigned __int128>(key[0]) * n) >> 64);
  // There are always empty slots (count < slots), so the probe ends; the
  // bound only guards against a torn table.
  for (uint64_t probes = 0; probes < n; probes++) {
    Slot* s = &slots_[i];
    uint64_t k0 = load(s->key[0]), k1 = load(s->key[1]);
    if (k1 == 0) return nullptr;
    if (k0 == key[0] && k1 == key[1]) return s;
    if (++i == n) i = 0;
  }
  return nullptr;
}

bool RevocationTable::revoked_locked(const RevocationKeys& keys, int64_t now) const {
  // Tenant keys always exist; user keys are {0, 0} only for an over-long sub.
  for (const uint64_t* key : {keys.user, keys.session, keys.tenant}) {
    if (key[1] == 0) continue;
    const Slot* s = find(key);
    if (s != nullptr && load(s->expires) > now && load(s->not_before) > keys.iat) return true;
  }
  return load(h_->floor_expires) > now && load(h_->floor_not_before) > keys.iat;
}

bool RevocationTable::revoked(const RevocationKeys& keys, int64_t now) const {
  for (int attempt = 0; attempt < kSpins; attempt++) {
    uint64_t before = __atomic_load_n(&h_->seq, __ATOMIC_ACQUIRE);
    if (before & 1) {
      ngx_cpu_pause();
      continue;
    }
    bool r = revoked_locked(keys, now);
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    if (__atomic_load_n(&h_->seq, __ATOMIC_RELAXED) == before) return r;
  }
  // A long write, or a writer that died inside one (nginx released its
  // mutex): under the mutex no write is running.
  ngx_shmtx_lock(mutex_);
  if (h_->seq & 1) {
    __atomic_store_n(&h_->seq, h_->seq + 1, __ATOMIC_RELEASE);
    h_->reread = true;
  }
  bool r = revoked_locked(keys, now);
  ngx_shmtx_unlock(mutex_);
  return r;
}

void RevocationTable::write_begin() {
  __atomic_store_n(&h_->seq, h_->seq + 1, __ATOMIC_RELAXED);
  __atomic_thread_fence(__ATOMIC_RELEASE);
}

void RevocationTable::write_end() { __atomic_store_n(&h_->seq, h_->seq + 1, __ATOMIC_RELEASE); }

// After write_end: a reader that sees the new version sees the change.
void RevocationTable::changed() {
  __atomic_store_n(&h_->version, h_->version + 1, __ATOMIC_RELEASE);
}

bool RevocationTable::put_locked(const uint64_t key[2], int64_t not_before, int64_t expires,
                                 size_t limit) {
  if (Slot* s = find(key)) {
    if (not_before <= s->not_before && expires <= s->expires) return true;  // nothing new
    write_begin();
    if (not_before > s->not_before) store(s->not_before, not_before);
    if (expires > s->expires) store(s->expires, expires);
    write_end();
    changed();
    return true;
  }
  if (h_->count >= limit) return false;
  const uint64_t n = h_->slots;
  uint64_t i = static_cast<uint64_t>((static_cast<unsigned __int128>(key[0]) * n) >> 64);
  while (slots_[i].key[1] != 0) {
    if (++i == n) i = 0;
  }
  // Times first, the key last: a reader that sees the key sees its times
  // (and a torn read is retried anyway).
  write_begin();
  store(slots_[i].not_before, not_before);
  store(slots_[i].expires, expires);
  store(slots_[i].key[0], key[0]);
  store(slots_[i].key[1], key[1]);
  h_->count++;
  store(h_->live, h_->live + 1);
  write_end();
  changed();
  return true;
}

RevocationTable::Applied RevocationTable::apply(const std::vector<RevocationRecord>& records,
                                                int64_t now) {
  Applied out;
  const size_t reserve = h_->capacity + h_->capacity / 4;
  bool swept = false;
  size_t held = 0;
  ngx_shmtx_lock(mutex_);
  for (const RevocationRecord& r : records) {
    // The mutex is the zone's (token cache, JWKS): let others in between
    // chunks of a large batch (a first read of the whole stream).
    if (++held % kApplyChunk == 0) {
      ngx_shmtx_unlock(mutex_);
      ngx_shmtx_lock(mutex_);
    }
    if (r.expires <= now) continue;  // names no token that can still be valid
    uint64_t key[2];
    key_of(r.kind, r.tenant, r.subject, key);
    if (key[1] == 0) continue;  // cannot happen for a decoded record
    size_t limit = r.kind == RevocationKind::kTenant ? reserve : h_->capacity;
    bool stored = put_locked(key, r.not_before, r.expires, limit);
    if (!stored && !swept) {
      // Full: first make room from expired records, once per batch.
      sweep_locked(h_->slots, now);
      swept = true;
      stored = put_locked(key, r.not_before, r.expires, limit);
    }
    if (stored) {
      out.stored++;
      continue;
    }
    // Kept whatever the cost: the tenant (the record's own, or the one of
    // the user or session that did not fit), then everything.
    if (r.kind != RevocationKind::kTenant) {
      out.overflowed++;
      key_of(RevocationKind::kTenant, r.tenant, "", key);
    }
    if (put_locked(key, r.not_before, r.expires, reserve)) {
      if (r.kind == RevocationKind::kTenant) out.stored++;
      continue;
    }
    if (r.kind == RevocationKind::kTenant) out.overflowed++;
    write_begin();
    if (h_->floor_expires == 0) store(h_->live, h_->live + 1);
    if (r.not_before > h_->floor_not_before) store(h_->floor_not_before, r.not_before);
    if (r.expires > h_->floor_expires) store(h_->floor_expires, r.expires);
    write_end();
    changed();
  }
  h_->overflowed += out.overflowed;
  ngx_shmtx_unlock(mutex_);
  return out;
}

// Backward-shift deletion: every record stays reachable at every step (a
// moved record exists twice until its old slot is reused), so a writer that
// dies half-way loses nothing.
void RevocationTable::erase_locked(size_t index) {
  const uint64_t n = h_->slots;
  size_t hole = index;
  size_t j = index;
  write_begin();
  for (;;) {
    if (++j == n) j = 0;
    if (slots_[j].key[1] == 0) break;
    size_t home = static_cast<size_t>((static_cast<unsigned __int128>(slots_[j].key[0]) * n) >> 64);
    // slots_[j] may move to the hole unless its home lies cyclically in (hole, j].
    bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
    if (stays) continue;
    store(slots_[hole].not_before, slots_[j].not_before);
    store(slots_[hole].expires, slots_[j].expires);
    store(slots_[hole].key[0], slots_[j].key[0]);
    store(slots_[hole].key[1], slots_[j].key[1]);
    hole = j;
  }
  store(slots_[hole].key[1], 0);
  store(slots_[hole].key[0], 0);
  h_->count--;
  store(h_->live, h_->live - 1);
  write_end();
}

void RevocationTable::sweep(size_t budget, int64_t now) {
  ngx_shmtx_lock(mutex_);
  sweep_locked(budget, now);
  ngx_shmtx_unlock(mutex_);
}

void RevocationTable::sweep_locked(size_t budget, int64_t now) {
  const uint64_t n = h_->slots;
  uint64_t i = h_->sweep_next % n;
  for (size_t looked = 0; looked < budget && looked < n; looked++) {
    // A shift may move a later expired record into slot i: look at it again.
    while (slots_[i].key[1] != 0 && slots_[i].expires <= now) {
      erase_locked(i);
      h_->dropped++;
    }
    if (++i == n) i = 0;
  }
  h_->sweep_next = i;
  if (h_->floor_expires != 0 && h_->floor_expires <= now) {
    write_begin();
    store(h_->floor_not_before, 0);
    store(h_->floor_expires, 0);
    store(h_->live, h_->live - 1);
    write_end();
  }
}

// --- the poller's state ------------------------------------------------------

bool RevocationTable::claim(ngx_pid_t pid, ngx_msec_t now, ngx_msec_t abandon_after) {
  ngx_shmtx_lock(mutex_);
  bool mine = h_->poller == pid || h_->poller == 0 ||
              (now > h_->claimed_at && now - h_->claimed_at > abandon_after);
  if (mine) {
    h_->poller = pid;
    h_->claimed_at = now;
  }
  ngx_shmtx_unlock(mutex_);
  return mine;
}

void RevocationTable::release(ngx_pid_t pid) {
  ngx_shmtx_lock(mutex_);
  if (h_->poller == pid) h_->poller = 0;
  ngx_shmtx_unlock(mutex_);
}

std::string RevocationTable::cursor(uint32_t source) {
  char copy[kMaxCursor + 1] = "0-0";  // copied out: no allocation under the mutex
  ngx_shmtx_lock(mutex_);
  if (h_->source == source && !h_->reread) std::memcpy(copy, h_->cursor, sizeof(copy));
  ngx_shmtx_unlock(mutex_);
  return std::string(copy, ::strnlen(copy, kMaxCursor));
}

void RevocationTable::polled(uint32_t source, const std::string& cursor, size_t rejected,
                             ngx_msec_t now) {
  ngx_shmtx_lock(mutex_);
  if (cursor.size() <= kMaxCursor) {
    std::memcpy(h_->cursor, cursor.data(), cursor.size());
    h_->cursor[cursor.size()] = '\0';
    h_->source = source;
    h_->reread = false;
  }
  h_->polls++;
  h_->rejected += rejected;
  h_->polled_at = now;
  h_->polled = true;
  ngx_shmtx_unlock(mutex_);
}

void RevocationTable::poll_failed() {
  ngx_shmtx_lock(mutex_);
  h_->polls++;
  h_->poll_errors++;
  ngx_shmtx_unlock(mutex_);
}

RevocationStats RevocationTable::stats(ngx_msec_t now) {
  RevocationStats s;
  ngx_shmtx_lock(mutex_);
  s.records = h_->count;
  s.capacity = h_->capacity;
  s.polls = h_->polls;
  s.poll_errors = h_->poll_errors;
  s.rejected = h_->rejected;
  s.overflowed = h_->overflowed;
  s.dropped = h_->dropped;
  s.floor_not_before = h_->floor_not_before;
  s.polled = h_->polled;
  s.last_poll_age = h_->polled && now > h_->polled_at ? now - h_->polled_at : 0;
  s.poller = h_->poller;
  char cursor[kMaxCursor + 1];
  std::memcpy(cursor, h_->cursor, sizeof(cursor));
  ngx_shmtx_unlock(mutex_);
  s.cursor.assign(cursor, ::strnlen(cursor, kMaxCursor));
  return s;
}

}  // namespace realm_auth
