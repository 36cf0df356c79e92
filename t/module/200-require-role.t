# auth_realm_require_role: authorization after authentication. A verified
# token without the role is answered 403 with
# `WWW-Authenticate: Bearer error="insufficient_scope", ...`, the backend
# never sees it, $realm_auth_error and the status counters say require_role.
# Roles are the ones $realm_roles carries (realm_access.roles plus the
# clients named by auth_realm_client_roles), compared byte for byte. Tokens
# whose roles have a hostile shape never get that far (401 claim_invalid),
# nor do tokens with duplicate members (401 duplicate_key). Cache hits are
# authorized on every request. A location's own auth_realm_require_role
# replaces the inherited ones (nginx's rule for repeatable directives).
use Test::Nginx::Socket 'no_plan';
use RealmAuth::Test;

use JSON::PP ();

log_level('info');
no_long_string();
no_shuffle();

my $JSON = JSON::PP->new->canonical;
sub enc { $JSON->encode($_[0]) }

our $FORBIDDEN = 'WWW-Authenticate: Bearer error="insufficient_scope", '
    . 'error_description="role required"';

# A tenant-a token with these realm roles (and no others).
sub with_roles { auth(token(claims => { realm_access => { roles => [@_] } })) }

# Signed tenant-a token whose payload is the default claims' JSON text with
# one rewrite applied to it (for shapes no encoder makes).
sub raw_payload {
    my ($edit) = @_;
    my $text = enc(claims(roles => ['admin']));
    $edit->($text);
    my $header = enc({ alg => 'RS256', typ => 'JWT', kid => realm_kid('tenant-a') });
    return auth(sign_raw($header, $text));
}

our $OFFICER = auth(token());    # default roles: ...,officer
our $ADMIN = auth(token(roles => ['admin']));

