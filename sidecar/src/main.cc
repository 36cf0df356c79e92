// realm-sidecar: the provisioning daemon behind nginx, and its operator
// commands. See `realm-sidecar --help`.
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "api/app.h"
#include "config.h"
#include "crypto/secret_box.h"
#include "governance/pg_audit_ledger.h"
#include "health/probes.h"
#include "http/server.h"
#include "http_fetch.h"
#include "provisioning/crash_recovery.h"
#include "revocation/backchannel_logout.h"
#include "revocation/pg_revocation_publisher.h"
#include "store/migrate.h"
#include "util/guard.h"
#include "util/json_helpers.h"

using namespace realm_sidecar;

namespace {

const char kUsage[] =
    "usage: realm-sidecar [--config FILE] [--migrations DIR] COMMAND\n"
    "\n"
    "commands:\n"
    "  serve                    run the HTTP API (loopback only) until SIGTERM/SIGINT\n"
    "  migrate                  apply migrations/NNNN_*.sql not applied yet (idempotent)\n"
    "  reconcile                finish or roll back tenants left mid-provisioning,\n"
    "                           settle creates a crashed sidecar left (outcome to\n"
    "                           the ledger),\n"
    "                           bring existing realms up to the current realm spec,\n"
    "                           republish tenant states to Redis, repair drift from\n"
    "                           the realm spec; prints what it cannot repair\n"
    "  reconcile --check        report drift between PostgreSQL and Keycloak, change\n"
    "                           nothing; exit 1 when there is drift\n"
    "  audit verify             recompute the audit ledger's keyed chain and check it\n"
    "                           reaches the head last published (AUDIT_HEAD_FILE)\n"
    "  audit publish            publish the ledger's current head once (serve does it\n"
    "                           every AUDIT_HEAD_INTERVAL seconds)\n"
    "  audit tail [--tenant ID] [--limit N]\n"
    "                           print the newest ledger rows as JSON lines\n"
    "  config                   print the effective configuration (no secrets)\n"
    "\n"
    "configuration: environment variables, over KEY=VALUE lines of --config FILE:\n"
    "  REALM_SIDECAR_LISTEN (127.0.0.1:8081)  REALM_SIDECAR_THREADS (4)\n"
    "  KEYCLOAK_URL (http://localhost:8080)   PROVISIONER_CLIENT_ID, PROVISIONER_SECRET_FILE\n"
    "  DATABASE_URL (libpq conninfo; password via PGPASSFILE)  PG_POOL_SIZE\n"
    "  SECRET_KEY_FILE (32-byte AES key)      ALLOWED_ISSUERS (platform + tenant-*)\n"
    "  AUDIT_HMAC_KEY_FILE (ledger key, >= 32 bytes)  AUDIT_HMAC_PREVIOUS_KEY_FILES\n"
    "  AUDIT_HEAD_FILE (<repo>/.state/sidecar/ledger-head; empty = off)  AUDIT_HEAD_INTERVAL (5 "
    "s)\n"
    "  REALM_SIDECAR_AUDIENCES (realm-sidecar; always checked)  REALM_SIDECAR_TRUSTED_PROXY\n"
    "  (127.0.0.1: peers whose X-Real-IP/X-Request-Id are believed)\n"
    "  REALM_SIDECAR_RATE_BURST (60) REALM_SIDECAR_RATE_PER_MINUTE (300) "
    "REALM_SIDECAR_RATE_ACTORS\n"
    "  POLICY_URL (empty = built-in rules)  POLICY_TIMEOUT_MS\n"
    "  REDIS_HOST REDIS_PORT REDIS_PREFIX (empty REDIS_HOST = off)\n"
    "  REDIS_USER REDIS_PASSWORD_FILE (ACL login)  REDIS_HMAC_KEY_FILE (required with Redis)\n"
    "  REDIS_HMAC_PREVIOUS_KEY_FILE (accepted during a key rotation)\n"
    "  REDIS_SENTINELS REDIS_MASTER (Sentinel: host:port,... and the master's name)\n"
    "  REDIS_SENTINEL_USER REDIS_SENTINEL_PASSWORD_FILE (login to the sentinels)\n"
    "  REALM_SIDECAR_MIGRATIONS (<repo>/migrations)  RECONCILE_INTERVAL (60 s)\n"
    "  KEY_REMOVAL_INTERVAL (5 s: removal of retired signing keys past their grace)\n"
    "  TENANT_CONSOLE_REDIRECT_URIS  TENANT_CONSOLE_PASSWORD_GRANT (local stack only)\n"
    "  TENANT_SLUG_QUARANTINE (15 s: a deleted slug cannot be created again sooner)\n"
    "  BACKCHANNEL_LOGOUT_BASE_URL (empty = off; <base>/<slug> on each admin-console)\n"
    "  REVOCATION_TOKEN_LIFETIME (300 s, never below the realm spec's)  LOGOUT_TOKEN_MAX_AGE (120 "
    "s)\n";

void log_reconcile(const ReconcileReport& r) {
  std::fprintf(stderr,
               "realm-sidecar: reconcile: finished=%d rolled_back=%d deleted=%d skipped=%d "
               "published=%d upgraded=%d recovered=%d\n",
               r.finished, r.rolled_back, r.deleted, r.skipped, r.published, r.upgraded,
               r.recovered);
  for (const auto& u : r.unrepaired)
    std::fprintf(stderr, "realm-sidecar: reconcile: unrepaired: %s\n", u.c_str());
  for (const auto& e : r.errors) std::fprintf(stderr, "realm-sidecar: reconcile: %s\n", e.c_str());
}

// Logs a publication pass: tampering every time it is seen (an operator
// must not miss it), errors once until they change.
void log_head_publication(const HeadPublication& p, std::string& last_error) {
  if (p.status == HeadPublication::kTampered) {
    std::fprintf(stderr, "realm-sidecar: audit head: TAMPERING: %s (head left as published)\n",
                 p.message.c_str());
  } else if (p.status == HeadPublication::kError) {
    if (p.message != last_error) {
      std::fprintf(stderr, "realm-sidecar: audit head: not published: %s\n", p.message.c_str());
    }
    last_error = p.message;
    return;
  }
  last_error.clear();
}

void log_key_removal(const RemovalReport& r) {
  if (r.removed > 0) std::fprintf(stderr, "realm-sidecar: key removal: removed=%d\n", r.removed);
  for (const auto& e : r.errors)
    std::fprintf(stderr, "realm-sidecar: key removal: %s\n", e.c_str());
}

// Everything `serve` and `reconcile` share, built from the config.
struct Runtime {
  std::unique_ptr<PgPool> pg;
  std::unique_ptr<SecretBox> box;
  std::unique_ptr<AdminClient> keycloak;
  std::unique_ptr<TenantStatePublisher> state;
  std::unique_ptr<TenantSaga> saga;
  std::unique_ptr<OwnerLease> lease;  // held by `serve` only
  LedgerKeys ledger_keys;

