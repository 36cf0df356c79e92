# Redis is an optional tier: with auth_realm_redis pointing at a port where
# nothing listens, tokens are still verified (keys fetched over HTTP and
# kept in the zone) and the status counts the Redis errors.
use Test::Nginx::Socket 'no_plan';
use RealmAuth::Test;

log_level('info');
no_long_string();
no_shuffle();

block_defaults(
    http_config => q{
    auth_realm_zone realm_auth:10m;
    auth_realm_redis 127.0.0.1:$TEST_NGINX_CLOSED_PORT timeout=200ms hmac_key_file=$TEST_NGINX_REDIS_HMAC_KEY_FILE;
},
    config => q{
        location /api/ {
            auth_realm on;
            auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
        location = /realm-auth/status {
            auth_realm_status;
        }
    },
    no_error_log => "token refused\n[alert]\n[crit]",
);

run_tests();

__DATA__

=== TEST 1: verified despite Redis being down; errors counted
--- request eval
["GET /api/1", "GET /api/2", "GET /api/3", "GET /realm-auth/status"]
--- more_headers eval
[bearer(), bearer(alg => 'ES256'), bearer(realm => 'tenant-b'), ""]
--- error_code eval
[200, 200, 200, 200]
--- response_body_like eval
["^uri: /echo/1", "^uri: /echo/2", "^uri: /echo/3", "redis_errors"]
--- status_json
verified 3
jwks.redis_errors >= 1
jwks.http_fetches 2
--- issuer_fetches
tenant-a 1
tenant-b 1
--- timeout: 10



=== TEST 2: a Redis server that accepts but never answers costs at most the timeout
--- http_config
    auth_realm_zone realm_auth:10m;
    auth_realm_redis 127.0.0.1:$TEST_NGINX_BLACKHOLE_PORT timeout=200ms hmac_key_file=$TEST_NGINX_REDIS_HMAC_KEY_FILE;
--- more_headers eval
bearer()
--- response_body_like: ^uri: /echo/x
--- request
GET /api/x
--- timeout: 5
