// Shared-memory zone: issuer JWKS entries, verified-token cache, counters.
// Layout and locking are described in zone.h.
#include "zone.h"

#include <cstring>

#include "module.h"

namespace realm_auth {

namespace {

// A back-off after a failed fetch, so a down issuer is not hammered by every
// request that arrives while it is down; those requests fail fast instead.
constexpr ngx_msec_t kFailureBackoffMs = 1000;

// An in-flight claim this old is abandoned whatever the location's fetch
// timeout (which the zone does not know when reclaiming): a worker that
// died mid-fetch must not pin its issuer forever.
constexpr ngx_msec_t kAbandonedClaimMs = 60000;

// Idle document-less issuers reclaimed per new issuer, and looked at when
// their cap is reached.
constexpr int kReclaimPerInsert = 2;

// Fetches for issuers without keys in flight per nginx, whatever the zone's
// size: they share the thread pool's queue with the refreshes of real
// tenants, which must never wait behind thousands of made-up realms.
constexpr ngx_uint_t kMaxKeylessFetches = 16;
constexpr int kReclaimWhenFull = 32;

// Expired token entries reclaimed per insert, and entries evicted when the
// slab is full; small so the critical section stays short.
constexpr int kExpirePerInsert = 2;
constexpr int kEvictWhenFull = 16;

struct IssuerNode {
  ngx_rbtree_node_t node;     // key: crc32 of the issuer
  ngx_queue_t keyless;        // link in Shared::keyless while there is no document
  uint64_t generation;        // a new zone-wide value (jwks_epoch) on every stored document
  ngx_msec_t fetched_at;      // when the document arrived
  ngx_msec_t fetching_since;  // 0 = nobody fetching
  bool keyless_claim;         // the claim counts in Shared::keyless_fetching
  ngx_msec_t failed_at;       // last failed fetch, 0 = none
  ngx_msec_t last_refetch;    // last unknown-kid refetch
  u_char* document;           // raw JWKS, slab-allocated
  size_t document_len;
  size_t issuer_len;
  u_char issuer[1];
};

struct TokenNode {
  ngx_rbtree_node_t node;  // key: leading bytes of the hash
  ngx_queue_t lru;         // most recently used at the head
  time_t valid_until;      // exp + leeway
  uint32_t issuer_hash;    // crc32 of the identity's issuer (Zone::forget_issuer)
  u_char hash[32];
  size_t data_len;  // serialized identity
  u_char data[1];
};

// A tenant record as tenant_state.h applies it: the slug, then the
// record's text form (core tenant_record.h), and the seal's time apart.
struct TenantNode {
  ngx_rbtree_node_t node;  // key: crc32 of the slug
  int64_t issued_ms;
  size_t slug_len;
  size_t text_len;
  u_char data[1];  // slug, then text
};

IssuerNode* issuer_of(ngx_rbtree_node_t* n) { return reinterpret_cast<IssuerNode*>(n); }
TokenNode* token_of(ngx_rbtree_node_t* n) { return reinterpret_cast<TokenNode*>(n); }

// Copies zone bytes out while the zone's mutex is held. The copy may throw
// std::bad_alloc, which the entry point's guard (guard.h) catches: the mutex
// is released first, or every worker of this nginx would wait on it forever
// (nginx frees a dead worker's lock, not a live one's).
void copy_out_locked(ngx_shmtx_t* mutex, std::string& out, const u_char* data, size_t len) {
  try {
    out.assign(reinterpret_cast<const char*>(data), len);
  } catch (...) {
    ngx_shmtx_unlock(mutex);
    throw;
  }
}

int compare_issuer(const IssuerNode* a, const u_char* name, size_t len) {
  if (a->issuer_len != len) return a->issuer_len < len ? -1 : 1;
  return std::memcmp(a->issuer, name, len);
}

// ngx_rbtree_insert_value with a tie-break for equal keys (crc32 or hash
// prefix collisions): `after(temp, node)` is true when temp sorts after node.
template <typename After>
void insert_ordered(ngx_rbtree_node_t* temp, ngx_rbtree_node_t* node, ngx_rbtree_node_t* sentinel,
                    After after) {
  for (;;) {
    ngx_rbtree_node_t** p;
    if (node->key != temp->key) {
      p = node->key < temp->key ? &temp->left : &temp->right;
    } else {
      p = after(temp, node) ? &temp->left : &temp->right;
    }
    if (*p == sentinel) {
      *p = node;
      break;
    }
    temp = *p;
  }
  node->parent = temp;
  node->left = sentinel;
  node->right = sentinel;
  ngx_rbt_red(node);
}

void insert_issuer(ngx_rbtree_node_t* temp, ngx_rbtree_node_t* node, ngx_rbtree_node_t* sentinel) {
  insert_ordered(temp, node, sentinel, [](ngx_rbtree_node_t* t, ngx_rbtree_node_t* n) {
    const IssuerNode* in = issuer_of(n);
    return compare_issuer(issuer_of(t), in->issuer, in->issuer_len) > 0;
  });
}

void insert_token(ngx_rbtree_node_t* temp, ngx_rbtree_node_t* node, ngx_rbtree_node_t* sentinel) {
  insert_ordered(temp, node, sentinel, [](ngx_rbtree_node_t* t, ngx_rbtree_node_t* n) {
    return std::memcmp(token_of(t)->hash, token_of(n)->hash, 32) > 0;
  });
}

int compare_tenant(const TenantNode* a, const u_char* slug, size_t len) {
  if (a->slug_len != len) return a->slug_len < len ? -1 : 1;
  return std::memcmp(a->data, slug, len);
}

void insert_tenant(ngx_rbtree_node_t* temp, ngx_rbtree_node_t* node, ngx_rbtree_node_t* sentinel) {
  insert_ordered(temp, node, sentinel, [](ngx_rbtree_node_t* t, ngx_rbtree_node_t* n) {
    auto* tn = reinterpret_cast<TenantNode*>(n);
    return compare_tenant(reinterpret_cast<TenantNode*>(t), tn->data, tn->slug_len) > 0;
  });
}

ngx_rbtree_key_t token_key(const TokenHash& h) {
  ngx_rbtree_key_t k;
  std::memcpy(&k, h.data(), sizeof(k));
  return k;
}

// Identity ⇄ bytes: each string as a 4-byte length then its bytes; roles as
// a count then strings. Only this file reads what this file writes.
void put(std::string& out, const std::string& s) {
  uint32_t n = static_cast<uint32_t>(s.size());
  out.append(reinterpret_cast<const char*>(&n), sizeof(n));
  out.append(s);
}

void put_u64(std::string& out, uint64_t v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof(v));
}

bool get_u64(const u_char*& p, const u_char* end, uint64_t& v) {
  if (static_cast<size_t>(end - p) < sizeof(v)) return false;
  std::memcpy(&v, p, sizeof(v));
  p += sizeof(v);
  return true;
}

bool get(const u_char*& p, const u_char* end, std::string& s) {
  uint32_t n;
  if (static_cast<size_t>(end - p) < sizeof(n)) return false;
  std::memcpy(&n, p, sizeof(n));
  p += sizeof(n);
  if (static_cast<size_t>(end - p) < n) return false;
  s.assign(reinterpret_cast<const char*>(p), n);
  p += n;
  return true;
}

std::string serialize(const Identity& id) {
  std::string out;
  out.reserve(256);
  for (const std::string* s :
       {&id.actor_id, &id.tenant_id, &id.realm, &id.issuer, &id.username, &id.email,
        &id.department_id, &id.key_id, &id.session_id, &id.cnf.jkt, &id.cnf.x5t_s256}) {
    put(out, *s);
  }
  put_u64(out, id.roles.size());
  for (const auto& role : id.roles) put(out, role);
  put_u64(out, static_cast<uint64_t>(id.exp));
  put_u64(out, static_cast<uint64_t>(id.iat));
  return out;
}

bool deserialize(const u_char* p, size_t len, Identity& id) {
  const u_char* end = p + len;
  for (std::string* s :
       {&id.actor_id, &id.tenant_id, &id.realm, &id.issuer, &id.username, &id.email,
        &id.department_id, &id.key_id, &id.session_id, &id.cnf.jkt, &id.cnf.x5t_s256}) {
    if (!get(p, end, *s)) return false;
  }
  uint64_t count, exp;
  if (!get_u64(p, end, count) || count > len) return false;
  id.roles.resize(count);
  for (auto& role : id.roles) {
    if (!get(p, end, role)) return false;
  }
  uint64_t iat;
  if (!get_u64(p, end, exp) || !get_u64(p, end, iat)) return false;
  id.exp = static_cast<int64_t>(exp);
  id.iat = static_cast<int64_t>(iat);
  return p == end;
}

}  // namespace