  bool init(const Config& c, std::string& error) {
    // A request holds at most one connection at a time (saga, ledger and
    // reads borrow and return in turn); one more each for the reconciler
    // and the revocation pass, and two for the key remover (its claim plus
    // its ledger append) keep a full thread pool from ever waiting on them.
    int pool_size = std::max(c.pg_pool_size, static_cast<int>(c.threads) + 4);
    pg = std::make_unique<PgPool>(c.database_url, pool_size);
    if (!SecretBox::load_key_file(c.secret_key_file, box, error)) return false;
    // No key, no ledger rows: an unkeyed row would be one the database's
    // owner can forge.
    if (c.audit_hmac_key_file.empty()) {
      error = "AUDIT_HMAC_KEY_FILE is required (the audit ledger's HMAC key)";
      return false;
    }
    if (!load_ledger_keys(c, ledger_keys, error)) return false;
    lease = std::make_unique<OwnerLease>(c.database_url);
    keycloak = std::make_unique<AdminClient>(c.keycloak_url, c.keycloak_timeout_ms,
                                             c.provisioner_client_id, c.provisioner_secret_file);
    realm_auth::RedisEndpoint redis;
    if (!load_redis_endpoint(c, redis, error)) return false;
    state = std::make_unique<TenantStatePublisher>(std::move(redis), c.redis_on());
    saga = std::make_unique<TenantSaga>(
        SagaConfig{c.keycloak_url, c.console_redirect_uris, c.console_password_grant,
                   c.slug_quarantine_s, c.backchannel_logout_base},
        *pg, *keycloak, *box, *state);
    return true;
  }
};

// A readiness probe waits at most this long for Keycloak (a hung Keycloak
// is "down" after it, not a hung /readyz).
constexpr long kReadyProbeTimeoutMs = 1000;

bool auth_config(const Config& c, AuthConfig& out, std::string& error) {
  if (!parse_issuer_patterns(c.allowed_issuers, out.verifier.issuers, error)) return false;
  out.verifier.claims.leeway_s = c.leeway_s;
  out.verifier.claims.audiences = c.audiences;
  out.source.use_redis = c.redis_on();
  if (!load_redis_endpoint(c, out.source.redis, error)) return false;
  out.source.ttl_ms = c.jwks_ttl_s * 1000;
  out.jwks_ttl = std::chrono::seconds(c.jwks_ttl_s);
  return true;
}

int cmd_serve(const Config& c) {
  std::string error;
  Runtime rt;
  AuthConfig ac;
  if (!rt.init(c, error) || !auth_config(c, ac, error)) {
    std::fprintf(stderr, "realm-sidecar: %s\n", error.c_str());
    return 1;
  }
  // Every tenant token is checked against its tenant's row (state and
  // incarnation) in PostgreSQL, the source of truth: one indexed read per
  // tenant request (governed calls write the ledger anyway).
  PgPool& pg = *rt.pg;
  RequestAuthenticator::TenantLookup tenant_lookup = [&pg](const std::string& slug,
                                                           realm_auth::TenantRecordValue& out) {
    PgSession s = pg.acquire();
    return s.healthy() && TenantStore::record(s, slug, out) == StoreStatus::kOk;
  };
  RequestAuthenticator auth(ac, nullptr, tenant_lookup);
  PgAuditLedger ledger(*rt.pg, rt.ledger_keys, c.audit_head_file);
  std::unique_ptr<PolicyDecisionPoint> pdp =
      c.policy_url.empty() ? make_builtin_policy()
                           : make_remote_policy(c.policy_url, c.policy_timeout_ms);
  ActorRateLimiter limiter(RateLimitConfig{
      static_cast<double>(c.rate_burst), static_cast<double>(c.rate_per_minute) / 60.0,
      static_cast<size_t>(c.rate_actors_max), std::chrono::seconds(60)});
  // Revocation records: PostgreSQL rows, broadcast through Redis by the
  // publisher's background pass (revocation/pg_revocation_publisher.h).
  RevocationPublisherConfig rc;
  rc.use_redis = c.redis_on();
  rc.token_lifetime_s = c.revocation_token_lifetime_s;
  realm_auth::LogoutTokenRules logout_rules;
  if (!load_redis_endpoint(c, rc.redis, error) ||
      !parse_issuer_patterns(c.allowed_issuers, logout_rules.issuers, error)) {
    std::fprintf(stderr, "realm-sidecar: %s\n", error.c_str());
    return 1;
  }
  PgRevocationPublisher revocations(*rt.pg, rc);
  PgJtiCache jtis(*rt.pg);
  // Logout tokens name the client the session was at: admin-console, the
  // only tenant client with user sessions (realm_spec.h).
  logout_rules.audiences = {kConsoleClientId};
  logout_rules.max_age_s = c.logout_token_max_age_s;
  logout_rules.leeway_s = c.leeway_s;
  BackchannelLogout backchannel(
      logout_rules, BackchannelDeps{auth, tenant_lookup, jtis, revocations, ledger, nullptr});
  if (c.backchannel_logout_base.empty()) {
    std::fprintf(stderr,
                 "realm-sidecar: BACKCHANNEL_LOGOUT_BASE_URL is empty: tenant realms are not "
                 "told where to send logouts, so a session ended in Keycloak keeps its access "
                 "tokens until they expire\n");
  }
  App app{auth,     Governance{ledger, *pdp, &limiter},
          *rt.saga, *rt.keycloak,
          *rt.pg,   revocations,
          &limiter, &backchannel};
  SigningKeys signing_keys(*rt.pg, *rt.keycloak, rt.state.get());
  app.keys = &signing_keys;
  // Provisioning attempts are recorded under this process's lease; a
  // lease not held now (PostgreSQL down) is taken again by the reconciler
  // pass or the next create.
  if (!rt.lease->hold(error)) std::fprintf(stderr, "realm-sidecar: %s\n", error.c_str());
  app.lease = rt.lease.get();
  CrashRecovery recovery(*rt.pg, *rt.keycloak, ledger);
  // GET /readyz: what this sidecar needs, by name (health/probes.h).
  std::vector<Dependency> deps{postgres_dependency(c.database_url),
                               keycloak_dependency(c.keycloak_url, kReadyProbeTimeoutMs)};
  if (c.redis_on()) {
    realm_auth::RedisEndpoint redis;
    if (!load_redis_endpoint(c, redis, error)) {
      std::fprintf(stderr, "realm-sidecar: %s\n", error.c_str());
      return 1;
    }
    deps.push_back(redis_dependency(std::move(redis)));
  }
  if (!c.policy_url.empty()) deps.push_back(policy_dependency(*pdp));
  Readiness readiness(std::move(deps));
  app.readiness = &readiness;
  Router router(api_routes(app));

  // Block the stop signals in every thread (MHD's and ours inherit the
  // mask); the main thread then waits for them with sigwait.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  HttpServer server(
      ServerConfig{c.listen_host, c.listen_port, c.threads, c.max_body, 60, c.trusted_proxies},
      [&router](const HttpRequest& r) { return router.dispatch(r); });
  if (!server.start(error)) {
    std::fprintf(stderr, "realm-sidecar: %s\n", error.c_str());
    return 1;
  }
  std::fprintf(stderr, "realm-sidecar: serving: %s\n", describe(c).c_str());
  revocations.start();

