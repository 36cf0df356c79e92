# The Authorization header, read by core's bearer_credential (the same
# function the sidecar uses, core/tests/bearer_test.cc has the full list):
# "Bearer" (any case) 1*SP b64token (RFC 6750 §2.1), leading/trailing
# whitespace of the field ignored. Another scheme, or "Bearer" alone, is
# no token (bare challenge); a Bearer credential that is not one b64token
# is token_malformed.
use Test::Nginx::Socket 'no_plan';
use RealmAuth::Test;

log_level('info');
no_long_string();
no_shuffle();

our $T = token();

block_defaults(
    http_config => "    auth_realm_zone realm_auth:10m;\n",
    config => q{
        location /api/ {
            auth_realm on;
            auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
    },
    request => 'GET /api/x',
    no_error_log => "[alert]\n[crit]",
);

run_tests();

__DATA__

=== TEST 1: one space
--- more_headers eval
"Authorization: Bearer $::T"
--- backend_hits: 1



=== TEST 2: two spaces (1*SP): accepted, as by the sidecar
--- more_headers eval
"Authorization: Bearer  $::T"
--- backend_hits: 1



=== TEST 3: scheme in any case
--- more_headers eval
"Authorization: bEARER $::T"
--- backend_hits: 1



=== TEST 4: a tab instead of the space: not the Bearer scheme
--- more_headers eval
"Authorization: Bearer\t$::T"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer
--- backend_hits: 0



=== TEST 5: "Bearer" alone: no token
--- more_headers
Authorization: Bearer
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer
--- backend_hits: 0



=== TEST 6: two credentials separated by a comma
--- more_headers eval
"Authorization: Bearer $::T, Bearer $::T"
--- error_code: 401
--- reason: token_malformed
--- backend_hits: 0



=== TEST 7: a token followed by another word
--- more_headers eval
"Authorization: Bearer $::T extra"
--- error_code: 401
--- reason: token_malformed
--- backend_hits: 0



=== TEST 8: a control byte after the token
--- more_headers eval
"Authorization: Bearer $::T\x{1}"
--- error_code: 401
--- reason: token_malformed
--- backend_hits: 0



=== TEST 9: a character outside b64token (quote)
--- more_headers eval
"Authorization: Bearer \"$::T\""
--- error_code: 401
--- response_headers_like
WWW-Authenticate: Bearer error="invalid_token", error_description="[^"]+"
--- reason: token_malformed
--- backend_hits: 0



=== TEST 10: '=' padding only at the end is b64token syntax (then refused as base64url)
--- more_headers eval
"Authorization: Bearer $::T=="
--- error_code: 401
--- reason: bad_base64
--- backend_hits: 0



=== TEST 11: "Bearer:" is another scheme
--- more_headers eval
"Authorization: Bearer: $::T"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer
--- backend_hits: 0



=== TEST 12: a cached token with something appended is not the cached token
# The verified-token cache is read before the b64token scan (a hit is a
# token that passed it); anything else is scanned.
--- request eval
['GET /api/x', 'GET /api/x', 'GET /api/x']
--- more_headers eval
["Authorization: Bearer $::T", "Authorization: Bearer $::T extra", "Authorization: Bearer  $::T"]
--- error_code eval
[200, 401, 200]
--- reason eval
[undef, 'token_malformed', undef]