struct Zone::Shared {
  ngx_rbtree_t issuers;
  ngx_rbtree_node_t issuers_sentinel;
  ngx_rbtree_t tokens;
  ngx_rbtree_node_t tokens_sentinel;
  ngx_queue_t token_lru;
  ngx_queue_t keyless;          // issuers without a document, most recent activity first
  ngx_uint_t issuer_count;      // under the mutex
  ngx_uint_t keyless_count;     // under the mutex
  ngx_uint_t keyless_fetching;  // claims of issuers without a document (kMaxKeylessFetches)
  ngx_uint_t keyless_cap;       // at most this many issuers without a document
  ngx_uint_t token_count;       // under the mutex
  ngx_rbtree_t tenants;         // TenantNode by slug
  ngx_rbtree_node_t tenants_sentinel;
  ngx_uint_t tenant_count;  // under the mutex
  ngx_uint_t tenant_cap;    // an eighth of the zone in 256-byte chunks
  ngx_atomic_t jwks_epoch;  // bumped by store_document and forget_issuer
  ngx_atomic_t counters[static_cast<unsigned>(Counter::kCount)];
  ngx_atomic_t refused[static_cast<unsigned>(Status::kCount)];
  // JWKS fetch latency: per-bucket counts (the last above every bound) and
  // the sum in microseconds, [0] failed fetches, [1] good ones.
  ngx_atomic_t fetch_buckets[2][Zone::kFetchBucketCount + 1];
  ngx_atomic_t fetch_sum_us[2];
  void* revocations;  // RevocationTable memory, null without one
};

