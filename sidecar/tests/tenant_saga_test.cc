// TenantSaga against a fake Keycloak (AdminApi) and a real PostgreSQL (a
// throwaway cluster made by with_pg_cluster.sh; migrations as an owner, the
// saga as the app role). The fake records every call and fails, or dies
// (throws, as a SIGKILL would end the saga: nothing after that call runs), at
// the Nth one. What must hold:
//   - create: the calls come in order create_realm → client_uuid →
//     client_secret, and nothing else;
//   - a failure at each call: a realm is deleted exactly when it was (or may
//     have been) created — not after a refused connection nor a 409 (a realm
//     that is not ours) — and the row goes; when that delete fails too the
//     row is left 'failed'/'rollback_pending' and reconcile finishes it;
//   - a death at each call: reconcile with a healthy Keycloak then leaves
//     the tenant complete (active with its secret) or without a trace;
//   - reconcile of a settled tenant whose realm matches the spec reads it
//     with three calls (realm, roles, clients) and changes nothing; what
//     differs is repaired once (the reconcile runs over every tenant every
//     RECONCILE_INTERVAL, and each Admin API call of the provisioner costs
//     Keycloak more as realms accumulate: bench/README.md, provisioning);
//   - with the attempt recorded (provisioning_attempts), crash recovery then
//     writes exactly one outcome for it (TENANT_CREATED when complete,
//     PROVISIONING_FAILED when no trace) and drops the attempt, but leaves
//     an attempt whose owner still holds its lease alone.
#include "provisioning/tenant_saga.h"

#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "keycloak/realm_spec.h"
#include "pg_test_db.h"
#include "provisioning/crash_recovery.h"
#include "sidecar_test.h"
#include "store/pg.h"

using namespace realm_sidecar;

namespace {

using pg_test::conninfo;
using pg_test::must;

struct Died : std::runtime_error {
  Died() : std::runtime_error("fake Keycloak: the sidecar died here") {}
};

enum class Fault {
  kNone,
  kRefused,  // connection refused: provably not sent
  kTimeout,  // sent, no answer: may have happened
  kConflict,
  kDie,       // the process ends before this call reaches Keycloak
  kDieAfter,  // the call is done in Keycloak, then the process ends
};

// Keycloak as the saga sees it: one realm set, and a fault at call N.
class FakeKeycloak : public AdminApi {
 public:
  std::vector<std::string> calls;
  std::vector<std::string> realms;  // existing realms
  int fail_at = 0;                  // 1-based; 0 = never
  Fault fault = Fault::kNone;
  // Faults on kinds of call ("delete_realm"), whatever their index.
  std::set<std::string> fail_kinds;
  // Realms that answer as Keycloak would hold them: the representation the
  // realm was created from (the clients with id "uuid-<clientId>").
  std::map<std::string, JsonPtr> spec_of;