  // Settles what a crash left behind, at start and then periodically.
  std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
  std::thread reconciler([&]() {
    std::unique_lock<std::mutex> lock(mu);
    while (!stopping) {
      lock.unlock();
      // A pass that throws is logged and retried at the next interval; an
      // exception leaving a std::thread would abort the daemon.
      guarded(StderrReport{"reconcile"}, [&] {
        ReconcileReport r = rt.saga->reconcile();
        std::string lease_error;
        if (!rt.lease->hold(lease_error)) r.errors.push_back(lease_error);
        recovery.run(r);  // after the saga's own: attempts see settled tenants
        log_reconcile(r);
      });
      lock.lock();
      if (c.reconcile_interval_s == 0) break;
      cv.wait_for(lock, std::chrono::seconds(c.reconcile_interval_s), [&] { return stopping; });
    }
  });

  // Removes retired signing keys whose grace period ended. The schedule is
  // in PostgreSQL: any sidecar's pass takes any due row, one sidecar per
  // row, so a restart or a second sidecar loses or repeats nothing.
  std::thread key_remover([&]() {
    std::unique_lock<std::mutex> lock(mu);
    while (!stopping) {
      lock.unlock();
      guarded(StderrReport{"key removal"},
              [&] { log_key_removal(signing_keys.remove_due(ledger)); });
      lock.lock();
      cv.wait_for(lock, std::chrono::seconds(c.key_removal_interval_s), [&] { return stopping; });
    }
  });