Zone::Shared* Zone::shared() const { return static_cast<Shared*>(shm_zone_->data); }
ngx_slab_pool_t* Zone::slab() const {
  return reinterpret_cast<ngx_slab_pool_t*>(shm_zone_->shm.addr);
}

ngx_int_t Zone::add_revocations(ngx_shm_zone_t* shm_zone, size_t capacity) {
  auto* sh = static_cast<Shared*>(shm_zone->data);
  if (capacity == 0 || sh->revocations != nullptr) return NGX_OK;
  auto* pool = reinterpret_cast<ngx_slab_pool_t*>(shm_zone->shm.addr);
  void* memory = ngx_slab_calloc(pool, RevocationTable::bytes_for(capacity));
  if (memory == nullptr || !RevocationTable::create(memory, capacity)) {
    ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                  "realm_auth: no room for a revocation table of %uz records in "
                  "auth_realm_zone \"%V\"",
                  capacity, &shm_zone->shm.name);
    return NGX_ERROR;
  }
  sh->revocations = memory;
  return NGX_OK;
}

ngx_int_t Zone::init(ngx_shm_zone_t* shm_zone, void* old_data) {
  // Until now data is the new configuration's (set_zone).
  size_t capacity = static_cast<MainConf*>(shm_zone->data)->zone->revocation_capacity_;
  if (old_data != nullptr) {  // reload with the same zone: keep everything
    shm_zone->data = old_data;
    // The table keeps its records and its size for the zone's life; a
    // reload that first turns revocations on makes one.
    return add_revocations(shm_zone, capacity);
  }
  auto* pool = reinterpret_cast<ngx_slab_pool_t*>(shm_zone->shm.addr);
  if (shm_zone->shm.exists) {  // Windows-only path in nginx; kept for symmetry
    shm_zone->data = pool->data;
    return NGX_OK;
  }
  auto* sh = static_cast<Shared*>(ngx_slab_calloc(pool, sizeof(Shared)));
  if (sh == nullptr) return NGX_ERROR;
  ngx_rbtree_init(&sh->issuers, &sh->issuers_sentinel, insert_issuer);
  ngx_rbtree_init(&sh->tokens, &sh->tokens_sentinel, insert_token);
  ngx_rbtree_init(&sh->tenants, &sh->tenants_sentinel, insert_tenant);
  ngx_queue_init(&sh->token_lru);
  ngx_queue_init(&sh->keyless);
  // Issuers without keys are what a client can invent (any slug under an
  // allowed pattern): they may hold at most an eighth of the zone, counted
  // in 256-byte slab chunks (an issuer node with its URL fits one).
  sh->keyless_cap = ngx_max(shm_zone->shm.size / 8 / 256, 16);
  sh->tenant_cap = sh->keyless_cap;
  pool->data = sh;
  shm_zone->data = sh;

  static const char kLogCtx[] = " in auth_realm_zone \"";
  size_t len = sizeof(kLogCtx) + shm_zone->shm.name.len + 1;
  pool->log_ctx = static_cast<u_char*>(ngx_slab_alloc(pool, len));
  if (pool->log_ctx == nullptr) return NGX_ERROR;
  ngx_sprintf(pool->log_ctx, "%s%V\"%Z", kLogCtx, &shm_zone->shm.name);
  pool->log_nomem = 0;  // a full zone evicts tokens; no "no memory" alert per insert
  return add_revocations(shm_zone, capacity);
}

RevocationTable* Zone::revocations() {
  if (!revocations_ && shared()->revocations != nullptr) {
    revocations_ = std::make_unique<RevocationTable>(shared()->revocations, &slab()->mutex);
  }
  return revocations_.get();
}

// --- issuers ---------------------------------------------------------------

