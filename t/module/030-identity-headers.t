# auth_realm_identity_headers: the upstream receives verified identity
# headers, and whatever the client sent under those names is dropped or
# overwritten. The /echo/ upstream answers with every x-* header it got
# (sorted by name, duplicates kept), so the whole body is compared.
use Test::Nginx::Socket 'no_plan';
use RealmAuth::Test;

log_level('info');
no_long_string();
no_shuffle();

our $ALICE = user_id('tenant-a', 'alice');
our $ROLES = 'default-roles-tenant-a,offline_access,uma_authorization,officer';

# The identity headers of alice@tenant-a, in /echo/ order, plus extra lines.
sub alice_headers {
    my (%extra) = @_;
    my %h = (
        'x-actor-email' => 'alice@example.com',
        'x-actor-id' => $ALICE,
        'x-actor-roles' => $ROLES,
        'x-actor-username' => 'alice',
        'x-realm-name' => 'tenant-a',
        'x-tenant-id' => 'a',
        %extra,
    );
    return join '', map { "$_: $h{$_}\n" } grep { defined $h{$_} } sort keys %h;
}

block_defaults(
    http_config => "    auth_realm_zone realm_auth:10m;\n",
    config => q{
        location /api/ {
            auth_realm on;
            auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
            auth_realm_identity_headers on;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
    },
    request => 'GET /api/whoami',
    no_error_log => "[alert]\n[crit]",
);

run_tests();

__DATA__

=== TEST 1: verified identity reaches the upstream
--- more_headers eval
bearer()
--- response_body eval
"uri: /echo/whoami\n" . ::alice_headers()
--- backend_hits: 1



=== TEST 2: spoofed identity headers are replaced or removed
--- more_headers eval
bearer() . "
X-Tenant-Id: evil
X-Actor-Id: evil
X-Actor-Roles: platform_admin
X-Actor-Username: root
X-Actor-Email: root\@evil.example
X-Actor-Department-Id: finance
X-Actor-Anything: evil
X-Realm-Name: platform
X-Realm-Foo: evil
X-Tenant-Id: evil-again
X-Other: kept"

--- response_body eval
"uri: /echo/whoami\n" . ::alice_headers('x-other' => 'kept')



=== TEST 3: header names are matched case-insensitively
--- more_headers eval
bearer() . "\nx-tenant-id: evil\nX-TENANT-ID: evil\nx-actor-roles: tenant_admin\nx-REALM-foo: evil"
--- response_body eval
"uri: /echo/whoami\n" . ::alice_headers()



=== TEST 4: X-Purpose is forwarded when there is exactly one (core purpose.h)
--- more_headers eval
bearer() . "\nX-Purpose: case-review"
--- response_body eval
"uri: /echo/whoami\n" . ::alice_headers('x-purpose' => 'case-review')



=== TEST 4b: several X-Purpose lines: none is forwarded (ambiguous is no purpose)
--- more_headers eval
bearer() . "\nX-Purpose: case-review\nX-Purpose: something-else"
--- response_body eval
"uri: /echo/whoami\n" . ::alice_headers()



=== TEST 5: department_id claim becomes X-Actor-Department-Id
--- more_headers eval
bearer(claims => { department_id => 'dept-7' })
--- response_body eval
"uri: /echo/whoami\n" . ::alice_headers('x-actor-department-id' => 'dept-7')



=== TEST 6: no email claim, no X-Actor-Email (and a spoofed one is dropped)
--- more_headers eval
bearer(claims => { email => undef }) . "\nX-Actor-Email: spoof\@evil.example"
--- response_body eval
"uri: /echo/whoami\n" . ::alice_headers('x-actor-email' => undef)



=== TEST 7: identity_headers off sends none of them
--- config
        location /api/ {
            auth_realm on;
            auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
--- more_headers eval
bearer() . "\nX-Other: kept"
--- response_body
uri: /echo/whoami
x-other: kept



=== TEST 8: client roles are added only for configured clients
--- config
        location /api/ {
            auth_realm on;
            auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
            auth_realm_identity_headers on;
            auth_realm_client_roles tenant-services;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
--- more_headers eval
bearer(roles => ['officer'], claims => { resource_access => {
    'tenant-services' => { roles => ['case_reader', 'officer'] },
    'account' => { roles => ['manage-account'] },
} })
--- response_body eval
"uri: /echo/whoami\n" . ::alice_headers('x-actor-roles' => "$::ROLES,case_reader")



=== TEST 9: a bad token never reaches the upstream, spoofed headers or not
--- more_headers eval
bearer(exp_in => -3600) . "\nX-Tenant-Id: a\nX-Actor-Id: $::ALICE"
--- error_code: 401
--- reason: expired
--- backend_hits: 0



=== TEST 10: no token never reaches the upstream
--- more_headers
X-Tenant-Id: a
X-Actor-Id: someone
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer
--- backend_hits: 0



=== TEST 11: a token of tenant-b is tenant b, whatever the URL or headers say
--- request
GET /api/tenants/a/cases
--- more_headers eval
bearer(realm => 'tenant-b', username => 'bob', roles => ['auditor']) . "\nX-Tenant-Id: a"
--- response_body eval
"uri: /echo/tenants/a/cases\n"
. "x-actor-email: bob\@example.com\n"
. "x-actor-id: " . user_id('tenant-b', 'bob') . "\n"
. "x-actor-roles: default-roles-tenant-b,offline_access,uma_authorization,auditor\n"
. "x-actor-username: bob\n"
. "x-realm-name: tenant-b\n"
. "x-tenant-id: b\n"



=== TEST 12: identity_headers off: client-sent identity headers still never reach the upstream
# DESIGN.md: "An incoming X-Tenant-Id, X-Actor-* or X-Realm-* header is
# removed or overwritten with verified values before the request reaches
# any upstream" -- a backend must be able to trust them behind any
# auth_realm location, not only where identity_headers is on.
--- config
        location /api/ {
            auth_realm on;
            auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
--- more_headers eval
bearer() . "\nX-Tenant-Id: evil\nX-Actor-Id: evil\nX-Actor-Roles: platform_admin\nX-Realm-Name: platform\nX-Other: kept"
--- response_body
uri: /echo/whoami
x-other: kept



=== TEST 13: proxy_set_header on an identity header's name replaces it (the header's hash is nginx's: proxy matches names by it)
--- config
    location /api/ {
        auth_realm on;
        auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
        auth_realm_identity_headers on;
        proxy_set_header X-Actor-Email "set by the location";
        proxy_set_header X-Actor-Department-Id "";
        proxy_set_header X-Realm-Name $realm_name;
        proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
    }
--- more_headers eval
bearer()
--- response_body eval
"uri: /echo/whoami\n" . ::alice_headers('x-actor-email' => 'set by the location')
