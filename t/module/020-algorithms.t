# Valid tokens of every supported algorithm are accepted, and what the
# module derived from them reaches the upstream.
#
# nginx runs `return` in the rewrite phase, before access checks, so a test
# location needs a real content handler: /api/ proxies to the issuer's
# /echo/ upstream, which answers with the x-* headers it received. The
# proxy_set_header lines below put the module's variables there.
use Test::Nginx::Socket 'no_plan';
use RealmAuth::Test;

log_level('info');
no_long_string();
no_shuffle();

# What /echo/ answers for a tenant-a token of `alg` (alice by default).
sub expected {
    my ($alg, $realm, $user) = @_;
    $realm //= 'tenant-a';
    (my $slug = $realm) =~ s/^tenant-//;
    return "uri: /echo/whoami\n"
         . "x-echo-actor: " . user_id($realm, $user // 'alice') . "\n"
         . "x-echo-alg: $alg\n"
         . "x-echo-tenant: $slug\n";
}

our $LOCATION = q{
        location /api/ {
            auth_realm on;
            auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
            proxy_set_header X-Echo-Actor $realm_actor_id;
            proxy_set_header X-Echo-Tenant $realm_tenant_id;
            proxy_set_header X-Echo-Alg $jwt_header_alg;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
};

block_defaults(
    http_config => "    auth_realm_zone realm_auth:10m;\n",
    config => $LOCATION,
    request => 'GET /api/whoami',
    no_error_log => "token refused\n[alert]\n[crit]",
);

run_tests();

__DATA__

=== TEST 1: RS256
--- more_headers eval
bearer(alg => 'RS256')
--- response_body eval
::expected('RS256')
--- issuer_fetches
tenant-a 1



=== TEST 2: RS384
--- more_headers eval
bearer(alg => 'RS384')
--- response_body eval
::expected('RS384')



=== TEST 3: RS512
--- more_headers eval
bearer(alg => 'RS512')
--- response_body eval
::expected('RS512')



=== TEST 4: PS256
--- more_headers eval
bearer(alg => 'PS256')
--- response_body eval
::expected('PS256')



=== TEST 5: PS384
--- more_headers eval
bearer(alg => 'PS384')
--- response_body eval
::expected('PS384')



=== TEST 6: PS512
--- more_headers eval
bearer(alg => 'PS512')
--- response_body eval
::expected('PS512')



=== TEST 7: ES256
--- more_headers eval
bearer(alg => 'ES256')
--- response_body eval
::expected('ES256')



=== TEST 8: ES384
--- more_headers eval
bearer(alg => 'ES384')
--- response_body eval
::expected('ES384')



=== TEST 9: ES512 (P-521)
--- more_headers eval
bearer(alg => 'ES512')
--- response_body eval
::expected('ES512')



=== TEST 10: EdDSA (Ed25519)
--- more_headers eval
bearer(alg => 'EdDSA')
--- response_body eval
::expected('EdDSA')



=== TEST 11: all algorithms of two realms against one nginx: one fetch per realm
--- request eval
[ map { "GET /api/whoami" } 1 .. 20 ]
--- more_headers eval
[ (map { bearer(alg => $_) } ALGORITHMS), (map { bearer(realm => 'tenant-b', alg => $_) } ALGORITHMS) ]
--- response_body eval
[ (map { ::expected($_) } ALGORITHMS), (map { ::expected($_, 'tenant-b') } ALGORITHMS) ]
--- error_code eval
[ (200) x 20 ]
--- issuer_fetches
tenant-a 1
tenant-b 1



=== TEST 12: scheme name is case-insensitive (RFC 7235)
--- more_headers eval
my $t = bearer(); $t =~ s/Bearer/bearer/; $t
--- response_body eval
::expected('RS256')



=== TEST 13: expired 10 s ago is still inside the default 30 s leeway
--- fresh_more_headers
bearer(exp_in => -10)
--- response_body eval
::expected('RS256')



=== TEST 14: nbf 10 s ahead is inside the leeway
--- more_headers eval
bearer(claims => { nbf => time + 10 })
--- response_body eval
::expected('RS256')



=== TEST 15: auth_realm_leeway 0 refuses what the default leeway accepted
--- config
        location /api/ {
            auth_realm on;
            auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
            auth_realm_leeway 0s;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
--- more_headers eval
bearer(exp_in => -10)
--- error_code: 401
--- reason: expired
--- no_error_log
[alert]



=== TEST 16: header typ at+jwt and a token without typ are fine
--- request eval
["GET /api/whoami", "GET /api/whoami"]
--- more_headers eval
[bearer(header => { typ => 'at+jwt' }), bearer(header => { typ => undef })]
--- response_body eval
[::expected('RS256'), ::expected('RS256')]
--- error_code eval
[200, 200]



=== TEST 17: auth_realm_algorithms narrows the list
--- config
        location /api/ {
            auth_realm on;
            auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
            auth_realm_algorithms RS256 ES256;
            proxy_set_header X-Echo-Actor $realm_actor_id;
            proxy_set_header X-Echo-Tenant $realm_tenant_id;
            proxy_set_header X-Echo-Alg $jwt_header_alg;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
--- request eval
["GET /api/whoami", "GET /api/whoami", "GET /api/whoami", "GET /api/whoami"]
--- more_headers eval
[bearer(alg => 'ES256'), bearer(alg => 'PS256'), bearer(alg => 'EdDSA'), bearer(alg => 'RS256')]
--- error_code eval
[200, 401, 401, 200]
--- response_body_like eval
["x-echo-alg: ES256", "401", "401", "x-echo-alg: RS256"]
--- reason eval
[undef, 'alg_not_allowed', 'alg_not_allowed', undef]
--- no_error_log
[alert]



=== TEST 18: exact issuer for the platform realm next to the tenant wildcard
--- config
        location /api/ {
            auth_realm on;
            auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
            auth_realm_issuer $TEST_NGINX_ISSUER/realms/platform;
            proxy_set_header X-Echo-Realm $realm_name;
            proxy_set_header X-Echo-Tenant $realm_tenant_id;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
--- request eval
["GET /api/whoami", "GET /api/whoami"]
--- more_headers eval
[bearer(realm => 'platform', roles => ['platform_admin']), bearer(realm => 'tenant-b')]
--- response_body eval
["uri: /echo/whoami\nx-echo-realm: platform\n",
 "uri: /echo/whoami\nx-echo-realm: tenant-b\nx-echo-tenant: b\n"]
--- error_code eval
[200, 200]



=== TEST 19: a named thread pool (as in the examples)
--- main_config
    thread_pool realm_auth threads=4;
--- http_config
    auth_realm_zone realm_auth:10m;
    auth_realm_thread_pool realm_auth;
--- more_headers eval
bearer(alg => 'ES384', realm => 'tenant-b')
--- response_body eval
::expected('ES384', 'tenant-b')



=== TEST 20: auth_realm off in a nested location, on in the parent
--- config
        location /api/ {
            auth_realm on;
            auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
            location /api/public/ {
                auth_realm off;
                proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
            }
        }
--- request eval
["GET /api/public/x", "GET /api/private/x"]
--- error_code eval
[200, 401]
--- response_body_like eval
["^uri: /echo/x", "401"]
--- response_headers eval
["", "WWW-Authenticate: Bearer"]
--- no_error_log
[alert]



=== TEST 21: another user of another tenant
--- more_headers eval
bearer(realm => 'tenant-b', username => 'bob', alg => 'PS384')
--- response_body eval
::expected('PS384', 'tenant-b', 'bob')



=== TEST 22: audience configured and present (string and array forms)
--- config
        location /api/ {
            auth_realm on;
            auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
            auth_realm_audience tenant-services;
            auth_realm_audience other-services;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
--- request eval
["GET /api/whoami", "GET /api/whoami", "GET /api/whoami"]
--- more_headers eval
[bearer(aud => 'tenant-services'), bearer(aud => ['account', 'other-services']), bearer(aud => ['account'])]
--- error_code eval
[200, 200, 401]
--- response_body_like eval
["^uri: /echo/whoami", "^uri: /echo/whoami", "401"]
--- reason eval
[undef, undef, 'audience_mismatch']
--- no_error_log
[alert]
