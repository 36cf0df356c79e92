# auth_realm_status: the JSON counters move as requests are verified,
# refused, fetched and served from the token cache. Each block runs its
# requests against a fresh nginx, then reads the status as the last request.
use Test::Nginx::Socket 'no_plan';
use RealmAuth::Test;

log_level('info');
no_long_string();
no_shuffle();

our $TOKEN = token(realm => 'tenant-a');

block_defaults(
    http_config => "    auth_realm_zone realm_auth:10m;\n",
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
    no_error_log => "[alert]\n[crit]",
);

run_tests();

__DATA__

=== TEST 1: fresh nginx: status is JSON with the documented sections, all zero
--- request
GET /realm-auth/status
--- response_headers_like
Content-Type: application/json.*
--- status_json
verified 0
token_cache.hits 0
token_cache.misses 0
jwks.http_fetches 0
jwks.fetch_failures 0
jwks.redis_errors 0
zone.size > 0
--- response_body_like: "refused"\s*:\s*\{.*"zone"\s*:\s*\{[^}]*"name"\s*:\s*"realm_auth"



=== TEST 2: one verified token, one expired, one fetch
--- request eval
["GET /api/1", "GET /api/2", "GET /realm-auth/status"]
--- more_headers eval
[auth($::TOKEN), bearer(exp_in => -3600), ""]
--- error_code eval
[200, 401, 200]
--- status_json
verified 1
refused.expired 1
jwks.http_fetches 1
jwks.issuers_cached 1



=== TEST 3: the same token twice: second one is a token cache hit
--- request eval
["GET /api/1", "GET /api/2", "GET /realm-auth/status"]
--- more_headers eval
[auth($::TOKEN), auth($::TOKEN), ""]
--- error_code eval
[200, 200, 200]
--- status_json
verified 2
token_cache.hits 1
token_cache.misses 1
jwks.http_fetches 1



=== TEST 4: a second token of the same realm: JWKS from the worker or zone, no fetch
--- request eval
["GET /api/1", "GET /api/2", "GET /realm-auth/status"]
--- more_headers eval
[bearer(username => 'alice'), bearer(username => 'bob'), ""]
--- error_code eval
[200, 200, 200]
--- status_json
verified 2
jwks.http_fetches 1
token_cache.hits 0
--- response_body_like eval
["^uri: /echo/1", "^uri: /echo/2", '"(worker_hits|zone_hits)"\s*:\s*[1-9]']



=== TEST 5: refusals are counted per reason
--- request eval
["GET /api/1", "GET /api/2", "GET /api/3", "GET /api/4", "GET /api/5", "GET /realm-auth/status"]
--- more_headers eval
[bearer(exp_in => -3600), bearer(exp_in => -3600), bearer(kid => 'nope'),
 bearer(realm => 'platform'), bearer(alg => 'ES256', kid => realm_kid('tenant-a', 'RS256')), ""]
--- error_code eval
[401, 401, 401, 401, 401, 200]
--- status_json
verified 0
refused.expired 2
refused.key_not_found 1
refused.issuer_not_allowed 1
refused.key_mismatch 1



=== TEST 6: a missing token counts as token_missing
--- request eval
["GET /api/1", "GET /realm-auth/status"]
--- error_code eval
[401, 200]
--- status_json
refused.token_missing 1
verified 0



=== TEST 7: failed fetches are counted (the issuer answers 404 for this realm)
--- request eval
["GET /api/1", "GET /realm-auth/status"]
--- more_headers eval
[bearer(iss => realm_iss('tenant-nokeys')), ""]
--- error_code eval
[401, 200]
--- status_json
jwks.fetch_failures >= 1
refused.jwks_unavailable 1
--- issuer_fetches
tenant-nokeys >= 1