  KcResponse call(const ClientCredentials*, const std::string& method, const std::string& path,
                  const json_t*) override {
    KcResponse r;
    if (!next(method + " " + path, r)) return r;
    r.body = method == "GET" ? spec_answer(path) : "";
    if (method == "GET" && r.body.empty()) r.body = "[]";
    return r;
  }
  KcResponse create_realm(const json_t* rep) override {
    const std::string name = json_member_string(rep, "realm");
    KcResponse r;
    const bool existed = has(name);
    bool ok;
    try {
      ok = next("create_realm " + name, r);
    } catch (const Died&) {
      if (fault == Fault::kDieAfter && !existed) add(name);
      throw;
    }
    if (existed && ok) {
      r.error = KcError::kConflict;
      r.status = 409;
      return r;
    }
    // A timeout hides a realm that was created after all.
    if (!existed && (ok || fault == Fault::kTimeout)) add(name);
    return r;
  }
  KcResponse get_realm(const std::string& realm) override {
    KcResponse r;
    if (!next("get_realm " + realm, r)) return r;
    if (!has(realm)) {
      r.error = KcError::kNotFound;
      r.status = 404;
      return r;
    }
    auto spec = spec_of.find(realm);
    r.body = spec != spec_of.end() ? json_text(spec->second.get()) : "{\"enabled\": true}";
    return r;
  }
  KcResponse set_realm_enabled(const std::string& realm, bool) override {
    KcResponse r;
    next("set_realm_enabled " + realm, r);
    return r;
  }
  KcResponse delete_realm(const std::string& realm) override {
    KcResponse r;
    if (!next("delete_realm " + realm, r)) return r;
    if (!has(realm)) {
      r.error = KcError::kNotFound;
      r.status = 404;
      return r;
    }
    for (auto it = realms.begin(); it != realms.end(); ++it) {
      if (*it == realm) {
        realms.erase(it);
        break;
      }
    }
    return r;
  }
  KcResponse client_uuid(const ClientCredentials*, const std::string& realm,
                         const std::string& client_id, std::string& uuid) override {
    KcResponse r;
    if (!next("client_uuid " + realm + " " + client_id, r)) return r;
    uuid = "uuid-" + client_id;
    return r;
  }
  KcResponse client_secret(const ClientCredentials*, const std::string& realm,
                           const std::string& uuid, std::string& secret) override {
    KcResponse r;
    if (!next("client_secret " + realm + " " + uuid, r)) return r;
    secret = "the-secret";
    return r;
  }
  KcResponse regenerate_client_secret(const ClientCredentials*, const std::string& realm,
                                      const std::string& uuid, std::string& secret) override {
    KcResponse r;
    if (!next("regenerate_client_secret " + realm + " " + uuid, r)) return r;
    secret = "a-new-secret";
    return r;
  }
  void forget_token(const std::string&, const std::string&) override {}

  bool has(const std::string& realm) const {
    for (const auto& r : realms)
      if (r == realm) return true;
    return false;
  }

 private:
  void add(const std::string& name) { realms.push_back(name); }
  // GET /<realm>/roles, /clients, /clients/<id>[/protocol-mappers/models]
  // of a realm in spec_of; "" otherwise.
  std::string spec_answer(const std::string& path) const {
    for (const auto& [realm, spec] : spec_of) {
      const std::string base = "/" + realm;
      if (path.rfind(base + "/", 0) != 0) continue;
      const std::string rest = path.substr(base.size());
      if (rest == "/roles")
        return json_text(json_object_get(json_object_get(spec.get(), "roles"), "realm"));
      JsonPtr clients(json_deep_copy(json_object_get(spec.get(), "clients")));
      size_t i;
      json_t* c;
      json_array_foreach(clients.get(), i, c) {
        json_set(c, "id", "uuid-" + json_member_string(c, "clientId"));
      }
      if (rest == "/clients") return json_text(clients.get());
      json_array_foreach(clients.get(), i, c) {
        const std::string one = "/clients/" + json_member_string(c, "id");
        if (rest == one) return json_text(c);
        if (rest == one + "/protocol-mappers/models")
          return json_text(json_object_get(c, "protocolMappers"));
      }
    }
    return "";
  }
  // Records the call; false (with the fault in r) when this one fails.
  bool next(const std::string& what, KcResponse& r) {
    calls.push_back(what);
    const bool hit = static_cast<int>(calls.size()) == fail_at ||
                     fail_kinds.count(what.substr(0, what.find(' '))) > 0;
    r.error = KcError::kOk;
    r.status = 200;
    if (!hit || fault == Fault::kNone) return true;
    switch (fault) {
      case Fault::kDie:
      case Fault::kDieAfter:
        throw Died();
      case Fault::kRefused:
        r.error = KcError::kUnreachable;
        r.status = 0;
        r.not_sent = true;
        break;
      case Fault::kTimeout:
        r.error = KcError::kUnreachable;
        r.status = 0;
        break;
      case Fault::kConflict:
        r.error = KcError::kConflict;
        r.status = 409;
        break;
      case Fault::kNone:
        break;
    }
    return false;
  }
};

struct World {
  // As the local stack's sidecar connects: the tables' owner (the app role
  // may only read tenants).
  PgPool pool{conninfo("saga_owner", "saga"), 4};
  SecretBox box{std::string(SecretBox::kKeySize, 'k')};
  TenantStatePublisher state{realm_auth::RedisEndpoint{}, false};
  FakeKeycloak kc;
  TenantSaga saga{SagaConfig{"http://kc.test", {"http://localhost/*"}, 0, ""}, pool, kc, box,
                  state};
};

// status of the row, "" when there is none.
std::string row_status(World& w, const std::string& slug) {
  PgSession s = w.pool.acquire();
  TenantRow row;
  if (TenantStore::get(s, slug, row) != StoreStatus::kOk) return "";
  return to_string(row.status);
}

bool has_secret(World& w, const std::string& slug) {
  PgSession s = w.pool.acquire();
  std::string sealed;
  return TenantStore::get_secret(s, slug, kServicesClientId, sealed) == StoreStatus::kOk;
}

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& x : v) out += (out.empty() ? "" : " | ") + x;
  return out;
}

