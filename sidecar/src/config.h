// realm-sidecar configuration: process environment over an optional
// env-style file (--config, KEY=VALUE lines like conf/stack.env) over
// built-in defaults. Secrets are never values here, only paths to files
// (provisioner secret, AES key), so `config` can be printed safely.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "keycloak/realm_spec.h"
#include "redis_client.h"

namespace realm_sidecar {

struct Config {
  // HTTP listener (loopback only).
  std::string listen_host = "127.0.0.1";
  int listen_port = 8081;
  unsigned threads = 4;
  size_t max_body = 65536;

  // Keycloak: base URL (issuers are <keycloak_url>/realms/<realm>) and the
  // master-realm provisioning client.
  std::string keycloak_url = "http://localhost:8080";
  std::string provisioner_client_id = "realm-provisioner";
  std::string provisioner_secret_file;
  long keycloak_timeout_ms = 30000;  // realm creation takes seconds

  // PostgreSQL (libpq conninfo or URI; the password comes from PGPASSFILE).
  std::string database_url = "host=127.0.0.1 port=25432 dbname=realm_auth user=realm_auth";
  int pg_pool_size = 8;
  std::string migrations_dir;

  std::string secret_key_file;  // 32-byte AES-256-GCM key (raw or base64)

  // The audit ledger's HMAC key (AUDIT_HMAC_KEY_FILE, at least 32 bytes,
  // never in the database; required by serve) and keys of earlier rows
  // still accepted by verify (AUDIT_HMAC_PREVIOUS_KEY_FILES, space or comma
  // separated). AUDIT_HEAD_FILE: where the chain head is published, every
  // AUDIT_HEAD_INTERVAL seconds (docs/GOVERNANCE.md §4).
  std::string audit_hmac_key_file;
  std::vector<std::string> audit_hmac_previous_key_files;
  std::string audit_head_file;
  long audit_head_interval_s = 5;

  // Token re-verification.
  std::vector<std::string> allowed_issuers;  // default: platform + tenant-*
  // At least one must be in `aud`; cannot be switched off (an empty
  // REALM_SIDECAR_AUDIENCES keeps the default).
  std::vector<std::string> audiences = {"realm-sidecar"};
  long jwks_ttl_s = 300;
  long leeway_s = 30;

  std::string policy_url;  // empty = built-in rules
  long policy_timeout_ms = 2000;

  // Redis: tenant state for the module, shared JWKS tier. Empty host = off.
  std::string redis_host = "127.0.0.1";
  int redis_port = 6379;
  std::string redis_prefix = "realm_auth:";
  int redis_timeout_ms = 200;
  std::string redis_user;           // ACL user (REDIS_USER); empty = default user
  std::string redis_password_file;  // REDIS_PASSWORD_FILE; empty = no AUTH
  // The fleet's HMAC key sealing every value in Redis (docs/REDIS_TRUST.md),
  // required with Redis on; the previous key is accepted during a rotation.
  std::string redis_hmac_key_file;
  std::string redis_hmac_previous_key_file;
  // Redis Sentinel (REDIS_SENTINELS host:port,... + REDIS_MASTER): the
  // master is discovered through these and followed across a failover
  // (core's RedisClient); REDIS_HOST/REDIS_PORT are then unused.
  std::vector<realm_auth::RedisAddress> redis_sentinels;
  std::string redis_master;
  std::string redis_sentinel_user;           // REDIS_SENTINEL_USER
  std::string redis_sentinel_password_file;  // REDIS_SENTINEL_PASSWORD_FILE

  // Whether the sidecar uses Redis at all (a host or sentinels).
  bool redis_on() const { return !redis_host.empty() || !redis_sentinels.empty(); }

  // Realm spec knobs for new tenants.
  std::vector<std::string> console_redirect_uris = {"http://localhost:8000/*",
                                                    "http://localhost:3000/*"};

  // Peers whose X-Real-IP / X-Request-Id are believed (the nginx in front).
  std::vector<std::string> trusted_proxies = {"127.0.0.1"};

  // Per-actor token bucket in front of every governed call (ledger writer):
  // `rate_burst` calls at once, refilled at `rate_per_minute`; at most
  // `rate_actors_max` actors tracked (least recently seen evicted).
  long rate_burst = 60;
  long rate_per_minute = 300;
  long rate_actors_max = 10000;

  long reconcile_interval_s = 60;  // background reconcile in `serve`; 0 = off
  // How often `serve` removes the signing keys whose retirement grace
  // period ended (KEY_REMOVAL_INTERVAL, 1-3600 s): a key leaves the JWKS at
  // most this long after its removal time.
  long key_removal_interval_s = 5;
  // A deleted slug cannot be created again for this long: longer than
  // every nginx's auth_realm_tenant_state_interval + Redis timeout, or, for
  // an nginx without Redis, than a token's life + leeway and
  // auth_realm_jwks_ttl + auth_realm_jwks_stale.
  long slug_quarantine_s = 15;

  // Revocation (issue 9). Where Keycloak POSTs back-channel logout tokens,
  // through nginx: tenant <slug> gets <base>/<slug> on its admin-console
  // (empty = no back-channel logout; the start log says so).
  std::string backchannel_logout_base;
  // The longest access-token lifetime of tenant realms, for how long a
  // revocation record is kept; at least the realm spec's
  // (kAccessTokenLifespanS), raised when an operator lengthened it by hand.
  long revocation_token_lifetime_s = kAccessTokenLifespanS;
  // How old (iat) a logout token may be: Keycloak sends it at once.
  long logout_token_max_age_s = 120;
};

// Parses KEY=VALUE lines (blank lines and '#' comments skipped, optional
// surrounding quotes, no expansion). False with `error` naming the line.
bool parse_env_text(const std::string& text, std::map<std::string, std::string>& out,
                    std::string& error);

// Builds the config from `vars` (already merged: environment wins) plus
// defaults that depend on the repository root (`repo_root`, may be empty).
// False with `error` naming the variable on a bad value.
bool config_from_vars(const std::map<std::string, std::string>& vars, const std::string& repo_root,
                      Config& out, std::string& error);

// Reads `config_file` (may be empty) and the process environment, then
// config_from_vars. The repository root is derived from the executable's
// location (<repo>/build/bin/realm-sidecar) when it holds a migrations dir.
bool load_config(const std::string& config_file, Config& out, std::string& error);

// The Redis endpoint of `c` with its password and HMAC keys read from their
// files. False with `error` (naming the file, never its content).
bool load_redis_endpoint(const Config& c, realm_auth::RedisEndpoint& out, std::string& error);

// The ledger keys of `c` (current first) read from their files. False with
// `error` naming the file, never its content.
bool load_ledger_keys(const Config& c, realm_auth::SealKeys& out, std::string& error);

// Human-readable dump for `realm-sidecar config` and the start log: paths
// and URLs only, never secrets (there are none in Config).
std::string describe(const Config& c);

}  // namespace realm_sidecar
