# Fail closed: when no keys can be obtained the token is refused (401),
# never waved through; a token for an issuer outside the allowlist is
# refused without any network I/O.
use Test::Nginx::Socket 'no_plan';
use RealmAuth::Test;
use JSON::PP ();

log_level('info');
no_long_string();
no_shuffle();

# realms that exist, each broken in its own way
ensure_realm($_, algs => ['RS256']) for qw(tenant-down tenant-503 tenant-garbage
    tenant-nojson tenant-nokeys tenant-hang tenant-enconly tenant-badkey);
set_down('tenant-down', 'close');
set_down('tenant-503', '503');
set_body('tenant-garbage', "<html>It works!</html>\n");
set_body('tenant-nojson', '{"keys": [');
set_body('tenant-nokeys', '{"keys": []}');
set_delay('tenant-hang', 10);
{
    # only the encryption key: nothing to verify a signature with
    my $jwks = realm_jwks('tenant-enconly');
    $jwks->{keys} = [ grep { $_->{use} eq 'enc' } @{ $jwks->{keys} } ];
    set_body('tenant-enconly', JSON::PP->new->encode($jwks));
    # the right kid, but the key material is not a valid RSA key
    my $bad = realm_jwks('tenant-badkey');
    $bad->{keys}[0]{n} = 'AQAB';
    set_body('tenant-badkey', JSON::PP->new->encode($bad));
}

block_defaults(
    http_config => "    auth_realm_zone realm_auth:10m;\n",
    config => q{
        location /api/ {
            auth_realm on;
            auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
            auth_realm_fetch_timeout 1s;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
    },
    request => 'GET /api/x',
    error_code => 401,
    response_headers_like =>
        'WWW-Authenticate: Bearer error="invalid_token", error_description="[^"]+"',
    response_body_unlike => '(?i)jwks|\bkid\b|realm_auth|openid-connect|127\.0\.0\.1',
    backend_hits => 0,
    no_error_log => "[alert]\n[crit]",
);

run_tests();

__DATA__

=== TEST 1: issuer drops the connection, nothing cached
--- more_headers eval
bearer(realm => 'tenant-down')
--- reason: jwks_unavailable
--- issuer_fetches
tenant-down >= 1



=== TEST 2: issuer answers 503
--- more_headers eval
bearer(realm => 'tenant-503')
--- reason: jwks_unavailable
--- issuer_fetches
tenant-503 >= 1



=== TEST 3: issuer answers an HTML page
--- more_headers eval
bearer(realm => 'tenant-garbage')
--- reason: jwks_malformed|jwks_unavailable



=== TEST 4: issuer answers truncated JSON
--- more_headers eval
bearer(realm => 'tenant-nojson')
--- reason: jwks_malformed|jwks_unavailable



=== TEST 5: issuer answers an empty key set
--- more_headers eval
bearer(realm => 'tenant-nokeys')
--- reason: key_not_found|jwks_malformed|jwks_unavailable



=== TEST 6: JWKS has only the encryption key
--- more_headers eval
bearer(realm => 'tenant-enconly')
--- reason: key_not_found|jwks_malformed|jwks_unavailable



=== TEST 7: JWKS key with the right kid but broken material
--- more_headers eval
bearer(realm => 'tenant-badkey')
--- reason: jwks_malformed|jwks_unavailable|key_mismatch|key_not_found|signature_invalid



=== TEST 8: issuer slower than auth_realm_fetch_timeout (1 s)
--- more_headers eval
bearer(realm => 'tenant-hang')
--- reason: jwks_unavailable
--- timeout: 8



=== TEST 9: realm unknown to the issuer (404)
--- more_headers eval
bearer(iss => realm_iss('tenant-ghost'))
--- reason: jwks_unavailable
--- issuer_fetches
tenant-ghost >= 1



=== TEST 10: issuer outside the allowlist: refused with zero fetches
--- more_headers eval
bearer(realm => 'platform')
--- reason: issuer_not_allowed
--- issuer_fetches
platform 0



=== TEST 11: host outside the allowlist: refused with zero fetches anywhere
--- more_headers eval
bearer(iss => "http://127.0.0.1:$ENV{TEST_NGINX_CLOSED_PORT}/realms/tenant-a")
--- reason: issuer_not_allowed
--- issuer_fetches
tenant-a 0



=== TEST 12: issuer down, a second request does not wait forever nor succeed
--- request eval
["GET /api/1", "GET /api/2"]
--- more_headers eval
[bearer(realm => 'tenant-down'), bearer(realm => 'tenant-down', username => 'bob')]
--- error_code eval
[401, 401]
--- response_headers_like eval
['WWW-Authenticate: Bearer error="invalid_token", error_description="[^"]+"',
 'WWW-Authenticate: Bearer error="invalid_token", error_description="[^"]+"']
--- response_body_unlike eval
["jwks", "jwks"]
--- reason eval
['jwks_unavailable', 'jwks_unavailable']