  // Publishes the ledger's head outside PostgreSQL (ledger_head.h), at
  // start, at the interval and once more when stopping.
  std::thread head_publisher;
  if (!c.audit_head_file.empty()) {
    head_publisher = std::thread([&]() {
      std::string last_error;
      std::unique_lock<std::mutex> lock(mu);
      for (;;) {
        const bool last = stopping;
        lock.unlock();
        guarded(StderrReport{"audit head"},
                [&] { log_head_publication(ledger.publish_head(), last_error); });
        lock.lock();
        if (last) break;
        cv.wait_for(lock, std::chrono::seconds(c.audit_head_interval_s), [&] { return stopping; });
      }
    });
  } else {
    std::fprintf(stderr,
                 "realm-sidecar: AUDIT_HEAD_FILE is empty: the ledger's head is not published, "
                 "so rows cut off its tail cannot be detected\n");
  }

  int sig = 0;
  sigwait(&stop_signals, &sig);
  std::fprintf(stderr, "realm-sidecar: %s received, stopping\n", strsignal(sig));
  server.stop();  // finishes in-flight requests
  revocations.stop();
  {
    std::lock_guard<std::mutex> g(mu);
    stopping = true;
  }
  cv.notify_all();
  reconciler.join();
  key_remover.join();
  if (head_publisher.joinable()) head_publisher.join();
  return 0;
}

