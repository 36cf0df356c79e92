#include "dpop_replay.h"

#include <openssl/evp.h>

#include <cstring>

namespace realm_auth {

namespace {

struct Entry {
  uint8_t key[16];  // first half of the SHA-256 key: 2^-64 false replays per lookup
  int64_t expires;  // 0 = never used
};
static_assert(sizeof(Entry) == DpopReplayCache::kBytesPerEntry, "entry size");

struct Table {
  uint64_t count;
  uint64_t full_refusals;  // for the log: how often the cache had no room
  Entry entries[1];
};

}  // namespace

size_t DpopReplayCache::zone_size(size_t entries) {
  // The table plus the slab pool's header and page bookkeeping (an eighth
  // is ample), rounded up to whole pages by nginx.
  size_t table = sizeof(Table) + entries * sizeof(Entry);
  return table + table / 8 + 64 * 1024;
}

ngx_int_t DpopReplayCache::init_zone(ngx_shm_zone_t* zone, void* old_data) {
  auto* shpool = reinterpret_cast<ngx_slab_pool_t*>(zone->shm.addr);
  size_t entries = reinterpret_cast<uintptr_t>(zone->data);
  if (old_data != nullptr) {
    // A reload with the same size keeps the recorded jtis (same zone memory).
    zone->data = old_data;
    return NGX_OK;
  }
  if (zone->shm.exists) {
    zone->data = shpool->data;
    return NGX_OK;
  }
  size_t bytes = sizeof(Table) + entries * sizeof(Entry);
  auto* table = static_cast<Table*>(ngx_slab_alloc(shpool, bytes));
  if (table == nullptr) return NGX_ERROR;
  std::memset(table, 0, bytes);
  table->count = entries;
  shpool->data = table;
  zone->data = table;
  return NGX_OK;
}

DpopReplayCache::Key DpopReplayCache::key_of(std::string_view jkt, std::string_view jti) {
  Key key{};
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  unsigned int len = 0;
  const unsigned char zero = 0;
  bool ok = ctx != nullptr && EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1 &&
            EVP_DigestUpdate(ctx, jkt.data(), jkt.size()) == 1 &&
            EVP_DigestUpdate(ctx, &zero, 1) == 1 &&
            EVP_DigestUpdate(ctx, jti.data(), jti.size()) == 1 &&
            EVP_DigestFinal_ex(ctx, key.data(), &len) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok) key.fill(0xff);  // out of memory: every such proof shares one key (refused as replays)
  return key;
}

Status DpopReplayCache::remember(ngx_shm_zone_t* zone, std::string_view jkt, std::string_view jti,
                                 int64_t expires, int64_t now) {
  auto* shpool = reinterpret_cast<ngx_slab_pool_t*>(zone->shm.addr);
  auto* table = static_cast<Table*>(zone->data);
  Key key = key_of(jkt, jti);
  uint64_t start;
  std::memcpy(&start, key.data() + 16, sizeof(start));
  start %= table->count;

  Status result = Status::kDpopReplayFull;
  ngx_shmtx_lock(&shpool->mutex);
  Entry* free_slot = nullptr;
  bool seen = false;
  // The whole probe window is read: a live copy may sit after a free slot.
  for (size_t i = 0; i < kProbe && i < table->count; ++i) {
    Entry& e = table->entries[(start + i) % table->count];
    bool live = e.expires > now;
    if (live && std::memcmp(e.key, key.data(), sizeof(e.key)) == 0) {
      seen = true;
      break;
    }
    if (!live && free_slot == nullptr) free_slot = &e;
  }
  if (seen) {
    result = Status::kDpopReplayed;
  } else if (free_slot != nullptr) {
    std::memcpy(free_slot->key, key.data(), sizeof(free_slot->key));
    free_slot->expires = expires;
    result = Status::kOk;
  } else {
    table->full_refusals++;
  }
  ngx_shmtx_unlock(&shpool->mutex);
  return result;
}

}  // namespace realm_auth