namespace {

IssuerNode* find_issuer(ngx_rbtree_t* tree, const std::string& issuer, uint32_t hash) {
  ngx_rbtree_node_t* n = tree->root;
  ngx_rbtree_node_t* sentinel = tree->sentinel;
  auto* name = reinterpret_cast<const u_char*>(issuer.data());
  while (n != sentinel) {
    if (hash != n->key) {
      n = hash < n->key ? n->left : n->right;
      continue;
    }
    int rc = compare_issuer(issuer_of(n), name, issuer.size());
    if (rc == 0) return issuer_of(n);
    n = rc > 0 ? n->left : n->right;
  }
  return nullptr;
}

uint32_t issuer_hash(const std::string& issuer) {
  return ngx_crc32_short(reinterpret_cast<u_char*>(const_cast<char*>(issuer.data())),
                         issuer.size());
}

}  // namespace

namespace {

// Whether a document-less issuer may be dropped: nobody is fetching for it
// (or the claim is older than any fetch can take) and, unless the share is
// full (`pressed`), its failure back-off is over. A later request for it
// starts from scratch, as for an issuer never seen: at worst one more fetch
// of a realm that failed, which needs a slot of its own.
bool reclaimable(const IssuerNode* e, ngx_msec_t now, bool pressed) {
  if (e->fetching_since != 0 && elapsed(e->fetching_since, now) <= kAbandonedClaimMs) return false;
  return pressed || e->failed_at == 0 || elapsed(e->failed_at, now) >= kFailureBackoffMs;
}

}  // namespace

void Zone::touch_keyless_locked(void* node) {
  auto* e = static_cast<IssuerNode*>(node);
  ngx_queue_remove(&e->keyless);
  ngx_queue_insert_head(&shared()->keyless, &e->keyless);
}

void Zone::release_claim_locked(void* node) {
  auto* e = static_cast<IssuerNode*>(node);
  e->fetching_since = 0;
  if (e->keyless_claim) {
    e->keyless_claim = false;
    shared()->keyless_fetching--;
  }
}

int Zone::reclaim_keyless_locked(int budget, ngx_msec_t now, bool pressed) {
  Shared* sh = shared();
  int freed = 0;
  ngx_queue_t* q = ngx_queue_last(&sh->keyless);
  while (budget-- > 0 && q != ngx_queue_sentinel(&sh->keyless)) {
    IssuerNode* e = ngx_queue_data(q, IssuerNode, keyless);
    q = ngx_queue_prev(q);
    if (!reclaimable(e, now, pressed)) continue;
    release_claim_locked(e);  // an abandoned claim
    ngx_queue_remove(&e->keyless);
    ngx_rbtree_delete(&sh->issuers, &e->node);
    ngx_slab_free_locked(slab(), e);
    sh->keyless_count--;
    sh->issuer_count--;
    freed++;
  }
  return freed;
}

void* Zone::new_issuer_locked(const std::string& issuer, uint32_t hash, ngx_msec_t now) {
  Shared* sh = shared();
  // Each new issuer pays for the oldest idle ones; at the cap, look further.
  reclaim_keyless_locked(kReclaimPerInsert, now, false);
  if (sh->keyless_count >= sh->keyless_cap &&
      reclaim_keyless_locked(kReclaimWhenFull, now, true) == 0) {
    return nullptr;  // every slot has a fetch in flight
  }
  auto* e =
      static_cast<IssuerNode*>(alloc_locked(offsetof(IssuerNode, issuer) + issuer.size(), true));
  if (e == nullptr) return nullptr;
  e->node.key = hash;
  e->issuer_len = issuer.size();
  std::memcpy(e->issuer, issuer.data(), issuer.size());
  ngx_rbtree_insert(&sh->issuers, &e->node);
  ngx_queue_insert_head(&sh->keyless, &e->keyless);
  sh->issuer_count++;
  sh->keyless_count++;
  return e;
}

bool Zone::look_up_issuer(const std::string& issuer, uint64_t have, const ClaimPolicy& policy,
                          IssuerSnapshot& out) {
  Shared* sh = shared();
  ngx_slab_pool_t* pool = slab();
  uint32_t hash = issuer_hash(issuer);
  ngx_msec_t now = ngx_current_msec;

  ngx_shmtx_lock(&pool->mutex);
  IssuerNode* e = find_issuer(&sh->issuers, issuer, hash);
  if (e == nullptr && policy.claim != Claim::kNone && policy.create) {
    e = static_cast<IssuerNode*>(new_issuer_locked(issuer, hash, now));
    if (e == nullptr) {
      ngx_shmtx_unlock(&pool->mutex);
      return false;
    }
  }
  if (e != nullptr) {
    out.known = true;
    out.generation = e->generation;
    out.fetched_at = e->fetched_at;
    out.has_document = e->document != nullptr;
    if (out.has_document && e->generation != have) {
      copy_out_locked(&pool->mutex, out.document, e->document, e->document_len);
    }
    // A claim older than the fetch timeout belongs to a worker that died or
    // lost its task: let someone else fetch.
    if (policy.claim != Claim::kNone && e->fetching_since != 0 &&
        elapsed(e->fetching_since, now) > policy.fetch_timeout + 1000) {
      release_claim_locked(e);
    }
    out.failed_recently = e->failed_at != 0 && elapsed(e->failed_at, now) < kFailureBackoffMs;
    bool idle = e->fetching_since == 0;
    bool stale = !out.has_document || elapsed(e->fetched_at, now) >= policy.ttl;
    bool want = false;
    if (policy.claim == Claim::kIfStale) {
      want = stale && !out.failed_recently;
    } else if (policy.claim == Claim::kRefetch) {
      want = e->last_refetch == 0 || elapsed(e->last_refetch, now) >= policy.refetch_interval;
      if (want && idle) e->last_refetch = now;
    }
    if (want && idle && !out.has_document && sh->keyless_fetching >= kMaxKeylessFetches) {
      want = false;  // refused now; the client may retry (counted by the caller)
      out.no_fetch_slot = true;
    }
    if (want && idle) {
      e->fetching_since = now;
      out.claimed = true;
      if (!out.has_document) {
        e->keyless_claim = true;
        sh->keyless_fetching++;
        touch_keyless_locked(e);
      }
    }
    out.fetch_in_flight = e->fetching_since != 0;
  }
  ngx_shmtx_unlock(&pool->mutex);
  return true;
}

