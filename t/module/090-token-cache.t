# The verified-token cache: a repeated token skips the signature check
# (token_cache.hits), but a cache entry made under one location's rules never
# lets the token into a location with other rules (issuer, audience,
# algorithms): the cache key includes the config's fingerprint.
use Test::Nginx::Socket 'no_plan';
use RealmAuth::Test;

log_level('info');
no_long_string();
no_shuffle();

our $TOKEN_A = token(realm => 'tenant-a', aud => 'x');
our $TOKEN_A_ES = token(realm => 'tenant-a', alg => 'ES256', aud => 'x');

block_defaults(
    http_config => "    auth_realm_zone realm_auth:10m;\n",
    config => q{
        # A: tenant-a only, audience x
        location /a/ {
            auth_realm on;
            auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-a;
            auth_realm_audience x;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
        # B: tenant-b only, audience x
        location /b/ {
            auth_realm on;
            auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-b;
            auth_realm_audience x;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
        # C: any tenant, audience y
        location /c/ {
            auth_realm on;
            auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
            auth_realm_audience y;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
        # D: any tenant, RS256 only
        location /d/ {
            auth_realm on;
            auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
            auth_realm_algorithms RS256;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
        # E: same rules as A, written in another location
        location /e/ {
            auth_realm on;
            auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-a;
            auth_realm_audience x;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
        # F: cache off
        location /f/ {
            auth_realm on;
            auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
            auth_realm_token_cache off;
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

=== TEST 1: same token twice in A: second is a cache hit
--- request eval
["GET /a/1", "GET /a/2", "GET /realm-auth/status"]
--- more_headers eval
[auth($::TOKEN_A), auth($::TOKEN_A), ""]
--- error_code eval
[200, 200, 200]
--- status_json
verified 2
token_cache.hits 1
token_cache.misses 1



=== TEST 2: cached in A, refused in B (other issuer)
--- request eval
["GET /a/1", "GET /a/2", "GET /b/3", "GET /realm-auth/status"]
--- more_headers eval
[auth($::TOKEN_A), auth($::TOKEN_A), auth($::TOKEN_A), ""]
--- error_code eval
[200, 200, 401, 200]
--- reason eval
[undef, undef, 'issuer_not_allowed', undef]
--- status_json
refused.issuer_not_allowed 1



=== TEST 3: cached in A, refused in C (other audience)
--- request eval
["GET /a/1", "GET /c/2"]
--- more_headers eval
[auth($::TOKEN_A), auth($::TOKEN_A)]
--- error_code eval
[200, 401]
--- reason eval
[undef, 'audience_mismatch']



=== TEST 4: ES256 token cached in A, refused in D (RS256 only)
--- request eval
["GET /a/1", "GET /a/2", "GET /d/3"]
--- more_headers eval
[auth($::TOKEN_A_ES), auth($::TOKEN_A_ES), auth($::TOKEN_A_ES)]
--- error_code eval
[200, 200, 401]
--- reason eval
[undef, undef, 'alg_not_allowed']



=== TEST 5: same rules in another location may share the entry
--- request eval
["GET /a/1", "GET /e/2", "GET /realm-auth/status"]
--- more_headers eval
[auth($::TOKEN_A), auth($::TOKEN_A), ""]
--- error_code eval
[200, 200, 200]
--- status_json
verified 2



=== TEST 6: cached entries do not outlive the token (valid 6 s more, asked again after 7 s)
--- request eval
["GET /a/1", "GET /a/2"]
--- fresh_more_headers
# exp + 30 s leeway = now + 6 s: time for nginx to start (the real
# Test::Nginx takes a few seconds) and for the first request
my $t = token(realm => 'tenant-a', aud => 'x', exp_in => -24);
[auth($t), auth($t)]
--- wait: 7
--- error_code eval
[200, 401]
--- reason eval
[undef, 'expired']
--- timeout: 10



=== TEST 7: token_cache off: no hits
--- request eval
["GET /f/1", "GET /f/2", "GET /realm-auth/status"]
--- more_headers eval
[auth($::TOKEN_A), auth($::TOKEN_A), ""]
--- error_code eval
[200, 200, 200]
--- status_json
verified 2
token_cache.hits 0



=== TEST 8: a token sent once stays out of the shared zone (this worker's table only)
--- request eval
["GET /a/1", "GET /realm-auth/status"]
--- more_headers eval
[auth($::TOKEN_A), ""]
--- error_code eval
[200, 200]
--- status_json
verified 1
token_cache.entries 0



=== TEST 9: a reused token enters the zone on its first hit, once
--- request eval
["GET /a/1", "GET /a/2", "GET /a/3", "GET /realm-auth/status"]
--- more_headers eval
[auth($::TOKEN_A), auth($::TOKEN_A), auth($::TOKEN_A), ""]
--- error_code eval
[200, 200, 200, 200]
--- status_json
verified 3
token_cache.hits 2
token_cache.entries 1
