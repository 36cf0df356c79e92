#include "config.h"

#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <fstream>
#include <sstream>

extern char** environ;

namespace realm_sidecar {

namespace {

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

// Comma- or whitespace-separated list, empty items dropped.
std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == ',' || c == ' ' || c == '\t' || c == '\n') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

bool parse_long(const std::string& name, const std::string& v, long min, long max, long& out,
                std::string& error) {
  errno = 0;
  char* end = nullptr;
  long n = std::strtol(v.c_str(), &end, 10);
  if (v.empty() || errno != 0 || *end != '\0' || n < min || n > max) {
    error = name + "=" + v + ": expected an integer between " + std::to_string(min) + " and " +
            std::to_string(max);
    return false;
  }
  out = n;
  return true;
}

bool parse_bool(const std::string& name, const std::string& v, bool& out, std::string& error) {
  if (v == "1" || v == "true" || v == "yes" || v == "on") {
    out = true;
    return true;
  }
  if (v == "0" || v == "false" || v == "no" || v == "off" || v.empty()) {
    out = false;
    return true;
  }
  error = name + "=" + v + ": expected true or false";
  return false;
}

// "host:port" with a numeric port.
bool parse_host_port(const std::string& name, const std::string& v, std::string& host, int& port,
                     std::string& error) {
  size_t colon = v.rfind(':');
  long p = 0;
  if (colon == std::string::npos || colon == 0 ||
      !parse_long(name, v.substr(colon + 1), 1, 65535, p, error)) {
    error = name + "=" + v + ": expected host:port";
    return false;
  }
  host = v.substr(0, colon);
  port = static_cast<int>(p);
  return true;
}

std::string strip_slash(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

// <repo> when the executable sits in <repo>/build/bin (or deeper build
// trees such as <repo>/build/asan/bin); empty when that guess finds no
// migrations/ directory.
std::string guess_repo_root() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "";
  std::string dir(buf, static_cast<size_t>(n));
  for (int up = 0; up < 5; up++) {
    size_t slash = dir.rfind('/');
    if (slash == std::string::npos || slash == 0) break;
    dir.resize(slash);
    if (access((dir + "/migrations").c_str(), R_OK) == 0) return dir;
  }
  return "";
}

}  // namespace

bool parse_env_text(const std::string& text, std::map<std::string, std::string>& out,
                    std::string& error) {
  std::istringstream in(text);
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    lineno++;
    std::string t = trim(line);
    if (t.empty() || t[0] == '#') continue;
    if (t.compare(0, 7, "export ") == 0) t = trim(t.substr(7));
    size_t eq = t.find('=');
    std::string key = eq == std::string::npos ? "" : trim(t.substr(0, eq));
    bool key_ok = !key.empty() && !std::isdigit(static_cast<unsigned char>(key[0]));
    for (char c : key) key_ok &= std::isalnum(static_cast<unsigned char>(c)) || c == '_';
    if (!key_ok) {
      error = "line " + std::to_string(lineno) + ": expected KEY=VALUE";
      return false;
    }
    std::string value = trim(t.substr(eq + 1));
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
        value.back() == value.front()) {
      value = value.substr(1, value.size() - 2);
    }
    out[key] = value;
  }
  return true;
}

