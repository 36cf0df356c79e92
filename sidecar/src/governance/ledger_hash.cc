#include "ledger_hash.h"

#include <openssl/evp.h>

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
  const bool v2 = !e.tenant_incarnation.empty();
  netstring(out, v2 ? "realm-auth-ledger/v2" : "realm-auth-ledger/v1");
  netstring(out, std::to_string(row.seq));
  netstring(out, row.occurred_at);
  netstring(out, e.event_type);
  netstring(out, e.request_id);
  netstring(out, e.actor_id);
  netstring(out, e.actor_realm);
  netstring(out, e.tenant_id);
  if (v2) netstring(out, e.tenant_incarnation);
  netstring(out, e.action);
  netstring(out, e.purpose);
  netstring(out, e.decision);
  netstring(out, e.reason);
  netstring(out, e.details_json);
  netstring(out, row.prev_hash);
  return out;
}

std::string sha256_hex(const std::string& bytes) {
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), bytes.data(), bytes.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), md, &len) != 1) {
    return "";
  }
  static const char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 0x0f];
  }
  return out;
}

std::string ledger_row_hash(const AuditRow& row) { return sha256_hex(ledger_canonical(row)); }

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
  } else {
    std::string computed = ledger_row_hash(row);
    if (computed.empty()) {
      why = "SHA-256 failed";
    } else if (computed != row.row_hash) {
      why = "content hash mismatch: stored " + row.row_hash + ", computed " + computed;
    }
  }
  if (!why.empty()) {
    check_.ok = false;
    check_.first_broken_seq = row.seq;
    check_.why = "row " + std::to_string(row.seq) + ": " + why;
    return false;
  }
  ++check_.rows_checked;
  check_.head_seq = row.seq;
  check_.head_hash = row.row_hash;
  return true;
}

ChainCheck verify_chain(const std::vector<AuditRow>& rows) {
  ChainVerifier v;
  for (const auto& row : rows) {
    if (!v.feed(row)) break;
  }
  return v.result();
}

}  // namespace realm_sidecar