block_defaults(
    http_config => "    auth_realm_zone realm_auth:10m;\n",
    config => q{
        auth_realm on;
        auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
        auth_realm_client_roles tenant-services;
        add_header X-Auth-Error $realm_auth_error always;
        location /open/ {
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
        location /admin/ {
            auth_realm_require_role admin;
            add_header X-Actor $realm_actor_id always;
            add_header X-Auth-Error $realm_auth_error always;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
        location /any/ {
            auth_realm_require_role admin auditor;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
        location /both/ {
            auth_realm_require_role admin;
            auth_realm_require_role auditor;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
        location /client/ {
            auth_realm_require_role case-read;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
        location /other-clients/ {
            auth_realm_client_roles other-client;
            auth_realm_require_role case-read;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
        location /account/ {
            auth_realm_require_role manage-account;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
        location /inherit/ {
            auth_realm_require_role admin;
            location /inherit/keep/ {
                proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
            }
            location /inherit/replace/ {
                auth_realm_require_role auditor;
                proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
            }
            location /inherit/other-directive/ {
                auth_realm_require_claim tier eq '"gold"';
                proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
            }
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
        location = /realm-auth/status {
            auth_realm off;
            auth_realm_status;
        }
    },
    no_error_log => "[alert]\n[crit]",
);

run_tests();

__DATA__

=== TEST 1: no requirement: any verified token passes
--- request
GET /open/x
--- more_headers eval
$::OFFICER
--- error_code: 200
--- backend_hits: 1



=== TEST 2: role missing: 403, exact challenge, the reason in the variable and the log, no backend
--- request
GET /admin/x
--- more_headers eval
$::OFFICER
--- error_code: 403
--- response_headers eval
"$::FORBIDDEN\nX-Auth-Error: require_role\n!X-Actor"
--- response_body_unlike: admin|officer|realm_auth
--- error_log eval
qr/\[info\] .*realm_auth: access denied: require_role \(auth_realm_require_role at [^)]*nginx\.conf:\d+\)/
--- backend_hits: 0



=== TEST 3: the role present: passes
--- request
GET /admin/x
--- more_headers eval
$::ADMIN
--- error_code: 200
--- response_headers eval
"!WWW-Authenticate\n!X-Auth-Error"
--- backend_hits: 1
--- no_error_log
access denied



=== TEST 4: case variants and look-alikes of the role are other roles
--- request eval
["GET /admin/1", "GET /admin/2", "GET /admin/3", "GET /admin/4", "GET /admin/5"]
--- more_headers eval
[::with_roles('Admin'), ::with_roles('ADMIN'), ::with_roles('admin ', ' admin'),
 ::with_roles('administrator', 'admins'), ::with_roles('aDmin')]
--- error_code eval
[403, 403, 403, 403, 403]
--- backend_hits: 0



=== TEST 5: one directive with several roles: any of them
--- request eval
["GET /any/1", "GET /any/2", "GET /any/3", "GET /any/4"]
--- more_headers eval
[::with_roles('auditor'), ::with_roles('admin'), ::with_roles('user'), ::with_roles()]
--- error_code eval
[200, 200, 403, 403]
--- backend_hits: 2



=== TEST 6: the directive repeated: all of them
--- request eval
["GET /both/1", "GET /both/2", "GET /both/3"]
--- more_headers eval
[::with_roles('admin'), ::with_roles('auditor'), ::with_roles('auditor', 'admin')]
--- error_code eval
[403, 403, 200]
--- backend_hits: 1



=== TEST 7: client roles count for the clients of auth_realm_client_roles only
--- request eval
["GET /client/1", "GET /client/2", "GET /account/3"]
--- more_headers eval
[auth(token(claims => { resource_access => { 'tenant-services' => { roles => ['case-read'] } } })),
 auth(token(claims => { resource_access => { 'other-client' => { roles => ['case-read'] } } })),
 $::OFFICER]
--- error_code eval
[200, 403, 403]



=== TEST 8: hostile role shapes are refused at authentication (401), never authorized
--- request eval
[map { "GET /admin/$_" } 1 .. 9]
--- more_headers eval
[auth(token(claims => { realm_access => { roles => 'admin' } })),
 auth(token(claims => { realm_access => { roles => [['admin']] } })),
 auth(token(claims => { realm_access => { roles => undef } })),
 auth(token(claims => { realm_access => { roles => ['admin', 1] } })),
 auth(token(claims => { realm_access => { roles => ['admin', undef] } })),
 auth(token(claims => { realm_access => { roles => ['admin', { admin => 1 }] } })),
 auth(token(claims => { realm_access => ['admin'] })),
 ::raw_payload(sub { $_[0] =~ s/"realm_access":\{[^}]*\}/"realm_access":null/ or die }),
 auth(token(claims => { resource_access => { 'tenant-services' => { roles => 'admin' } } }))]
--- error_code eval
[401, 401, 401, 401, 401, 401, 401, 401, 401]
--- reason eval
[('claim_invalid') x 9]
--- backend_hits: 0



=== TEST 9: duplicate members in the claims are refused (401), whichever copy holds the role
--- request eval
["GET /admin/1", "GET /admin/2", "GET /admin/3"]
--- more_headers eval
[::raw_payload(sub { $_[0] =~ s/^\{/{"realm_access":{"roles":["user"]},/ or die }),
 ::raw_payload(sub { $_[0] =~ s/\}$/,"realm_access":{"roles":["user"]}}/ or die }),
 ::raw_payload(sub { $_[0] =~ s/"realm_access":\{/"realm_access":{"roles":["user"],/ or die })]
--- error_code eval
[401, 401, 401]
--- reason eval
['duplicate_key', 'duplicate_key', 'duplicate_key']
--- backend_hits: 0



=== TEST 10: verified-token cache hits are authorized on every request; counters name the rule
--- request eval
["GET /open/1", "GET /admin/2", "GET /admin/3", "GET /any/4", "GET /realm-auth/status"]
--- more_headers eval
[$::OFFICER, $::OFFICER, $::OFFICER, $::OFFICER, ""]
--- error_code eval
[200, 403, 403, 403, 200]
--- status_json
verified 1
token_cache.hits 3
token_cache.misses 1
refused.require_role 3



=== TEST 11: a role-holder's cached token keeps passing
--- request eval
["GET /admin/1", "GET /admin/2", "GET /realm-auth/status"]
--- more_headers eval
[$::ADMIN, $::ADMIN, ""]
--- error_code eval
[200, 200, 200]
--- status_json
verified 2
token_cache.hits 1
refused.require_role 0



=== TEST 12: inheritance: kept by a location without its own, replaced by one with its own
--- request eval
["GET /inherit/keep/1", "GET /inherit/keep/2", "GET /inherit/replace/3", "GET /inherit/replace/4",
 "GET /inherit/x"]
--- more_headers eval
[::with_roles('auditor'), ::with_roles('admin'), ::with_roles('admin'), ::with_roles('auditor'),
 ::with_roles('auditor')]
--- error_code eval
[403, 200, 403, 200, 403]



=== TEST 13: another require directive adds to the inherited role rule
--- request eval
["GET /inherit/other-directive/1", "GET /inherit/other-directive/2",
 "GET /inherit/other-directive/3"]
--- more_headers eval
[auth(token(roles => ['admin'], claims => { tier => 'gold' })),
 auth(token(roles => ['auditor'], claims => { tier => 'gold' })),
 auth(token(roles => ['admin'], claims => { tier => 'silver' }))]
--- error_code eval
[200, 403, 403]
--- response_headers eval
[undef, "X-Auth-Error: require_role", "X-Auth-Error: require_claim"]



=== TEST 14: authentication still answers 401 first: no token, a bad token
--- request eval
["GET /admin/1", "GET /admin/2"]
--- more_headers eval
["", auth('a.b.c')]
--- error_code eval
[401, 401]
--- response_headers eval
["WWW-Authenticate: Bearer", 'X-Auth-Error: bad_base64']



=== TEST 15: a cached identity never brings one location's client roles into another's
--- request eval
["GET /client/1", "GET /client/2", "GET /other-clients/3", "GET /realm-auth/status"]
--- more_headers eval
my $t = auth(token(claims => { resource_access => { 'tenant-services' => { roles => ['case-read'] } } }));
[$t, $t, $t, ""]
--- error_code eval
[200, 200, 403, 200]
--- status_json
token_cache.hits 1
token_cache.misses 2
refused.require_role 1