void expect_calls(const std::vector<std::string>& got, const std::vector<std::string>& want) {
  if (got != want)
    fail_msg("calls:\n  got  %s\n  want %s", joined(got).c_str(), joined(want).c_str());
}

int g_n = 0;
std::string fresh_slug() { return "saga" + std::to_string(++g_n); }

int setup(void**) { return pg_test::create_migrated_db("saga") ? 0 : -1; }

std::vector<std::string> kCreateCalls(const std::string& slug) {
  return {"create_realm tenant-" + slug, "client_uuid tenant-" + slug + " tenant-services",
          "client_secret tenant-" + slug + " uuid-tenant-services"};
}

void create_in_order(void**) {
  World w;
  const std::string slug = fresh_slug();
  TenantRow out;
  Outcome o = w.saga.create(slug, "Saga", {"ops"}, out);
  assert_int_equal(o.status, 201);
  expect_calls(w.kc.calls, kCreateCalls(slug));
  assert_string_equal(row_status(w, slug).c_str(), "active");
  assert_true(has_secret(w, slug));
  assert_true(w.kc.has("tenant-" + slug));
}

// A failure at each call of the create, each kind of failure.
void failure_at_each_call(void**) {
  for (int at = 1; at <= 3; at++) {
    for (Fault f : {Fault::kRefused, Fault::kTimeout, Fault::kConflict}) {
      World w;
      const std::string slug = fresh_slug();
      w.kc.fail_at = at;
      w.kc.fault = f;
      TenantRow out;
      Outcome o = w.saga.create(slug, "Saga", {}, out);
      assert_false(o.ok());
      const std::vector<std::string> all = kCreateCalls(slug);
      std::vector<std::string> want(all.begin(), all.begin() + at);
      // The realm exists (or may) unless the create itself was refused
      // unsent or answered 409 (someone else's realm): then it is left alone.
      const bool realm_may_exist = at > 1 || f == Fault::kTimeout;
      if (realm_may_exist) want.push_back("delete_realm tenant-" + slug);
      expect_calls(w.kc.calls, want);
      assert_string_equal(row_status(w, slug).c_str(), "");
      assert_false(w.kc.has("tenant-" + slug));
      if (at == 1 && f == Fault::kConflict) assert_int_equal(o.status, 409);
      if (f != Fault::kConflict) assert_int_equal(o.status, 503);
    }
  }
}

// The rollback's own delete fails too: the row says so ('failed', the
// realm still there), and reconcile with Keycloak
// back deletes the realm, then the row.
void rollback_failure_left_to_reconcile(void**) {
  World w;
  const std::string slug = fresh_slug();
  w.kc.fail_kinds = {"client_secret", "delete_realm"};
  w.kc.fault = Fault::kTimeout;
  TenantRow out;
  Outcome o = w.saga.create(slug, "Saga", {}, out);
  assert_int_equal(o.status, 503);
  assert_true(o.detail.find("reconcile") != std::string::npos);
  std::vector<std::string> want = kCreateCalls(slug);
  want.push_back("delete_realm tenant-" + slug);
  expect_calls(w.kc.calls, want);
  assert_string_equal(row_status(w, slug).c_str(), "failed");
  assert_true(w.kc.has("tenant-" + slug));
  w.kc.fail_kinds.clear();
  w.kc.fault = Fault::kNone;
  w.kc.calls.clear();
  ReconcileReport rep = w.saga.reconcile();
  assert_int_equal(rep.rolled_back, 1);
  bool deleted = false;
  for (const auto& c : w.kc.calls) deleted = deleted || c == "delete_realm tenant-" + slug;
  assert_true(deleted);
  assert_false(w.kc.has("tenant-" + slug));
  assert_string_equal(row_status(w, slug).c_str(), "");
}

