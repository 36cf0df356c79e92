# Self-test of RealmAuth::Test with plain nginx (no module): helpers in
# `eval` sections, the /echo/ upstream, and the extra counter sections.
use Test::Nginx::Socket 'no_plan';
use RealmAuth::Test 'no_module';

no_shuffle();
log_level('info');

block_defaults(
    config => q{
        location /api/ {
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
        location /jwks/ {
            proxy_pass $TEST_NGINX_ISSUER/realms/;
        }
    },
);

run_tests();

__DATA__

=== TEST 1: helpers are callable from eval sections, echo shows x-* headers
--- more_headers eval
"X-Token-Parts: " . scalar(my @p = CORE::split /\./, token(realm => 'tenant-a')) . "\n"
. "X-Kid-Len: " . length(realm_kid('tenant-a', 'ES256')) . "\n"
. "X-Sub: " . user_id('tenant-a', 'alice')
--- request
GET /api/hello?q=1
--- response_body
uri: /echo/hello?q=1
x-kid-len: 43
x-sub: 1452f8d7-0222-4b11-8283-27080127ad98
x-token-parts: 3
--- backend_hits: 1
--- issuer_fetches
tenant-a 0



=== TEST 2: JWKS fetch counted per realm, other realms untouched
--- request
GET /jwks/tenant-b/protocol/openid-connect/certs
--- response_body_like: "keys":\[.*"use":"enc"
--- issuer_fetches
tenant-b 1
tenant-a 0
/realms/tenant-b/protocol/openid-connect/certs 1
--- backend_hits: 0



=== TEST 3: several requests; counters checked after the last one
--- request eval
["GET /jwks/tenant-c/protocol/openid-connect/certs", "GET /jwks/tenant-c/protocol/openid-connect/certs", "GET /api/x"]
--- error_code eval
[404, 404, 200]
--- response_body_like eval
["Realm does not exist", "Realm does not exist", "uri: /echo/x"]
--- issuer_fetches
tenant-c >= 2
tenant-c <= 2
--- backend_hits: 1



=== TEST 4: status_json reads the last JSON body
--- config
    location = /status {
        return 200 '{"verified":3,"refused":{"expired":1},"jwks":{"http_fetches":2}}';
    }
--- request
GET /status
--- status_json
verified 3
refused.expired 1
refused.alg_not_allowed 0
jwks.http_fetches >= 1