uint64_t Zone::store_document(const std::string& issuer, const std::string& document,
                              ngx_msec_t age_ms) {
  Shared* sh = shared();
  ngx_slab_pool_t* pool = slab();
  uint64_t generation = 0;

  ngx_shmtx_lock(&pool->mutex);
  // Allocate before looking the issuer up: making room may reclaim issuers.
  auto* copy = static_cast<u_char*>(alloc_locked(document.size(), false));
  IssuerNode* e = find_issuer(&sh->issuers, issuer, issuer_hash(issuer));
  if (e != nullptr) release_claim_locked(e);
  if (e != nullptr && copy != nullptr) {
    std::memcpy(copy, document.data(), document.size());
    if (e->document != nullptr) {
      ngx_slab_free_locked(pool, e->document);
    } else {  // keys at last: no longer reclaimable
      ngx_queue_remove(&e->keyless);
      sh->keyless_count--;
    }
    e->document = copy;
    e->document_len = document.size();
    e->fetched_at = ngx_current_msec - age_ms;
    e->failed_at = 0;
    // Generations are unique in the zone, not per node: a node made again
    // after forget_issuer never repeats one a worker still holds.
    generation = static_cast<uint64_t>(ngx_atomic_fetch_add(&sh->jwks_epoch, 1)) + 1;
    e->generation = generation;
  } else if (copy != nullptr) {
    ngx_slab_free_locked(pool, copy);
  }
  ngx_shmtx_unlock(&pool->mutex);
  return generation;
}

void Zone::fetch_failed(const std::string& issuer) {
  Shared* sh = shared();
  ngx_slab_pool_t* pool = slab();
  ngx_shmtx_lock(&pool->mutex);
  IssuerNode* e = find_issuer(&sh->issuers, issuer, issuer_hash(issuer));
  if (e != nullptr) {
    release_claim_locked(e);
    e->failed_at = ngx_current_msec;
    if (e->document == nullptr) touch_keyless_locked(e);
  }
  ngx_shmtx_unlock(&pool->mutex);
}

void Zone::abandon_fetch(const std::string& issuer) {
  ngx_slab_pool_t* pool = slab();
  ngx_shmtx_lock(&pool->mutex);
  IssuerNode* e = find_issuer(&shared()->issuers, issuer, issuer_hash(issuer));
  if (e != nullptr) release_claim_locked(e);
  ngx_shmtx_unlock(&pool->mutex);
}

void Zone::forget_issuer(const std::string& issuer) {
  Shared* sh = shared();
  ngx_slab_pool_t* pool = slab();
  uint32_t hash = issuer_hash(issuer);
  ngx_shmtx_lock(&pool->mutex);
  IssuerNode* e = find_issuer(&sh->issuers, issuer, hash);
  if (e != nullptr) {
    // The whole node goes: the slug's next incarnation starts from nothing
    // (no document, no back-off, no claim). A fetch in flight finds no node
    // when it lands and stores nothing.
    release_claim_locked(e);
    if (e->document != nullptr) {
      ngx_slab_free_locked(pool, e->document);
    } else {
      ngx_queue_remove(&e->keyless);
      sh->keyless_count--;
    }
    ngx_rbtree_delete(&sh->issuers, &e->node);
    ngx_slab_free_locked(pool, e);
    sh->issuer_count--;
    ngx_atomic_fetch_add(&sh->jwks_epoch, 1);  // workers look again (KeyStore::refresh_from_zone)
  }
  // A crc32 collision drops another issuer's tokens too: only cache misses.
  ngx_queue_t* q = ngx_queue_head(&sh->token_lru);
  while (q != ngx_queue_sentinel(&sh->token_lru)) {
    TokenNode* t = ngx_queue_data(q, TokenNode, lru);
    q = ngx_queue_next(q);
    if (t->issuer_hash != hash) continue;
    ngx_queue_remove(&t->lru);
    ngx_rbtree_delete(&sh->tokens, &t->node);
    ngx_slab_free_locked(pool, t);
    sh->token_count--;
  }
  ngx_shmtx_unlock(&pool->mutex);
}