// The sidecar dies at each call of the create (before the call reaches
// Keycloak, and right after it did): the row is left 'provisioning', and
// reconcile with Keycloak healthy leaves the tenant complete (active, its
// secret stored, the realm there) or without a trace (no row, no realm).
void death_at_each_call_then_reconcile(void**) {
  for (int at = 1; at <= 3; at++) {
    for (Fault f : {Fault::kDie, Fault::kDieAfter}) {
      World w;
      const std::string slug = fresh_slug();
      w.kc.fail_at = at;
      w.kc.fault = f;
      TenantRow out;
      bool died = false;
      try {
        w.saga.create(slug, "Saga", {}, out);
      } catch (const Died&) {
        died = true;
      }
      assert_true(died);
      assert_string_equal(row_status(w, slug).c_str(), "provisioning");
      const bool realm = w.kc.has("tenant-" + slug);
      assert_true(realm == (at > 1 || f == Fault::kDieAfter));
      w.kc.fail_at = 0;
      w.kc.fault = Fault::kNone;
      w.kc.calls.clear();
      w.saga.reconcile();
      for (const auto& c : w.kc.calls) {
        // Reconcile finishes a realm that exists; it never deletes it.
        if (c == "delete_realm tenant-" + slug) fail_msg("at %d: reconcile deleted the realm", at);
      }
      if (realm) {
        assert_string_equal(row_status(w, slug).c_str(), "active");
        assert_true(has_secret(w, slug));
        assert_true(w.kc.has("tenant-" + slug));
      } else {
        assert_string_equal(row_status(w, slug).c_str(), "");
        assert_false(w.kc.has("tenant-" + slug));
      }
    }
  }
}

// Deletion whose realm delete fails: the row stays 'deleting' (tokens
// already refused), and reconcile finishes it.
void delete_failure_left_to_reconcile(void**) {
  World w;
  const std::string slug = fresh_slug();
  TenantRow out;
  assert_int_equal(w.saga.create(slug, "Saga", {}, out).status, 201);
  w.kc.calls.clear();
  w.kc.fail_kinds = {"delete_realm"};
  w.kc.fault = Fault::kTimeout;
  Outcome o = w.saga.remove(slug);
  assert_int_equal(o.status, 503);
  expect_calls(w.kc.calls, {"delete_realm tenant-" + slug});
  assert_string_equal(row_status(w, slug).c_str(), "deleting");
  w.kc.fail_kinds.clear();
  w.kc.fault = Fault::kNone;
  ReconcileReport rep = w.saga.reconcile();
  assert_int_equal(rep.deleted, 1);
  assert_string_equal(row_status(w, slug).c_str(), "");
  assert_false(w.kc.has("tenant-" + slug));
}

// The ledger as crash recovery sees it: appends kept in memory.
class MemoryLedger : public AuditLedger {
 public:
  std::vector<AuditEvent> events;
  bool append(const AuditEvent& e) override {
    events.push_back(e);
    return true;
  }
  bool tail(const std::string&, const std::string&, int, std::vector<AuditRow>&) override {
    return true;
  }
  bool verify(int64_t&, int64_t&, std::string&) override { return true; }
};

int attempts_of(World& w, const std::string& request_id) {
  PgSession s = w.pool.acquire();
  std::vector<Attempt> all;
  assert_true(AttemptStore::list(s, all) == StoreStatus::kOk);
  int n = 0;
  for (const auto& a : all) n += a.ref.request_id == request_id;
  return n;
}

// No session holds this owner's lease: a process that died.
constexpr int32_t kDeadOwner = 4242;

