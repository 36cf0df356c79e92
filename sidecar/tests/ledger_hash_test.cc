// The ledger's canonical form and hash chain on synthetic rows (no
// database): a fixed vector computed independently (Python hashlib), then
// every kind of break verify must name. Also the normalization append()
// applies before hashing (sanitized text, redacted details).
#include "ledger_hash.h"

#include <cstring>
#include <string>
#include <vector>

#include "governance_test.h"
#include "pg_audit_ledger.h"

using namespace realm_sidecar;

namespace {

AuditRow first_row() {
  AuditRow r;
  r.seq = 1;
  r.occurred_at = "2025-01-02T03:04:05.123456Z";
  r.event.event_type = "TENANT_CREATED";
  r.event.request_id = "req-1";
  r.event.actor_id = "user-1";
  r.event.actor_realm = "platform";
  r.event.tenant_id = "demo";
  r.event.action = "tenant.create";
  r.event.purpose = "onboarding";
  r.event.decision = "";
  r.event.reason = "tenant created";
  r.event.details_json = "{\"realm\":\"tenant-demo\"}";
  r.prev_hash = kGenesisHash;
  return r;
}

// A valid chain of n rows.
std::vector<AuditRow> chain(int n) {
  std::vector<AuditRow> rows;
  std::string prev = kGenesisHash;
  for (int i = 1; i <= n; ++i) {
    AuditRow r = first_row();
    r.seq = i;
    r.event.event_type = i % 3 == 1 ? "REQUEST" : i % 3 == 2 ? "AUTHZ_DECISION" : "TENANT_CREATED";
    r.event.decision = i % 3 == 2 ? "allow" : "";
    r.event.request_id = "req-" + std::to_string((i + 2) / 3);
    r.prev_hash = prev;
    r.row_hash = ledger_row_hash(r);
    prev = r.row_hash;
    rows.push_back(r);
  }
  return rows;
}

void test_canonical_vector(void**) {
  AuditRow r = first_row();
  assert_string_equal(
      ledger_canonical(r).c_str(),
      "20:realm-auth-ledger/v1,1:1,27:2025-01-02T03:04:05.123456Z,14:TENANT_CREATED,5:req-1,"
      "6:user-1,8:platform,4:demo,13:tenant.create,10:onboarding,0:,14:tenant created,"
      "23:{\"realm\":\"tenant-demo\"},64:"
      "0000000000000000000000000000000000000000000000000000000000000000,");
  assert_string_equal(ledger_row_hash(r).c_str(),
                      "77c671b225da73da895355fdbe71ce4937291d0e7aa8cc697848a99c544c86a0");
  // Second row: lengths are bytes, not characters ("café" is 5).
  AuditRow s = r;
  s.seq = 2;
  s.event.event_type = "REQUEST";
  s.event.actor_id = "caf\xC3\xA9";
  s.prev_hash = ledger_row_hash(r);
  assert_string_equal(ledger_row_hash(s).c_str(),
                      "ce407f671ade43fa311e4dff4e12242926d382c68e5fbd8dd58f4bb8dc13c0aa");
  assert_string_equal(sha256_hex("abc").c_str(),
                      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

// Moving bytes between adjacent fields changes the hash (no ambiguity).
// Form v2: a row that carries its tenant's incarnation (migration 0003).
void test_canonical_v2_incarnation(void**) {
  AuditRow r = first_row();
  r.event.tenant_incarnation = "2f1c0d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f";
  assert_string_equal(
      ledger_canonical(r).c_str(),
      "20:realm-auth-ledger/v2,1:1,27:2025-01-02T03:04:05.123456Z,14:TENANT_CREATED,5:req-1,"
      "6:user-1,8:platform,4:demo,36:2f1c0d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f,13:tenant.create,"
      "10:onboarding,0:,14:tenant created,23:{\"realm\":\"tenant-demo\"},64:"
      "0000000000000000000000000000000000000000000000000000000000000000,");
  // Another incarnation, same everything else: another hash.
  AuditRow other = r;
  other.event.tenant_incarnation = "9e8d7c6b-5a49-4837-a625-14f3e2d1c0b9";
  assert_string_not_equal(ledger_row_hash(r).c_str(), ledger_row_hash(other).c_str());
  assert_string_not_equal(ledger_row_hash(r).c_str(), ledger_row_hash(first_row()).c_str());
}

// Form v3 (migration 0006): keyed. Vector computed independently with
// Python's hmac/hashlib; the key id is 8 hex digits of SHA-256(key).
void test_canonical_v3_keyed(void**) {
  const LedgerKeys keys{realm_auth::make_seal_key("ledger-test-key-0123456789abcdefghij")};
  assert_string_equal(keys[0].id.c_str(), "d6219814");
  AuditRow r = first_row();
  r.key_id = keys[0].id;
  assert_string_equal(
      ledger_canonical(r).c_str(),
      "20:realm-auth-ledger/v3,8:d6219814,1:1,27:2025-01-02T03:04:05.123456Z,14:TENANT_CREATED,"
      "5:req-1,6:user-1,8:platform,4:demo,0:,13:tenant.create,10:onboarding,0:,14:tenant "
      "created,23:{\"realm\":\"tenant-demo\"},64:"
      "0000000000000000000000000000000000000000000000000000000000000000,");
  assert_string_equal(ledger_row_hash(r, keys).c_str(),
                      "d1d003d82fd750af3d45b96097c937ca88c1c188c135df7baff15149c4b6dc37");
  // Without its key a keyed row has no hash; another key gives another one.
  assert_string_equal(ledger_row_hash(r).c_str(), "");
  AuditRow other = r;
  const LedgerKeys k2{realm_auth::make_seal_key(std::string(40, 'k'))};
  other.key_id = k2[0].id;
  assert_string_not_equal(ledger_row_hash(other, k2).c_str(), ledger_row_hash(r, keys).c_str());
}

// A keyed chain: valid with its keys (a rotation: old and new key), broken
// without them, by an unkeyed row after a keyed one (a suffix re-hashed by
// someone without the key), and short of an expected (published) head.
void test_keyed_chain(void**) {
  const LedgerKeys old_key{realm_auth::make_seal_key(std::string(32, 'a'))};
  const LedgerKeys new_key{realm_auth::make_seal_key(std::string(32, 'b'))};
  const LedgerKeys both{new_key[0], old_key[0]};
  std::vector<AuditRow> rows = chain(2);  // unkeyed, as before migration 0006
  for (int i = 3; i <= 8; ++i) {
    AuditRow r = first_row();
    r.seq = i;
    r.key_id = (i <= 5 ? old_key : new_key)[0].id;
    r.prev_hash = rows.back().row_hash;
    r.row_hash = ledger_row_hash(r, both);
    rows.push_back(r);
  }
  ChainCheck c = verify_chain(rows, both);
  assert_true(c.ok);
  assert_int_equal(c.rows_checked, 8);
  assert_int_equal(c.keyed_rows, 6);
  c = verify_chain(rows, new_key);  // the old key dropped too early
  assert_false(c.ok);
  assert_int_equal(c.first_broken_seq, 3);

  // Rows 6..8 re-hashed as unkeyed (all the database could compute).
  std::vector<AuditRow> forged = rows;
  for (size_t i = 5; i < forged.size(); ++i) {
    forged[i].key_id.clear();
    forged[i].event.reason = i == 5 ? "nothing happened" : forged[i].event.reason;
    forged[i].prev_hash = forged[i - 1].row_hash;
    forged[i].row_hash = ledger_row_hash(forged[i]);
  }
  c = verify_chain(forged, both);
  assert_false(c.ok);
  assert_int_equal(c.first_broken_seq, 6);
  assert_non_null(strstr(c.why.c_str(), "unkeyed row after keyed rows"));

  // Expected head: the chain must reach seq 8 with its hash.
  ChainVerifier v(both);
  v.expect_head(8, rows.back().row_hash);
  for (size_t i = 0; i < 6; ++i) assert_true(v.feed(rows[i]));
  c = v.finish();
  assert_false(c.ok);
  assert_int_equal(c.first_broken_seq, 7);
  assert_non_null(strstr(c.why.c_str(), "published as its head"));
  ChainVerifier w(both);
  w.expect_head(8, std::string(64, 'f'));
  for (const auto& r : rows) w.feed(r);
  c = w.finish();
  assert_false(c.ok);
  assert_int_equal(c.first_broken_seq, 8);
  ChainVerifier full(both);
  full.expect_head(8, rows.back().row_hash);
  for (const auto& r : rows) assert_true(full.feed(r));
  assert_true(full.finish().ok);
}

void test_canonical_injective(void**) {
  AuditRow a = first_row();
  AuditRow b = first_row();
  a.event.actor_id = "ab";
  a.event.actor_realm = "c";
  b.event.actor_id = "a";
  b.event.actor_realm = "bc";
  assert_string_not_equal(ledger_row_hash(a).c_str(), ledger_row_hash(b).c_str());
  AuditRow c = first_row();
  c.event.reason = "x,1:y";
  AuditRow d = first_row();
  d.event.reason = "x";
  d.event.details_json = "y";
  assert_string_not_equal(ledger_row_hash(c).c_str(), ledger_row_hash(d).c_str());
  // Every field is covered.
  AuditRow base = first_row();
  const std::string h = ledger_row_hash(base);
  std::vector<std::string*> fields = {
      &base.occurred_at,    &base.event.event_type,   &base.event.request_id,
      &base.event.actor_id, &base.event.actor_realm,  &base.event.tenant_id,
      &base.event.action,   &base.event.purpose,      &base.event.decision,
      &base.event.reason,   &base.event.details_json, &base.prev_hash};
  for (std::string* f : fields) {
    std::string saved = *f;
    *f += "x";
    assert_string_not_equal(ledger_row_hash(base).c_str(), h.c_str());
    *f = saved;
  }
  base.seq = 2;
  assert_string_not_equal(ledger_row_hash(base).c_str(), h.c_str());
}

void test_good_chain(void**) {
  ChainCheck c = verify_chain(chain(10));
  assert_true(c.ok);
  assert_int_equal(c.rows_checked, 10);
  assert_int_equal(c.first_broken_seq, 0);
  assert_int_equal(c.head_seq, 10);
  assert_string_equal(c.head_hash.c_str(), chain(10).back().row_hash.c_str());
  ChainCheck empty = verify_chain({});
  assert_true(empty.ok);
  assert_int_equal(empty.rows_checked, 0);
  assert_string_equal(empty.head_hash.c_str(), kGenesisHash);
}

void expect_break(const std::vector<AuditRow>& rows, int64_t seq, const char* why_part,
                  int64_t checked = -1) {
  ChainCheck c = verify_chain(rows);
  assert_false(c.ok);
  assert_int_equal(c.first_broken_seq, seq);
  assert_int_equal(c.rows_checked, checked >= 0 ? checked : seq - 1);
  if (c.why.find(why_part) == std::string::npos) {
    fail_msg("why \"%s\" lacks \"%s\"", c.why.c_str(), why_part);
  }
}

void test_breaks(void**) {
  // Content changed, hash left alone.
  auto rows = chain(10);
  rows[4].event.reason = "nothing to see";
  expect_break(rows, 5, "row 5: content hash mismatch");
  // Content changed and that row's hash recomputed: the next link breaks.
  rows = chain(10);
  rows[4].event.reason = "nothing to see";
  rows[4].row_hash = ledger_row_hash(rows[4]);
  expect_break(rows, 6, "row 6: prev_hash mismatch");
  // A row removed from the middle.
  rows = chain(10);
  rows.erase(rows.begin() + 6);
  expect_break(rows, 8, "gap in seq: expected 7, found 8", 6);
  // The first row removed.
  rows = chain(3);
  rows.erase(rows.begin());
  expect_break(rows, 2, "gap in seq: expected 1, found 2", 0);
  // Two rows swapped.
  rows = chain(5);
  std::swap(rows[1], rows[2]);
  expect_break(rows, 3, "gap in seq: expected 2, found 3", 1);
  // A duplicate seq.
  rows = chain(4);
  rows.insert(rows.begin() + 2, rows[1]);
  expect_break(rows, 2, "seq out of order: expected 3, found 2", 2);
  // The first row must link to genesis.
  rows = chain(2);
  rows[0].prev_hash = std::string(64, 'f');
  rows[0].row_hash = ledger_row_hash(rows[0]);
  expect_break(rows, 1, "row 1: prev_hash mismatch", 0);
  // A forged row appended with a wrong hash.
  rows = chain(3);
  AuditRow forged = rows.back();
  forged.seq = 4;
  forged.prev_hash = rows.back().row_hash;
  forged.row_hash = std::string(64, 'a');
  rows.push_back(forged);
  expect_break(rows, 4, "content hash mismatch");
}

void test_incremental_feed(void**) {
  auto rows = chain(7);
  ChainVerifier v;
  for (const auto& r : rows) assert_true(v.feed(r));
  assert_int_equal(v.result().rows_checked, 7);
  AuditRow bad = rows.back();
  assert_false(v.feed(bad));  // seq 7 again
  assert_false(v.feed(rows.front()));
  assert_int_equal(v.result().first_broken_seq, 7);
}

void test_normalize_event(void**) {
  AuditEvent in;
  in.event_type = "USER_CREATED";
  in.purpose = std::string("p\xff\0q", 4);
  in.details_json =
      "{\"user_id\":\"u1\",\"roles\":[\"officer\"],\"temporary_password\":\"hunter2\","
      "\"client\":{\"Client_Secret\":\"s3cr3t\",\"id\":\"c\"},\"list\":[{\"access_token\":\"t\"}]}";
  AuditEvent out;
  std::string error;
  assert_true(normalize_audit_event(in, out, error));
  assert_string_equal(out.purpose.c_str(), "p\xEF\xBF\xBD\xEF\xBF\xBDq");
  assert_string_equal(out.details_json.c_str(),
                      "{\"user_id\":\"u1\",\"roles\":[\"officer\"],\"temporary_password\":"
                      "\"[REDACTED]\",\"client\":{\"Client_Secret\":\"[REDACTED]\",\"id\":\"c\"},"
                      "\"list\":[{\"access_token\":\"[REDACTED]\"}]}");
  // Untouched details keep their exact text.
  in.details_json = "{ \"user_id\" : \"u1\" }";
  assert_true(normalize_audit_event(in, out, error));
  assert_string_equal(out.details_json.c_str(), "{ \"user_id\" : \"u1\" }");
  in.details_json = "";
  assert_true(normalize_audit_event(in, out, error));
  assert_string_equal(out.details_json.c_str(), "{}");
  for (const char* bad : {"[1]", "\"x\"", "{", "{\"a\":1,\"a\":2}"}) {
    in.details_json = bad;
    assert_false(normalize_audit_event(in, out, error));
  }
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_canonical_vector),
      cmocka_unit_test(test_canonical_v2_incarnation),
      cmocka_unit_test(test_canonical_v3_keyed),
      cmocka_unit_test(test_keyed_chain),
      cmocka_unit_test(test_canonical_injective),
      cmocka_unit_test(test_good_chain),
      cmocka_unit_test(test_breaks),
      cmocka_unit_test(test_incremental_feed),
      cmocka_unit_test(test_normalize_event),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