// --- verified tokens -------------------------------------------------------

namespace {

TokenNode* find_token_node(ngx_rbtree_t* tree, const TokenHash& key) {
  ngx_rbtree_key_t k = token_key(key);
  ngx_rbtree_node_t* n = tree->root;
  ngx_rbtree_node_t* sentinel = tree->sentinel;
  while (n != sentinel) {
    if (k != n->key) {
      n = k < n->key ? n->left : n->right;
      continue;
    }
    int rc = std::memcmp(key.data(), token_of(n)->hash, 32);
    if (rc == 0) return token_of(n);
    n = rc < 0 ? n->left : n->right;
  }
  return nullptr;
}

}  // namespace

bool Zone::find_token(const TokenHash& key, time_t now, Identity& out) {
  Shared* sh = shared();
  ngx_slab_pool_t* pool = slab();
  std::string data;

  ngx_shmtx_lock(&pool->mutex);
  TokenNode* t = find_token_node(&sh->tokens, key);
  bool hit = t != nullptr && t->valid_until > now;
  if (hit) {
    ngx_queue_remove(&t->lru);
    ngx_queue_insert_head(&sh->token_lru, &t->lru);
    copy_out_locked(&pool->mutex, data, t->data, t->data_len);
  }
  ngx_shmtx_unlock(&pool->mutex);

  return hit && deserialize(reinterpret_cast<const u_char*>(data.data()), data.size(), out);
}

void Zone::drop_tokens_locked(int n, bool only_expired, time_t now) {
  Shared* sh = shared();
  ngx_slab_pool_t* pool = slab();
  while (n-- > 0 && !ngx_queue_empty(&sh->token_lru)) {
    TokenNode* t = ngx_queue_data(ngx_queue_last(&sh->token_lru), TokenNode, lru);
    if (only_expired && t->valid_until > now) return;
    ngx_queue_remove(&t->lru);
    ngx_rbtree_delete(&sh->tokens, &t->node);
    ngx_slab_free_locked(pool, t);
    sh->token_count--;
  }
}

void* Zone::alloc_locked(size_t size, bool zeroed) {
  ngx_slab_pool_t* pool = slab();
  void* p = zeroed ? ngx_slab_calloc_locked(pool, size) : ngx_slab_alloc_locked(pool, size);
  if (p == nullptr) {
    reclaim_keyless_locked(kReclaimWhenFull, ngx_current_msec, true);
    drop_tokens_locked(kEvictWhenFull, false, ngx_time());
    p = zeroed ? ngx_slab_calloc_locked(pool, size) : ngx_slab_alloc_locked(pool, size);
  }
  return p;
}

void Zone::store_token(const TokenHash& key, const Identity& identity, time_t valid_until) {
  Shared* sh = shared();
  ngx_slab_pool_t* pool = slab();
  std::string data = serialize(identity);
  size_t size = offsetof(TokenNode, data) + data.size();
  time_t now = ngx_time();

  ngx_shmtx_lock(&pool->mutex);
  drop_tokens_locked(kExpirePerInsert, true, now);
  if (find_token_node(&sh->tokens, key) == nullptr) {
    auto* t = static_cast<TokenNode*>(alloc_locked(size, false));
    if (t != nullptr) {
      t->node.key = token_key(key);
      std::memcpy(t->hash, key.data(), 32);
      t->valid_until = valid_until;
      t->issuer_hash = issuer_hash(identity.issuer);
      t->data_len = data.size();
      std::memcpy(t->data, data.data(), data.size());
      ngx_rbtree_insert(&sh->tokens, &t->node);
      ngx_queue_insert_head(&sh->token_lru, &t->lru);
      sh->token_count++;
    }
  }
  ngx_shmtx_unlock(&pool->mutex);
}

// --- tenant records ----------------------------------------------------------

namespace {

uint32_t slug_hash(const std::string& slug) {
  return ngx_crc32_short(reinterpret_cast<u_char*>(const_cast<char*>(slug.data())), slug.size());
}

TenantNode* find_tenant(ngx_rbtree_t* tree, const std::string& slug, uint32_t hash) {
  ngx_rbtree_node_t* n = tree->root;
  ngx_rbtree_node_t* sentinel = tree->sentinel;
  auto* name = reinterpret_cast<const u_char*>(slug.data());
  while (n != sentinel) {
    if (hash != n->key) {
      n = hash < n->key ? n->left : n->right;
      continue;
    }
    int rc = compare_tenant(reinterpret_cast<TenantNode*>(n), name, slug.size());
    if (rc == 0) return reinterpret_cast<TenantNode*>(n);
    n = rc > 0 ? n->left : n->right;
  }
  return nullptr;
}

}  // namespace