int cmd_migrate(const Config& c) {
  PgPool pool(c.database_url, 1);
  std::vector<std::string> applied;
  std::string error;
  if (!apply_migrations(pool, c.migrations_dir, applied, error)) {
    std::fprintf(stderr, "realm-sidecar: migrate: %s\n", error.c_str());
    return 1;
  }
  for (const auto& name : applied) std::printf("applied %s\n", name.c_str());
  if (applied.empty()) std::printf("up to date (%s)\n", c.migrations_dir.c_str());
  return 0;
}

// reconcile: exit 0 when every step it tried worked (what it cannot repair
// is printed as "unrepaired:"), 1 otherwise. reconcile --check: changes
// nothing; exit 0 without drift, 1 with drift, 2 when Keycloak or
// PostgreSQL could not be read (the check is incomplete).
int cmd_reconcile(const Config& c, bool check) {
  Runtime rt;
  std::string error;
  if (!rt.init(c, error)) {
    std::fprintf(stderr, "realm-sidecar: %s\n", error.c_str());
    return check ? 2 : 1;
  }
  if (check) {
    std::vector<std::string> errors;
    std::vector<std::string> drift = rt.saga->check_drift(errors);
    PgAuditLedger ledger(*rt.pg, rt.ledger_keys, c.audit_head_file);
    for (auto& d : CrashRecovery(*rt.pg, *rt.keycloak, ledger).unsettled(errors))
      drift.push_back(std::move(d));
    for (const auto& d : drift) std::printf("drift: %s\n", d.c_str());
    for (const auto& e : errors) std::printf("error: %s\n", e.c_str());
    std::printf("%zu drift%s\n", drift.size(), errors.empty() ? "" : " (incomplete: see errors)");
    if (!errors.empty()) return 2;
    return drift.empty() ? 0 : 1;
  }
  ReconcileReport r = rt.saga->reconcile();
  // Attempts of sidecars that are gone get their outcome in the ledger.
  PgAuditLedger ledger(*rt.pg, rt.ledger_keys, c.audit_head_file);
  CrashRecovery(*rt.pg, *rt.keycloak, ledger).run(r);
  std::printf(
      "finished=%d rolled_back=%d deleted=%d skipped=%d published=%d upgraded=%d recovered=%d\n",
      r.finished, r.rolled_back, r.deleted, r.skipped, r.published, r.upgraded, r.recovered);
  for (const auto& t : r.settled)
    std::printf("settled: %s: %s\n", t.first.c_str(), t.second.c_str());
  for (const auto& u : r.unrepaired) std::printf("unrepaired: %s\n", u.c_str());
  for (const auto& e : r.errors) std::printf("error: %s\n", e.c_str());
  return r.errors.empty() ? 0 : 1;
}