void attempt_death_at_each_call_then_recovery(void**) {
  for (int at = 1; at <= 3; at++) {
    for (Fault f : {Fault::kDie, Fault::kDieAfter}) {
      World w;
      const std::string slug = fresh_slug();
      const AttemptRef ref{"req-" + slug, "operator-id", "platform", "unit test", kDeadOwner};
      w.kc.fail_at = at;
      w.kc.fault = f;
      TenantRow out;
      try {
        w.saga.create(slug, "Saga", {}, out, &ref);
        fail_msg("at %d: the fake did not die", at);
      } catch (const Died&) {
      }
      assert_int_equal(attempts_of(w, ref.request_id), 1);
      w.kc.fail_at = 0;
      w.kc.fault = Fault::kNone;
      MemoryLedger ledger;
      ReconcileReport rep = w.saga.reconcile();
      CrashRecovery(w.pool, w.kc, ledger).run(rep);
      assert_int_equal(rep.recovered, 1);
      assert_int_equal(attempts_of(w, ref.request_id), 0);
      assert_int_equal(ledger.events.size(), 1);
      const AuditEvent& e = ledger.events[0];
      assert_string_equal(e.request_id.c_str(), ref.request_id.c_str());
      assert_string_equal(e.actor_id.c_str(), "operator-id");
      assert_string_equal(e.purpose.c_str(), "unit test");
      assert_string_equal(e.tenant_id.c_str(), slug.c_str());
      const std::string status = row_status(w, slug);
      if (status == "active") {
        assert_string_equal(e.event_type.c_str(), "TENANT_CREATED");
        assert_true(w.kc.has("tenant-" + slug));
      } else {
        assert_string_equal(status.c_str(), "");
        assert_false(w.kc.has("tenant-" + slug));
        assert_string_equal(e.event_type.c_str(), "PROVISIONING_FAILED");
        assert_true(e.reason.find("rolled back") != std::string::npos);
      }
      // A second pass finds nothing left to say.
      ReconcileReport again = w.saga.reconcile();
      CrashRecovery(w.pool, w.kc, ledger).run(again);
      assert_int_equal(ledger.events.size(), 1);
    }
  }
}

// The saga finished but the process died before the ledger's outcome row:
// recovery records TENANT_CREATED once; while the owner lives, nothing.
void finished_but_unrecorded(void**) {
  World w;
  OwnerLease alive(conninfo("saga_owner", "saga"));
  std::string error;
  assert_true(alive.hold(error));
  const std::string slug = fresh_slug();
  AttemptRef ref{"req-" + slug, "operator-id", "platform", "unit test", alive.id()};
  TenantRow out;
  assert_int_equal(w.saga.create(slug, "Saga", {}, out, &ref).status, 201);
  MemoryLedger ledger;
  ReconcileReport rep = w.saga.reconcile();
  CrashRecovery(w.pool, w.kc, ledger).run(rep);
  assert_int_equal(ledger.events.size(), 0);  // its owner may be appending right now
  assert_int_equal(attempts_of(w, ref.request_id), 1);
  // The owner dies (its lease is released with its connection).
  {
    PgSession s = w.pool.acquire();
    assert_true(s.exec("UPDATE provisioning_attempts SET owner = $2::int WHERE request_id = $1",
                       {ref.request_id, std::to_string(kDeadOwner)})
                    .ok);
  }
  CrashRecovery(w.pool, w.kc, ledger).run(rep);
  assert_int_equal(ledger.events.size(), 1);
  assert_string_equal(ledger.events[0].event_type.c_str(), "TENANT_CREATED");
  assert_int_equal(attempts_of(w, ref.request_id), 0);
}

// The calls that name `realm` ("tenant-x", not "tenant-x2").
std::vector<std::string> calls_on(const std::vector<std::string>& calls, const std::string& realm) {
  std::vector<std::string> out;
  for (const auto& c : calls) {
    size_t at = c.find(realm);
    if (at == std::string::npos) continue;
    const size_t end = at + realm.size();
    if (end == c.size() || c[end] == '/' || c[end] == ' ' || c[end] == '?') out.push_back(c);
  }
  return out;
}

// A settled tenant whose realm is as the spec says: reconcile needs the
// realm, its roles and its clients (every difference it repairs is visible
// in those three), nothing more, and changes nothing. Each provisioner call
// costs Keycloak in proportion to the realm count (the provisioner holds
// every tenant realm's admin roles), and reconcile makes these calls for
// every tenant every RECONCILE_INTERVAL.
void reconcile_reads_a_settled_tenant_once(void**) {
  World w;
  const std::string slug = fresh_slug();
  const std::string realm = "tenant-" + slug;
  TenantRow out;
  assert_int_equal(w.saga.create(slug, "Saga", {"ops"}, out).status, 201);
  w.kc.spec_of[realm] = realm_representation(
      RealmSpecInput{slug, "Saga", {"ops"}, {"http://localhost/*"}, "", false});
  w.kc.calls.clear();
  ReconcileReport rep = w.saga.reconcile();
  expect_calls(calls_on(w.kc.calls, realm),
               {"get_realm " + realm, "GET /" + realm + "/roles", "GET /" + realm + "/clients"});
  for (const auto& u : rep.unrepaired)
    if (u.find(slug + ":") == 0) fail_msg("unrepaired: %s", u.c_str());
}