void Zone::share_tenant_record(const std::string& slug, const TenantRecordValue& record) {
  Shared* sh = shared();
  ngx_slab_pool_t* pool = slab();
  if (record.state == TenantRecord::kAbsent) return;
  std::string text = encode_tenant_record(record);
  uint32_t hash = slug_hash(slug);
  ngx_shmtx_lock(&pool->mutex);
  TenantNode* old = find_tenant(&sh->tenants, slug, hash);
  // Older than the stored one: keep the newer. The same record (every
  // refresh of every worker reads it again): nothing to write.
  bool same = old != nullptr && old->issued_ms == record.issued_ms &&
              old->text_len == text.size() &&
              std::memcmp(old->data + old->slug_len, text.data(), text.size()) == 0;
  if (same || (old != nullptr && old->issued_ms > record.issued_ms)) {
    ngx_shmtx_unlock(&pool->mutex);
    return;
  }
  if (old == nullptr && sh->tenant_count >= sh->tenant_cap) {
    ngx_shmtx_unlock(&pool->mutex);
    return;
  }
  auto* t = static_cast<TenantNode*>(
      alloc_locked(offsetof(TenantNode, data) + slug.size() + text.size(), false));
  if (t != nullptr) {
    t->node.key = hash;
    t->issued_ms = record.issued_ms;
    t->slug_len = slug.size();
    t->text_len = text.size();
    std::memcpy(t->data, slug.data(), slug.size());
    std::memcpy(t->data + slug.size(), text.data(), text.size());
    if (old != nullptr) {
      ngx_rbtree_delete(&sh->tenants, &old->node);
      ngx_slab_free_locked(pool, old);
      sh->tenant_count--;
    }
    ngx_rbtree_insert(&sh->tenants, &t->node);
    sh->tenant_count++;
  }
  ngx_shmtx_unlock(&pool->mutex);
}

bool Zone::shared_tenant_record(const std::string& slug, TenantRecordValue& out) {
  Shared* sh = shared();
  ngx_slab_pool_t* pool = slab();
  std::string text;
  int64_t issued_ms = 0;
  ngx_shmtx_lock(&pool->mutex);
  TenantNode* t = find_tenant(&sh->tenants, slug, slug_hash(slug));
  if (t != nullptr) {
    issued_ms = t->issued_ms;
    copy_out_locked(&pool->mutex, text, t->data + t->slug_len, t->text_len);
  }
  ngx_shmtx_unlock(&pool->mutex);
  if (t == nullptr || !decode_tenant_record(text, out)) return false;
  out.issued_ms = issued_ms;
  return true;
}

// --- counters and status ---------------------------------------------------

uint64_t Zone::jwks_epoch() const { return shared()->jwks_epoch; }

void Zone::count(Counter c, ngx_atomic_int_t n) {
  ngx_atomic_fetch_add(&shared()->counters[static_cast<unsigned>(c)], n);
}

void Zone::count_refused(Status s) {
  ngx_atomic_fetch_add(&shared()->refused[static_cast<unsigned>(s)], 1);
}

const double Zone::kFetchBuckets[Zone::kFetchBucketCount] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                             0.5,   1,    2.5,   5,    10};

void Zone::observe_fetch(bool ok, uint64_t micros) {
  Shared* sh = shared();
  const double seconds = static_cast<double>(micros) / 1e6;
  size_t i = 0;
  while (i < kFetchBucketCount && seconds > kFetchBuckets[i]) i++;
  ngx_atomic_fetch_add(&sh->fetch_buckets[ok][i], 1);
  ngx_atomic_fetch_add(&sh->fetch_sum_us[ok], static_cast<ngx_atomic_int_t>(micros));
}

Zone::Stats Zone::stats() {
  Shared* sh = shared();
  ngx_slab_pool_t* sp = slab();
  Stats st;
  for (unsigned i = 0; i < static_cast<unsigned>(Counter::kCount); i++)
    st.counters[i] = sh->counters[i];
  for (unsigned i = 0; i < static_cast<unsigned>(Status::kCount); i++)
    st.refused[i] = sh->refused[i];
  for (unsigned ok = 0; ok < 2; ok++) {
    for (size_t i = 0; i <= kFetchBucketCount; i++)
      st.fetch_buckets[ok][i] = sh->fetch_buckets[ok][i];
    st.fetch_sum_us[ok] = sh->fetch_sum_us[ok];
  }
  ngx_shmtx_lock(&sp->mutex);
  st.issuers = sh->issuer_count;
  st.issuers_without_keys = sh->keyless_count;
  st.tokens = sh->token_count;
  st.free_pages = sp->pfree;
  ngx_shmtx_unlock(&sp->mutex);
  st.pages = static_cast<size_t>(sp->end - sp->start) / ngx_pagesize;
  st.size = shm_zone_->shm.size;
  st.name.assign(reinterpret_cast<char*>(shm_zone_->shm.name.data), shm_zone_->shm.name.len);
  if (RevocationTable* table = revocations()) {
    st.has_revocation = true;
    st.revocation = table->stats(ngx_current_msec);
  }
  return st;
}

