# One wildcard issuer serves any number of tenant realms: 35 realms, each
# with its own keys, are accepted by one nginx with no configuration change,
# each JWKS fetched once. Audience rules apply to all of them.
use Test::Nginx::Socket 'no_plan';
use RealmAuth::Test;

log_level('info');
no_long_string();
no_shuffle();

our @REALMS = map { sprintf 'tenant-r%02d', $_ } 1 .. 35;
ensure_realm($_, algs => ['RS256', 'ES256']) for @REALMS;

# What /echo/ answers for alice of a realm.
sub expected {
    my ($realm) = @_;
    (my $slug = $realm) =~ s/^tenant-//;
    return "uri: /echo/$realm\nx-actor-id: " . user_id($realm, 'alice')
         . "\nx-realm-name: $realm\nx-tenant-id: $slug\n";
}

block_defaults(
    http_config => "    auth_realm_zone realm_auth:10m;\n",
    config => q{
        location /api/ {
            auth_realm on;
            auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
            proxy_set_header X-Actor-Id $realm_actor_id;
            proxy_set_header X-Tenant-Id $realm_tenant_id;
            proxy_set_header X-Realm-Name $realm_name;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
    },
    no_error_log => "token refused\n[alert]\n[crit]",
);

run_tests();

__DATA__

=== TEST 1: 35 realms, one wildcard issuer, one JWKS fetch each
--- request eval
[ map { "GET /api/$_" } @::REALMS ]
--- more_headers eval
[ map { bearer(realm => $_, alg => ($_ =~ /[13579]$/ ? 'ES256' : 'RS256')) } @::REALMS ]
--- error_code eval
[ (200) x 35 ]
--- response_body eval
[ map { ::expected($_) } @::REALMS ]
--- issuer_fetches
tenant-r01 1
tenant-r17 1
tenant-r35 1



=== TEST 2: second round of the same realms hits the cache (no new fetch)
--- request eval
[ (map { "GET /api/$_" } @::REALMS), (map { "GET /api/$_" } @::REALMS) ]
--- more_headers eval
[ (map { bearer(realm => $_) } @::REALMS), (map { bearer(realm => $_, username => 'alice') } @::REALMS) ]
--- error_code eval
[ (200) x 70 ]
--- response_body eval
[ (map { ::expected($_) } @::REALMS) x 2 ]
--- issuer_fetches
tenant-r01 1
tenant-r02 1
tenant-r34 1
tenant-r35 1



=== TEST 3: audience configured: right aud accepted in every realm, another refused
--- config
        location /api/ {
            auth_realm on;
            auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
            auth_realm_audience tenant-services;
            proxy_set_header X-Actor-Id $realm_actor_id;
            proxy_set_header X-Tenant-Id $realm_tenant_id;
            proxy_set_header X-Realm-Name $realm_name;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
--- request eval
[ (map { "GET /api/$_" } @::REALMS), (map { "GET /api/$_" } @::REALMS[0 .. 4]) ]
--- more_headers eval
[ (map { bearer(realm => $_, aud => ['tenant-services', 'account']) } @::REALMS),
  (map { bearer(realm => $_, aud => 'other-services') } @::REALMS[0 .. 4]) ]
--- error_code eval
[ (200) x 35, (401) x 5 ]
--- response_body_like eval
[ (map { "^\Q${\ ::expected($_) }\E\$" } @::REALMS), ("401") x 5 ]
--- reason eval
[ (undef) x 35, ('audience_mismatch') x 5 ]
--- no_error_log
[alert]