int cmd_audit(const Config& c, const std::vector<std::string>& args) {
  LedgerKeys keys;
  std::string error;
  if (!load_ledger_keys(c, keys, error)) {
    std::fprintf(stderr, "realm-sidecar: audit: %s\n", error.c_str());
    return 2;
  }
  PgPool pool(c.database_url, 1);
  PgAuditLedger ledger(pool, keys, c.audit_head_file);
  if (args.size() == 1 && args[0] == "verify") {
    ChainCheck check;
    LedgerHead head;
    std::string db_error;
    if (!ledger.verify_chain(check, db_error, &head)) {
      std::fprintf(stderr, "realm-sidecar: audit verify: %s\n", db_error.c_str());
      return 2;
    }
    if (check.ok) {
      std::printf("ok: %lld rows, chain intact (%lld keyed); head seq %lld %s\n",
                  static_cast<long long>(check.rows_checked),
                  static_cast<long long>(check.keyed_rows), static_cast<long long>(check.head_seq),
                  head.seq > 0
                      ? ("reaches the published head seq " + std::to_string(head.seq)).c_str()
                      : "(no published head checked: AUDIT_HEAD_FILE is empty)");
      return 0;
    }
    std::printf("BROKEN at seq %lld (%lld rows checked): %s\n",
                static_cast<long long>(check.first_broken_seq),
                static_cast<long long>(check.rows_checked), check.why.c_str());
    return 1;
  }
  if (args.size() == 1 && args[0] == "publish") {
    HeadPublication p = ledger.publish_head();
    switch (p.status) {
      case HeadPublication::kPublished:
      case HeadPublication::kUnchanged:
        std::printf("%s: seq %lld row_hash %s\n",
                    p.status == HeadPublication::kPublished ? "published" : "unchanged",
                    static_cast<long long>(p.head.seq), p.head.row_hash.c_str());
        return 0;
      case HeadPublication::kEmpty:
        std::printf("empty ledger: nothing to publish\n");
        return 0;
      case HeadPublication::kTampered:
        std::printf("TAMPERING: %s (head left as published)\n", p.message.c_str());
        return 1;
      case HeadPublication::kError:
        break;
    }
    std::fprintf(stderr, "realm-sidecar: audit publish: %s\n", p.message.c_str());
    return 2;
  }
  AuditLedger& l = ledger;  // the interface is the contract
  if (!args.empty() && args[0] == "tail") {
    std::string tenant;
    long limit = 20;
    for (size_t i = 1; i < args.size(); i++) {
      if (args[i] == "--tenant" && i + 1 < args.size()) {
        tenant = args[++i];
      } else if (args[i] == "--limit" && i + 1 < args.size()) {
        limit = std::strtol(args[++i].c_str(), nullptr, 10);
      } else {
        std::fprintf(stderr, "%s", kUsage);
        return 2;
      }
    }
    if (limit <= 0 || limit > 100000) limit = 20;
    std::vector<AuditRow> rows;
    if (!l.tail(tenant, "", static_cast<int>(limit), rows)) {
      std::fprintf(stderr, "realm-sidecar: audit tail: the ledger could not be read\n");
      return 1;
    }
    for (const AuditRow& r : rows) {
      JsonPtr j = audit_row_json(r);
      std::printf("%s\n", json_text(j.get()).c_str());
    }
    return 0;
  }
  std::fprintf(stderr, "%s", kUsage);
  return 2;
}

int run(int argc, char** argv) {
  std::string config_file, migrations;
  std::vector<std::string> args;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::printf("%s", kUsage);
      return 0;
    } else if (a == "--config" && i + 1 < argc) {
      config_file = argv[++i];
    } else if (a == "--migrations" && i + 1 < argc) {
      migrations = argv[++i];
    } else {
      args.push_back(a);
    }
  }
  if (args.empty()) {
    std::fprintf(stderr, "%s", kUsage);
    return 2;
  }
  Config c;
  std::string error;
  if (!load_config(config_file, c, error)) {
    std::fprintf(stderr, "realm-sidecar: config: %s\n", error.c_str());
    return 2;
  }
  if (!migrations.empty()) c.migrations_dir = migrations;
  if (!realm_auth::http_fetch_global_init()) {  // curl_global_init before any thread
    std::fprintf(stderr, "realm-sidecar: libcurl could not be initialised\n");
    return 1;
  }

  const std::string cmd = args[0];
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (cmd == "serve" && rest.empty()) return cmd_serve(c);
  if (cmd == "migrate" && rest.empty()) return cmd_migrate(c);
  if (cmd == "reconcile" && rest.empty()) return cmd_reconcile(c, false);
  if (cmd == "reconcile" && rest.size() == 1 && rest[0] == "--check") return cmd_reconcile(c, true);
  if (cmd == "audit") return cmd_audit(c, rest);
  if (cmd == "config" && rest.empty()) {
    std::printf("%s\n", describe(c).c_str());
    return 0;
  }
  std::fprintf(stderr, "%s", kUsage);
  return 2;
}

}  // namespace

// An exception that escaped a command is logged and exits 70 (EX_SOFTWARE),
// instead of std::terminate's abort.
int main(int argc, char** argv) {
  return guarded(StderrReport{"command"}, 70, [&] { return run(argc, argv); });
}