std::string Zone::revocation_json() {
  RevocationTable* table = revocations();
  if (table == nullptr) return ",\"revocation\":null";
  RevocationStats st = table->stats(ngx_current_msec);
  auto n = [](uint64_t v) { return std::to_string(static_cast<unsigned long long>(v)); };
  return ",\"revocation\":{\"records\":" + n(st.records) + ",\"capacity\":" + n(st.capacity) +
         ",\"polls\":" + n(st.polls) + ",\"poll_errors\":" + n(st.poll_errors) +
         ",\"rejected\":" + n(st.rejected) + ",\"overflowed\":" + n(st.overflowed) +
         ",\"dropped\":" + n(st.dropped) +
         ",\"floor_not_before\":" + std::to_string(static_cast<long long>(st.floor_not_before)) +
         ",\"last_poll_age_ms\":" + (st.polled ? n(st.last_poll_age) : std::string("null")) +
         ",\"poller_pid\":" + std::to_string(static_cast<long long>(st.poller)) + ",\"cursor\":\"" +
         st.cursor + "\"}";
}

ngx_str_t Zone::status_json(ngx_pool_t* pool) {
  Shared* sh = shared();
  ngx_slab_pool_t* sp = slab();
  auto c = [&](Counter k) {
    return static_cast<unsigned long long>(sh->counters[static_cast<unsigned>(k)]);
  };

  std::string refused;
  for (unsigned i = 1; i < static_cast<unsigned>(Status::kCount); i++) {
    if (!refused.empty()) refused += ',';
    refused += '"';
    refused += status_name(static_cast<Status>(i));
    refused += "\":" + std::to_string(static_cast<unsigned long long>(sh->refused[i]));
  }

  ngx_shmtx_lock(&sp->mutex);
  ngx_uint_t issuers = sh->issuer_count;
  ngx_uint_t keyless = sh->keyless_count;
  ngx_uint_t tokens = sh->token_count;
  ngx_uint_t free_pages = sp->pfree;
  ngx_shmtx_unlock(&sp->mutex);
  size_t total_pages = static_cast<size_t>(sp->end - sp->start) / ngx_pagesize;

  std::string json =
      "{\"verified\":" + std::to_string(c(Counter::kVerified)) + ",\"refused\":{" + refused + "}" +
      ",\"token_cache\":{\"hits\":" + std::to_string(c(Counter::kTokenCacheHits)) +
      ",\"misses\":" + std::to_string(c(Counter::kTokenCacheMisses)) +
      ",\"entries\":" + std::to_string(tokens) + "}" +
      ",\"jwks\":{\"worker_hits\":" + std::to_string(c(Counter::kWorkerHits)) +
      ",\"zone_hits\":" + std::to_string(c(Counter::kZoneHits)) +
      ",\"redis_hits\":" + std::to_string(c(Counter::kRedisHits)) +
      ",\"http_fetches\":" + std::to_string(c(Counter::kHttpFetches)) +
      ",\"fetch_failures\":" + std::to_string(c(Counter::kFetchFailures)) +
      ",\"redis_errors\":" + std::to_string(c(Counter::kRedisErrors)) +
      ",\"redis_rejected\":" + std::to_string(c(Counter::kRedisRejected)) +
      ",\"refetches\":" + std::to_string(c(Counter::kRefetches)) +
      ",\"issuers_cached\":" + std::to_string(issuers) +
      ",\"issuers_without_keys\":" + std::to_string(keyless) +
      ",\"issuers_refused\":" + std::to_string(c(Counter::kIssuersRefused)) + "}" +
      ",\"zone\":{\"name\":\"" +
      std::string(reinterpret_cast<char*>(shm_zone_->shm.name.data), shm_zone_->shm.name.len) +
      "\",\"size\":" + std::to_string(shm_zone_->shm.size) +
      ",\"pages\":" + std::to_string(total_pages) +
      ",\"free_pages\":" + std::to_string(free_pages) + "}" + revocation_json() + "}\n";

  ngx_str_t out{0, nullptr};
  out.data = static_cast<u_char*>(ngx_pnalloc(pool, json.size()));
  if (out.data != nullptr) {
    std::memcpy(out.data, json.data(), json.size());
    out.len = json.size();
  }
  return out;
}

}  // namespace realm_auth
