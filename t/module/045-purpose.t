# auth_realm_require_purpose: governed operations must say why (X-Purpose).
# The token is checked first: a bad token is 401 whether or not a purpose
# was given; a good token without a purpose is 400.
use Test::Nginx::Socket 'no_plan';
use RealmAuth::Test;

log_level('info');
no_long_string();
no_shuffle();

block_defaults(
    http_config => "    auth_realm_zone realm_auth:10m;\n",
    config => q{
        location /api/ {
            auth_realm on;
            auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
            auth_realm_require_purpose on;
            auth_realm_identity_headers on;
            proxy_set_header X-V-Purpose $realm_purpose;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
    },
    request => 'GET /api/cases/42',
    no_error_log => "[alert]\n[crit]",
);

run_tests();

__DATA__

=== TEST 1: valid token without X-Purpose: 400, upstream not reached
--- more_headers eval
bearer()
--- error_code: 400
--- response_body_unlike: (?i)jwks|\bkid\b|realm_auth
--- backend_hits: 0
--- error_log
purpose_missing



=== TEST 2: empty X-Purpose counts as missing
--- more_headers eval
bearer() . "\nX-Purpose: "
--- error_code: 400
--- backend_hits: 0



=== TEST 3: bad token without X-Purpose: 401 first
--- more_headers eval
bearer(exp_in => -3600)
--- error_code: 401
--- response_headers_like
WWW-Authenticate: Bearer error="invalid_token", error_description="[^"]+"
--- reason: expired
--- backend_hits: 0



=== TEST 4: bad token with X-Purpose: still 401
--- more_headers eval
bearer(kid => 'no-such-kid') . "\nX-Purpose: case-review"
--- error_code: 401
--- reason: key_not_found
--- backend_hits: 0



=== TEST 5: no token at all: 401 with the bare challenge
--- more_headers
X-Purpose: case-review
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer
--- backend_hits: 0



=== TEST 6: valid token with X-Purpose: 200, purpose forwarded
--- more_headers eval
bearer() . "\nX-Purpose: case-review"
--- response_body_like eval
qr/^x-purpose: case-review\n(?:.*\n)*x-v-purpose: case-review\n/m
--- backend_hits: 1



=== TEST 7: purpose not required (default): 200 without X-Purpose
--- config
        location /api/ {
            auth_realm on;
            auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
--- more_headers eval
bearer()
--- response_body
uri: /echo/cases/42
--- backend_hits: 1



=== TEST 8: an empty X-Purpose followed by a real one: 400 (one X-Purpose line per request)
--- more_headers eval
bearer() . "\nX-Purpose: \nX-Purpose: case-review"
--- error_code: 400
--- backend_hits: 0
--- error_log
purpose_invalid



=== TEST 9: two different purposes: 400
--- more_headers eval
bearer() . "\nX-Purpose: case-review\nX-Purpose: something-else"
--- error_code: 400
--- backend_hits: 0
--- error_log
purpose_invalid



=== TEST 10: the same purpose twice: 400 too (the rule counts lines, not values)
--- more_headers eval
bearer() . "\nX-Purpose: case-review\nX-Purpose: case-review"
--- error_code: 400
--- backend_hits: 0



=== TEST 11: a purpose longer than 500 bytes: 400
--- more_headers eval
bearer() . "\nX-Purpose: " . ('p' x 501)
--- error_code: 400
--- backend_hits: 0
--- error_log
purpose_invalid



=== TEST 12: 500 bytes is the limit
--- more_headers eval
bearer() . "\nX-Purpose: " . ('p' x 500)
--- response_body_like eval
qr/^x-v-purpose: p{500}$/m
--- backend_hits: 1



=== TEST 13: a control byte in the purpose: 400
--- more_headers eval
bearer() . "\nX-Purpose: case\x{1}review"
--- error_code: 400
--- backend_hits: 0
--- error_log
purpose_invalid



=== TEST 14: purpose not required: an ambiguous purpose is no purpose ($realm_purpose empty, none forwarded)
--- config
        location /api/ {
            auth_realm on;
            auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
            proxy_set_header X-V-Purpose $realm_purpose;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
--- more_headers eval
bearer() . "\nX-Purpose: \nX-Purpose: smuggled"
--- response_body
uri: /echo/cases/42
--- backend_hits: 1



=== TEST 15: purpose not required: one purpose is forwarded and in $realm_purpose
--- config
        location /api/ {
            auth_realm on;
            auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
            proxy_set_header X-V-Purpose $realm_purpose;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
--- more_headers eval
bearer() . "\nX-Purpose: case-review"
--- response_body
uri: /echo/cases/42
x-purpose: case-review
x-v-purpose: case-review
--- backend_hits: 1
