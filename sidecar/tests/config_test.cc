// config: env-style files and variables → Config.
#include "config.h"

#include <cstring>

#include "sidecar_test.h"

using namespace realm_sidecar;

namespace {

void env_text(void**) {
  std::map<std::string, std::string> v;
  std::string error;
  assert_true(parse_env_text("# comment\n\nA=1\nexport B = two \nC=\"quoted value\"\nD='x'\nE=\n",
                             v, error));
  assert_string_equal(v["A"].c_str(), "1");
  assert_string_equal(v["B"].c_str(), "two");
  assert_string_equal(v["C"].c_str(), "quoted value");
  assert_string_equal(v["D"].c_str(), "x");
  assert_true(v.count("E") == 1 && v["E"].empty());
  assert_false(parse_env_text("A=1\nnot a pair\n", v, error));
  assert_true(error.find("line 2") != std::string::npos);
  assert_false(parse_env_text("1A=x\n", v, error));
}

void defaults(void**) {
  Config c;
  std::string error;
  assert_true(config_from_vars({}, "/repo", c, error));
  assert_string_equal(c.listen_host.c_str(), "127.0.0.1");
  assert_int_equal(c.listen_port, 8081);
  assert_string_equal(c.keycloak_url.c_str(), "http://localhost:8080");
  assert_string_equal(c.migrations_dir.c_str(), "/repo/migrations");
  assert_string_equal(c.provisioner_secret_file.c_str(), "/repo/.state/secrets/provisioner.secret");
  assert_int_equal(c.allowed_issuers.size(), 2);
  assert_string_equal(c.allowed_issuers[0].c_str(), "http://localhost:8080/realms/platform");
  assert_string_equal(c.allowed_issuers[1].c_str(), "http://localhost:8080/realms/tenant-*");
  assert_true(c.policy_url.empty());
}

void values(void**) {
  Config c;
  std::string error;
  assert_true(config_from_vars(
      {{"REALM_SIDECAR_LISTEN", "127.0.0.2:9001"},
       {"KEYCLOAK_URL", "http://kc:8080/"},
       {"ALLOWED_ISSUERS", "http://kc:8080/realms/a, http://kc:8080/realms/tenant-*"},
       {"REDIS_HOST", ""},
       {"REDIS_PORT", "6380"},
       {"POLICY_URL", "http://127.0.0.1:8181/v1/data/x"},
       {"REALM_SIDECAR_MIGRATIONS", "/m"}},
      "", c, error));
  assert_string_equal(c.listen_host.c_str(), "127.0.0.2");
  assert_int_equal(c.listen_port, 9001);
  assert_string_equal(c.keycloak_url.c_str(), "http://kc:8080");  // trailing slash dropped
  assert_int_equal(c.allowed_issuers.size(), 2);
  assert_string_equal(c.allowed_issuers[0].c_str(), "http://kc:8080/realms/a");
  assert_true(c.redis_host.empty());
  assert_int_equal(c.redis_port, 6380);
  assert_string_equal(c.migrations_dir.c_str(), "/m");
}

void bad_values_name_the_variable(void**) {
  Config c;
  std::string error;
  assert_false(config_from_vars({{"REALM_SIDECAR_LISTEN", "127.0.0.1"}}, "", c, error));
  assert_true(error.find("REALM_SIDECAR_LISTEN") != std::string::npos);
  assert_false(config_from_vars({{"REALM_SIDECAR_THREADS", "0"}}, "", c, error));
  assert_true(error.find("REALM_SIDECAR_THREADS") != std::string::npos);
  assert_false(config_from_vars({{"KEYCLOAK_URL", "ftp://x"}}, "", c, error));
  assert_true(error.find("KEYCLOAK_URL") != std::string::npos);
  assert_false(config_from_vars({{"REDIS_PORT", "70000"}}, "", c, error));
  assert_false(config_from_vars({{"TENANT_CONSOLE_PASSWORD_GRANT", "maybe"}}, "", c, error));
}

// The password grant on admin-console is gone (docs/LOGIN.md): a
// configuration still asking for it is refused, naming the setting, rather
// than silently ignored; "false" asks for nothing and is accepted.
void password_grant_setting_is_refused(void**) {
  Config c;
  std::string error;
  assert_false(config_from_vars({{"REDIS_HOST", ""}, {"TENANT_CONSOLE_PASSWORD_GRANT", "true"}}, "",
                                c, error));
  assert_true(error.find("TENANT_CONSOLE_PASSWORD_GRANT") != std::string::npos);
  assert_true(error.find("docs/LOGIN.md") != std::string::npos);
  error.clear();
  assert_true(config_from_vars({{"REDIS_HOST", ""}, {"TENANT_CONSOLE_PASSWORD_GRANT", "false"}}, "",
                               c, error));
}

void describe_has_no_secrets(void**) {
  Config c;
  std::string error;
  assert_true(config_from_vars(
      {{"DATABASE_URL", "postgresql://u:hunter2@h/db"}, {"REDIS_HMAC_KEY_FILE", "/k"}}, "", c,
      error));
  assert_true(describe(c).find("hunter2") == std::string::npos);
}

// Redis on needs the fleet key; a login names its password file.
void redis_trust_settings(void**) {
  Config c;
  std::string error;
  assert_false(config_from_vars({{"REDIS_HOST", "127.0.0.1"}}, "", c, error));
  assert_true(error.find("REDIS_HMAC_KEY_FILE") != std::string::npos);
  assert_true(config_from_vars({{"REDIS_HOST", ""}}, "", c, error));  // Redis off: no key needed
  assert_true(config_from_vars({}, "/repo", c, error));               // the stack's default key
  assert_string_equal(c.redis_hmac_key_file.c_str(), "/repo/.state/secrets/redis-hmac.key");
  assert_false(config_from_vars({{"REDIS_USER", "sidecar"}}, "/repo", c, error));
  assert_true(error.find("REDIS_PASSWORD_FILE") != std::string::npos);
  c = Config{};
  assert_true(config_from_vars({{"REDIS_USER", "sidecar"},
                                {"REDIS_PASSWORD_FILE", "/pw"},
                                {"REDIS_HMAC_KEY_FILE", "/k1"},
                                {"REDIS_HMAC_PREVIOUS_KEY_FILE", "/k0"}},
                               "", c, error));
  assert_string_equal(c.redis_user.c_str(), "sidecar");
  assert_string_equal(c.redis_password_file.c_str(), "/pw");
  assert_string_equal(c.redis_hmac_previous_key_file.c_str(), "/k0");
  assert_true(describe(c).find("user=sidecar") != std::string::npos);
}

// Issue 10: Redis Sentinel. REDIS_SENTINELS and REDIS_MASTER go together,
// turn Redis on even without REDIS_HOST and reach the endpoint (core's
// RedisClient discovers the master); the sentinel login names its file.
void redis_sentinel_settings(void**) {
  Config c;
  std::string error;
  assert_true(config_from_vars({{"REDIS_HOST", ""},
                                {"REDIS_SENTINELS", "127.0.0.1:26379,127.0.0.1:26380"},
                                {"REDIS_MASTER", "realm-auth"},
                                {"REDIS_SENTINEL_USER", "sidecar"},
                                {"REDIS_SENTINEL_PASSWORD_FILE", "/spw"},
                                {"REDIS_HMAC_KEY_FILE", "/k1"}},
                               "", c, error));
  assert_true(c.redis_on());
  assert_int_equal(c.redis_sentinels.size(), 2);
  assert_int_equal(c.redis_sentinels[1].port, 26380);
  assert_string_equal(c.redis_master.c_str(), "realm-auth");
  assert_string_equal(c.redis_sentinel_password_file.c_str(), "/spw");
  assert_non_null(strstr(describe(c).c_str(),
                         "redis=sentinel=127.0.0.1:26379,127.0.0.1:26380 master=realm-auth"));
  // Without the key: Redis is on, so the fleet key is required.
  assert_false(config_from_vars(
      {{"REDIS_HOST", ""}, {"REDIS_SENTINELS", "127.0.0.1:26379"}, {"REDIS_MASTER", "m"}}, "", c,
      error));
  assert_non_null(strstr(error.c_str(), "REDIS_HMAC_KEY_FILE"));
  struct Bad {
    std::map<std::string, std::string> vars;
    const char* names;
  };
  const Bad bad[] = {
      {{{"REDIS_SENTINELS", "127.0.0.1:26379"}}, "REDIS_MASTER"},
      {{{"REDIS_MASTER", "m"}}, "REDIS_SENTINELS"},
      {{{"REDIS_SENTINELS", "127.0.0.1"}, {"REDIS_MASTER", "m"}}, "REDIS_SENTINELS"},
      {{{"REDIS_SENTINELS", "h:1,h:99999"}, {"REDIS_MASTER", "m"}}, "REDIS_SENTINELS"},
      {{{"REDIS_SENTINELS", "h:1"}, {"REDIS_MASTER", "a b"}}, "REDIS_MASTER"},
      {{{"REDIS_SENTINELS", "h:1"}, {"REDIS_MASTER", "m"}, {"REDIS_SENTINEL_USER", "u"}},
       "REDIS_SENTINEL_PASSWORD_FILE"},
  };
  for (const Bad& b : bad) {
    std::map<std::string, std::string> vars = b.vars;
    vars["REDIS_HMAC_KEY_FILE"] = "/k1";
    c = Config{};
    assert_false(config_from_vars(vars, "", c, error));
    assert_non_null(strstr(error.c_str(), b.names));
  }
}

// Issue 9: the back-channel logout base URL and the revocation lifetime.
void revocation_settings(void**) {
  Config c;
  std::string error;
  assert_true(config_from_vars({{"REDIS_HOST", ""}}, "", c, error));
  assert_string_equal(c.backchannel_logout_base.c_str(), "");  // off unless configured
  assert_int_equal(c.revocation_token_lifetime_s, kAccessTokenLifespanS);
  assert_int_equal(c.logout_token_max_age_s, 120);
  assert_true(config_from_vars({{"REDIS_HOST", ""},
                                {"BACKCHANNEL_LOGOUT_BASE_URL", "http://127.0.0.1:8000/bcl//"},
                                {"REVOCATION_TOKEN_LIFETIME", "3600"},
                                {"LOGOUT_TOKEN_MAX_AGE", "60"}},
                               "", c, error));
  assert_string_equal(c.backchannel_logout_base.c_str(), "http://127.0.0.1:8000/bcl");
  assert_int_equal(c.revocation_token_lifetime_s, 3600);
  assert_int_equal(c.logout_token_max_age_s, 60);
  assert_false(config_from_vars({{"REDIS_HOST", ""}, {"BACKCHANNEL_LOGOUT_BASE_URL", "ftp://x"}},
                                "", c, error));
  assert_non_null(strstr(error.c_str(), "BACKCHANNEL_LOGOUT_BASE_URL"));
  // Shorter than the realm's token lifespan would let revoked tokens pass again.
  assert_false(
      config_from_vars({{"REDIS_HOST", ""}, {"REVOCATION_TOKEN_LIFETIME", "299"}}, "", c, error));
  assert_non_null(strstr(error.c_str(), "REVOCATION_TOKEN_LIFETIME"));
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(env_text),
      cmocka_unit_test(redis_sentinel_settings),
      cmocka_unit_test(defaults),
      cmocka_unit_test(values),
      cmocka_unit_test(bad_values_name_the_variable),
      cmocka_unit_test(password_grant_setting_is_refused),
      cmocka_unit_test(describe_has_no_secrets),
      cmocka_unit_test(redis_trust_settings),
      cmocka_unit_test(revocation_settings),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