bool config_from_vars(const std::map<std::string, std::string>& vars, const std::string& repo_root,
                      Config& c, std::string& error) {
  auto has = [&](const char* k) { return vars.count(k) != 0 && !vars.at(k).empty(); };
  auto get = [&](const char* k) { return has(k) ? vars.at(k) : std::string(); };
  long n = 0;

  if (has("REALM_SIDECAR_LISTEN") &&
      !parse_host_port("REALM_SIDECAR_LISTEN", get("REALM_SIDECAR_LISTEN"), c.listen_host,
                       c.listen_port, error)) {
    return false;
  }
  if (has("REALM_SIDECAR_THREADS")) {
    if (!parse_long("REALM_SIDECAR_THREADS", get("REALM_SIDECAR_THREADS"), 1, 64, n, error))
      return false;
    c.threads = static_cast<unsigned>(n);
  }
  if (has("REALM_SIDECAR_MAX_BODY")) {
    if (!parse_long("REALM_SIDECAR_MAX_BODY", get("REALM_SIDECAR_MAX_BODY"), 1024, 1 << 24, n,
                    error))
      return false;
    c.max_body = static_cast<size_t>(n);
  }
  if (has("KEYCLOAK_URL")) c.keycloak_url = strip_slash(get("KEYCLOAK_URL"));
  if (c.keycloak_url.compare(0, 7, "http://") != 0 &&
      c.keycloak_url.compare(0, 8, "https://") != 0) {
    error = "KEYCLOAK_URL=" + c.keycloak_url + ": expected an http(s) URL";
    return false;
  }
  if (has("PROVISIONER_CLIENT_ID")) c.provisioner_client_id = get("PROVISIONER_CLIENT_ID");
  c.provisioner_secret_file = has("PROVISIONER_SECRET_FILE") ? get("PROVISIONER_SECRET_FILE")
                              : repo_root.empty()
                                  ? ""
                                  : repo_root + "/.state/secrets/provisioner.secret";
  if (has("KEYCLOAK_TIMEOUT_MS") && !parse_long("KEYCLOAK_TIMEOUT_MS", get("KEYCLOAK_TIMEOUT_MS"),
                                                100, 600000, c.keycloak_timeout_ms, error)) {
    return false;
  }
  if (has("DATABASE_URL")) c.database_url = get("DATABASE_URL");
  if (has("PG_POOL_SIZE")) {
    if (!parse_long("PG_POOL_SIZE", get("PG_POOL_SIZE"), 1, 256, n, error)) return false;
    c.pg_pool_size = static_cast<int>(n);
  }
  c.migrations_dir = has("REALM_SIDECAR_MIGRATIONS") ? get("REALM_SIDECAR_MIGRATIONS")
                     : repo_root.empty()             ? "migrations"
                                                     : repo_root + "/migrations";
  c.secret_key_file = has("SECRET_KEY_FILE") ? get("SECRET_KEY_FILE")
                      : repo_root.empty()    ? ""
                                             : repo_root + "/.state/secrets/sidecar-aes.key";
  c.audit_hmac_key_file = has("AUDIT_HMAC_KEY_FILE") ? get("AUDIT_HMAC_KEY_FILE")
                          : repo_root.empty()        ? ""
                                              : repo_root + "/.state/secrets/ledger-hmac.key";
  c.audit_hmac_previous_key_files = split_list(get("AUDIT_HMAC_PREVIOUS_KEY_FILES"));
  // "" (set explicitly) = no published head: verify then cannot see a
  // cut-off tail, and says so.
  c.audit_head_file = vars.count("AUDIT_HEAD_FILE") != 0 ? vars.at("AUDIT_HEAD_FILE")
                      : repo_root.empty()                ? ""
                                          : repo_root + "/.state/sidecar/ledger-head";
  if (has("AUDIT_HEAD_INTERVAL") && !parse_long("AUDIT_HEAD_INTERVAL", get("AUDIT_HEAD_INTERVAL"),
                                                1, 3600, c.audit_head_interval_s, error)) {
    return false;
  }

  c.allowed_issuers = has("ALLOWED_ISSUERS")
                          ? split_list(get("ALLOWED_ISSUERS"))
                          : std::vector<std::string>{c.keycloak_url + "/realms/platform",
                                                     c.keycloak_url + "/realms/tenant-*"};
  if (has("REALM_SIDECAR_AUDIENCES")) {
    std::vector<std::string> aud = split_list(get("REALM_SIDECAR_AUDIENCES"));
    if (!aud.empty()) c.audiences = aud;
  }
  if (has("REALM_SIDECAR_TRUSTED_PROXY")) {
    c.trusted_proxies = split_list(get("REALM_SIDECAR_TRUSTED_PROXY"));
  }
  if (has("REALM_SIDECAR_RATE_BURST") &&
      !parse_long("REALM_SIDECAR_RATE_BURST", get("REALM_SIDECAR_RATE_BURST"), 1, 100000,
                  c.rate_burst, error))
    return false;
  if (has("REALM_SIDECAR_RATE_PER_MINUTE") &&
      !parse_long("REALM_SIDECAR_RATE_PER_MINUTE", get("REALM_SIDECAR_RATE_PER_MINUTE"), 1, 6000000,
                  c.rate_per_minute, error))
    return false;
  if (has("REALM_SIDECAR_RATE_ACTORS") &&
      !parse_long("REALM_SIDECAR_RATE_ACTORS", get("REALM_SIDECAR_RATE_ACTORS"), 16, 10000000,
                  c.rate_actors_max, error))
    return false;
  if (has("JWKS_TTL") && !parse_long("JWKS_TTL", get("JWKS_TTL"), 1, 86400, c.jwks_ttl_s, error))
    return false;
  if (has("TOKEN_LEEWAY") &&
      !parse_long("TOKEN_LEEWAY", get("TOKEN_LEEWAY"), 0, 600, c.leeway_s, error))
    return false;

  c.policy_url = get("POLICY_URL");
  if (has("POLICY_TIMEOUT_MS") && !parse_long("POLICY_TIMEOUT_MS", get("POLICY_TIMEOUT_MS"), 10,
                                              60000, c.policy_timeout_ms, error)) {
    return false;
  }

  if (vars.count("REDIS_HOST") != 0) c.redis_host = vars.at("REDIS_HOST");  // "" disables Redis
  if (has("REDIS_PORT")) {
    if (!parse_long("REDIS_PORT", get("REDIS_PORT"), 1, 65535, n, error)) return false;
    c.redis_port = static_cast<int>(n);
  }
  if (vars.count("REDIS_PREFIX") != 0) c.redis_prefix = vars.at("REDIS_PREFIX");
  if (has("REDIS_TIMEOUT_MS")) {
    if (!parse_long("REDIS_TIMEOUT_MS", get("REDIS_TIMEOUT_MS"), 10, 10000, n, error)) return false;
    c.redis_timeout_ms = static_cast<int>(n);
  }
  c.redis_user = get("REDIS_USER");
  c.redis_password_file = get("REDIS_PASSWORD_FILE");
  if (!c.redis_user.empty() && c.redis_password_file.empty()) {
    error = "REDIS_USER needs REDIS_PASSWORD_FILE";
    return false;
  }
  c.redis_hmac_key_file = has("REDIS_HMAC_KEY_FILE") ? get("REDIS_HMAC_KEY_FILE")
                          : repo_root.empty()        ? ""
                                                     : repo_root + "/.state/secrets/redis-hmac.key";
  c.redis_hmac_previous_key_file = get("REDIS_HMAC_PREVIOUS_KEY_FILE");
  if (has("REDIS_SENTINELS") &&
      !realm_auth::parse_redis_addresses(get("REDIS_SENTINELS"), c.redis_sentinels, error)) {
    error = "REDIS_SENTINELS: " + error;
    return false;
  }
  c.redis_master = get("REDIS_MASTER");
  if (c.redis_sentinels.empty() != c.redis_master.empty()) {
    error = c.redis_master.empty() ? "REDIS_SENTINELS needs REDIS_MASTER (the master's name)"
                                   : "REDIS_MASTER needs REDIS_SENTINELS (host:port,...)";
    return false;
  }
  if (!c.redis_master.empty() && !realm_auth::valid_master_name(c.redis_master)) {
    error = "REDIS_MASTER: not a master name (1-64 of A-Z a-z 0-9 . _ -)";
    return false;
  }
  c.redis_sentinel_user = get("REDIS_SENTINEL_USER");
  c.redis_sentinel_password_file = get("REDIS_SENTINEL_PASSWORD_FILE");
  if (!c.redis_sentinel_user.empty() && c.redis_sentinel_password_file.empty()) {
    error = "REDIS_SENTINEL_USER needs REDIS_SENTINEL_PASSWORD_FILE";
    return false;
  }
  if (c.redis_on() && c.redis_hmac_key_file.empty()) {
    error =
        "REDIS_HMAC_KEY_FILE is required with Redis on (REDIS_HOST or REDIS_SENTINELS): values "
        "in Redis are believed only with the fleet's key";
    return false;
  }

  if (has("TENANT_CONSOLE_REDIRECT_URIS"))
    c.console_redirect_uris = split_list(get("TENANT_CONSOLE_REDIRECT_URIS"));
  // The password grant on admin-console is gone (docs/LOGIN.md). A
  // configuration still asking for it is refused, not ignored, so that a
  // deployment relying on it learns why its command-line logins changed.
  if (has("TENANT_CONSOLE_PASSWORD_GRANT")) {
    bool on = false;
    if (!parse_bool("TENANT_CONSOLE_PASSWORD_GRANT", get("TENANT_CONSOLE_PASSWORD_GRANT"), on,
                    error)) {
      return false;
    }
    if (on) {
      error =
          "TENANT_CONSOLE_PASSWORD_GRANT=true is no longer supported: admin-console never allows "
          "the password grant; scripts log in with Authorization Code + PKCE (docs/LOGIN.md)";
      return false;
    }
  }
  if (has("RECONCILE_INTERVAL") && !parse_long("RECONCILE_INTERVAL", get("RECONCILE_INTERVAL"), 0,
                                               86400, c.reconcile_interval_s, error)) {
    return false;
  }
  if (has("KEY_REMOVAL_INTERVAL") &&
      !parse_long("KEY_REMOVAL_INTERVAL", get("KEY_REMOVAL_INTERVAL"), 1, 3600,
                  c.key_removal_interval_s, error)) {
    return false;
  }
  // At least 2 s: the incarnation start is in whole seconds, so a slug
  // created again within the second of its deletion could share it.
  if (has("TENANT_SLUG_QUARANTINE") &&
      !parse_long("TENANT_SLUG_QUARANTINE", get("TENANT_SLUG_QUARANTINE"), 2, 86400 * 30,
                  c.slug_quarantine_s, error)) {
    return false;
  }
  c.backchannel_logout_base = get("BACKCHANNEL_LOGOUT_BASE_URL");
  while (!c.backchannel_logout_base.empty() && c.backchannel_logout_base.back() == '/')
    c.backchannel_logout_base.pop_back();
  if (!c.backchannel_logout_base.empty() && c.backchannel_logout_base.rfind("http://", 0) != 0 &&
      c.backchannel_logout_base.rfind("https://", 0) != 0) {
    error = "BACKCHANNEL_LOGOUT_BASE_URL must be an http(s) URL";
    return false;
  }
  // Never below the realm spec's lifespan: a shorter record would let a
  // revoked token pass again before it expires.
  if (has("REVOCATION_TOKEN_LIFETIME") &&
      !parse_long("REVOCATION_TOKEN_LIFETIME", get("REVOCATION_TOKEN_LIFETIME"),
                  kAccessTokenLifespanS, 86400 * 30, c.revocation_token_lifetime_s, error)) {
    return false;
  }
  if (has("LOGOUT_TOKEN_MAX_AGE") &&
      !parse_long("LOGOUT_TOKEN_MAX_AGE", get("LOGOUT_TOKEN_MAX_AGE"), 10, 3600,
                  c.logout_token_max_age_s, error)) {
    return false;
  }
  return true;
}

