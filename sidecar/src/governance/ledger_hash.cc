#include "ledger_hash.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <memory>

namespace realm_sidecar {

const char kGenesisHash[] = "0000000000000000000000000000000000000000000000000000000000000000";

namespace {

void netstring(std::string& out, const std::string& field) {
  out += std::to_string(field.size());
  out += ':';
  out += field;
  out += ',';
}

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

}  // namespace

std::string ledger_canonical(const AuditRow& row) {
  const AuditEvent& e = row.event;
  std::string out;
  out.reserve(256 + e.reason.size() + e.details_json.size() + e.purpose.size());
  const bool v3 = !row.key_id.empty();
  const bool v2 = !v3 && !e.tenant_incarnation.empty();
  if (v3) {
    netstring(out, "realm-auth-ledger/v3");
    netstring(out, row.key_id);
  } else {
    netstring(out, v2 ? "realm-auth-ledger/v2" : "realm-auth-ledger/v1");
  }
  netstring(out, std::to_string(row.seq));
  netstring(out, row.occurred_at);
  netstring(out, e.event_type);
  netstring(out, e.request_id);
  netstring(out, e.actor_id);
  netstring(out, e.actor_realm);
  netstring(out, e.tenant_id);
  if (v2 || v3) netstring(out, e.tenant_incarnation);
  netstring(out, e.action);
  netstring(out, e.purpose);
  netstring(out, e.decision);
  netstring(out, e.reason);
  netstring(out, e.details_json);
  netstring(out, row.prev_hash);
  return out;
}

namespace {

std::string hex(const unsigned char* md, unsigned int len) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out += digits[md[i] >> 4];
    out += digits[md[i] & 0x0f];
  }
  return out;
}

const realm_auth::SealKey* find_key(const LedgerKeys& keys, const std::string& id) {
  for (const auto& k : keys) {
    if (k.id == id) return &k;
  }
  return nullptr;
}

}  // namespace

std::string sha256_hex(const std::string& bytes) {
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), bytes.data(), bytes.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), md, &len) != 1) {
    return "";
  }
  return hex(md, len);
}

std::string ledger_row_hash(const AuditRow& row, const LedgerKeys& keys) {
  if (row.key_id.empty()) return sha256_hex(ledger_canonical(row));
  const realm_auth::SealKey* key = find_key(keys, row.key_id);
  if (key == nullptr) return "";
  const std::string msg = ledger_canonical(row);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), key->secret.data(), static_cast<int>(key->secret.size()),
           reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), md, &len) == nullptr) {
    return "";
  }
  return hex(md, len);
}

void ChainVerifier::expect_head(int64_t seq, std::string row_hash) {
  expect_seq_ = seq;
  expect_hash_ = std::move(row_hash);
}

void ChainVerifier::broken(int64_t seq, const std::string& why) {
  check_.ok = false;
  check_.first_broken_seq = seq;
  check_.why = "row " + std::to_string(seq) + ": " + why;
}

bool ChainVerifier::feed(const AuditRow& row) {
  if (!check_.ok) return false;
  const int64_t expected = check_.head_seq + 1;
  std::string why;
  if (row.seq != expected) {
    why = row.seq > expected ? "gap in seq: expected " + std::to_string(expected) + ", found " +
                                   std::to_string(row.seq)
                             : "seq out of order: expected " + std::to_string(expected) +
                                   ", found " + std::to_string(row.seq);
  } else if (row.prev_hash != check_.head_hash) {
    why = "prev_hash mismatch: row has " + row.prev_hash + ", previous row_hash is " +
          check_.head_hash;
  } else if (row.key_id.empty() && check_.keyed_rows > 0) {
    // Only the key can write v3; a v1/v2 row after one is a row rewritten
    // (and re-hashed) by someone without it.
    why = "unkeyed row after keyed rows (rewritten without the ledger key)";
  } else if (!row.key_id.empty() && find_key(keys_, row.key_id) == nullptr) {
    why = "ledger key id " + row.key_id + " is not among the configured keys";
  } else {
    std::string computed = ledger_row_hash(row, keys_);
    if (computed.empty()) {
      why = "hash computation failed";
    } else if (computed != row.row_hash) {
      why = "content hash mismatch: stored " + row.row_hash + ", computed " + computed;
    } else if (row.seq == expect_seq_ && row.row_hash != expect_hash_) {
      why = "differs from the published head (row_hash " + expect_hash_ +
            "): the ledger was cut at or before this row and written again";
    }
  }
  if (!why.empty()) {
    broken(row.seq, why);
    return false;
  }
  ++check_.rows_checked;
  if (!row.key_id.empty()) ++check_.keyed_rows;
  check_.head_seq = row.seq;
  check_.head_hash = row.row_hash;
  return true;
}

const ChainCheck& ChainVerifier::finish() {
  if (check_.ok && check_.head_seq < expect_seq_) {
    broken(check_.head_seq + 1,
           "missing: the ledger ends at seq " + std::to_string(check_.head_seq) + ", but seq " +
               std::to_string(expect_seq_) + " was published as its head (rows cut off the tail)");
  }
  return check_;
}

ChainCheck verify_chain(const std::vector<AuditRow>& rows, const LedgerKeys& keys) {
  ChainVerifier v(keys);
  for (const auto& row : rows) {
    if (!v.feed(row)) break;
  }
  return v.finish();
}

}  // namespace realm_sidecar