// What differs is repaired, each difference once: a missing mapper of
// admin-console (one POST) and changed security settings (one PUT of the
// realm), in the same pass that read them.
void reconcile_repairs_each_difference_once(void**) {
  World w;
  const std::string slug = fresh_slug();
  const std::string realm = "tenant-" + slug;
  TenantRow out;
  assert_int_equal(w.saga.create(slug, "Saga", {"ops"}, out).status, 201);
  JsonPtr spec = realm_representation(
      RealmSpecInput{slug, "Saga", {"ops"}, {"http://localhost/*"}, "", false});
  json_set(spec.get(), "passwordPolicy", "");
  json_set(spec.get(), "failureFactor", 30LL);
  size_t i;
  json_t* c;
  json_array_foreach(json_object_get(spec.get(), "clients"), i, c) {
    if (json_member_string(c, "clientId") != kConsoleClientId) continue;
    json_t* mappers = json_object_get(c, "protocolMappers");
    size_t j;
    json_t* m;
    json_array_foreach(mappers, j, m) {
      if (json_member_string(m, "name") == kSidecarAudienceMapperName) {
        json_array_remove(mappers, j);
        break;
      }
    }
  }
  w.kc.spec_of[realm] = std::move(spec);
  w.kc.calls.clear();
  ReconcileReport rep = w.saga.reconcile();
  int mapper_posts = 0, realm_puts = 0;
  for (const auto& call : calls_on(w.kc.calls, realm)) {
    if (call == "POST /" + realm + "/clients/uuid-admin-console/protocol-mappers/models")
      mapper_posts++;
    if (call == "PUT /" + realm) realm_puts++;
  }
  if (mapper_posts != 1 || realm_puts != 1)
    fail_msg("mapper POSTs %d, realm PUTs %d (want 1 and 1); calls: %s", mapper_posts, realm_puts,
             joined(calls_on(w.kc.calls, realm)).c_str());
  assert_true(rep.upgraded >= 1);
}

// The periodic reconcile (serve, every RECONCILE_INTERVAL) never lists
// every realm: GET /admin/realms costs Keycloak in proportion to the realm
// count times the provisioner's roles (2.3 s at 100 tenant realms here,
// growing) and only ever yields a report line (a realm no row claims is
// left alone). `realm-sidecar reconcile` (the CLI) still reports them.
void periodic_reconcile_lists_no_realms(void**) {
  World w;
  TenantRow out;
  assert_int_equal(w.saga.create(fresh_slug(), "Saga", {}, out).status, 201);
  w.kc.calls.clear();
  w.saga.reconcile();
  for (const auto& c : w.kc.calls)
    if (c.rfind("GET ?", 0) == 0 || c == "GET ")
      fail_msg("the periodic pass listed realms: %s", c.c_str());
  // The CLI's pass lists them, once.
  w.kc.calls.clear();
  w.saga.reconcile(true);
  int lists = 0;
  for (const auto& c : w.kc.calls) lists += c == "GET ?briefRepresentation=true";
  assert_int_equal(lists, 1);
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(create_in_order),
      cmocka_unit_test(failure_at_each_call),
      cmocka_unit_test(rollback_failure_left_to_reconcile),
      cmocka_unit_test(death_at_each_call_then_reconcile),
      cmocka_unit_test(delete_failure_left_to_reconcile),
      cmocka_unit_test(attempt_death_at_each_call_then_recovery),
      cmocka_unit_test(finished_but_unrecorded),
      cmocka_unit_test(reconcile_reads_a_settled_tenant_once),
      cmocka_unit_test(reconcile_repairs_each_difference_once),
      cmocka_unit_test(periodic_reconcile_lists_no_realms),
  };
  return cmocka_run_group_tests(tests, setup, nullptr);
}