bool load_config(const std::string& config_file, Config& out, std::string& error) {
  std::map<std::string, std::string> vars;
  if (!config_file.empty()) {
    std::ifstream f(config_file);
    if (!f) {
      error = "cannot read config file " + config_file;
      return false;
    }
    std::stringstream ss;
    ss << f.rdbuf();
    if (!parse_env_text(ss.str(), vars, error)) {
      error = config_file + ": " + error;
      return false;
    }
  }
  // The environment wins over the file, as for conf/stack.env.
  for (char** e = environ; *e != nullptr; e++) {
    std::string kv(*e);
    size_t eq = kv.find('=');
    if (eq != std::string::npos) vars[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return config_from_vars(vars, guess_repo_root(), out, error);
}

namespace {

// Where Redis is (no secrets yet).
realm_auth::RedisEndpoint redis_address(const Config& c) {
  realm_auth::RedisEndpoint ep;
  ep.host = c.redis_host;
  ep.port = c.redis_port;
  ep.prefix = c.redis_prefix;
  ep.timeout_ms = c.redis_timeout_ms;
  ep.user = c.redis_user;
  ep.sentinels = c.redis_sentinels;
  ep.master_name = c.redis_master;
  ep.sentinel_user = c.redis_sentinel_user;
  return ep;
}

}  // namespace

bool load_redis_endpoint(const Config& c, realm_auth::RedisEndpoint& out, std::string& error) {
  realm_auth::RedisEndpoint ep = redis_address(c);
  if (!c.redis_on()) {
    out = std::move(ep);
    return true;
  }
  if (!c.redis_password_file.empty() &&
      !realm_auth::read_secret_file(c.redis_password_file, ep.password, error)) {
    error = "REDIS_PASSWORD_FILE: " + error;
    return false;
  }
  if (!c.redis_sentinel_password_file.empty() &&
      !realm_auth::read_secret_file(c.redis_sentinel_password_file, ep.sentinel_password, error)) {
    error = "REDIS_SENTINEL_PASSWORD_FILE: " + error;
    return false;
  }
  for (const std::string* path : {&c.redis_hmac_key_file, &c.redis_hmac_previous_key_file}) {
    if (path->empty()) continue;
    realm_auth::SealKey key;
    if (!realm_auth::load_seal_key(*path, key, error)) {
      error = "REDIS_HMAC_KEY_FILE: " + error;
      return false;
    }
    ep.seal_keys.push_back(std::move(key));
  }
  out = std::move(ep);
  return true;
}

bool load_ledger_keys(const Config& c, realm_auth::SealKeys& out, std::string& error) {
  realm_auth::SealKeys keys;
  std::vector<std::string> paths;
  if (!c.audit_hmac_key_file.empty()) paths.push_back(c.audit_hmac_key_file);
  for (const auto& p : c.audit_hmac_previous_key_files) paths.push_back(p);
  for (const auto& path : paths) {
    realm_auth::SealKey key;
    if (!realm_auth::load_seal_key(path, key, error)) {
      error = "AUDIT_HMAC_KEY_FILE: " + error;
      return false;
    }
    keys.push_back(std::move(key));
  }
  out = std::move(keys);
  return true;
}

std::string describe(const Config& c) {
  std::ostringstream o;
  o << "listen=" << c.listen_host << ":" << c.listen_port << " threads=" << c.threads
    << " keycloak=" << c.keycloak_url << " provisioner=" << c.provisioner_client_id
    << " policy=" << (c.policy_url.empty() ? "built-in" : c.policy_url) << " redis="
    << (!c.redis_on() ? std::string("off")
                      : realm_auth::describe(redis_address(c)) +
                            (c.redis_user.empty() ? "" : " user=" + c.redis_user))
    << " migrations=" << c.migrations_dir
    << " audit_head=" << (c.audit_head_file.empty() ? "off" : c.audit_head_file) << " every "
    << c.audit_head_interval_s << "s issuers=";
  for (size_t i = 0; i < c.allowed_issuers.size(); i++) o << (i ? "," : "") << c.allowed_issuers[i];
  o << " audiences=";
  for (size_t i = 0; i < c.audiences.size(); i++) o << (i ? "," : "") << c.audiences[i];
  o << " trusted_proxies=";
  for (size_t i = 0; i < c.trusted_proxies.size(); i++) o << (i ? "," : "") << c.trusted_proxies[i];
  o << " rate=" << c.rate_burst << "+" << c.rate_per_minute << "/min";
  o << " backchannel_logout="
    << (c.backchannel_logout_base.empty() ? "off" : c.backchannel_logout_base + "/<slug>")
    << " revocation_lifetime=" << c.revocation_token_lifetime_s << "s";
  return o.str();
}

}  // namespace realm_sidecar
