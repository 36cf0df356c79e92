# Client-sent identity headers (X-Actor-*, X-Tenant-Id, X-Realm-*, with
# '-' and '_' folded, any case) never reach an upstream of a server where
# auth_realm is configured, whatever the access decision: `satisfy any`
# with `allow`, error_page fallbacks that proxy, internal redirects,
# locations without auth_realm. auth_realm_strip_identity_headers on does
# the same in servers without auth_realm. X-Purpose reaches upstreams as the
# one value the module selected (see 045-purpose.t), or not at all.
# HTTP/2 is in 036-identity-strip-h2.t.
use Test::Nginx::Socket 'no_plan';
use RealmAuth::Test;

log_level('info');
no_long_string();
no_shuffle();

our $ALICE = user_id('tenant-a', 'alice');
our $ROLES = 'default-roles-tenant-a,offline_access,uma_authorization,officer';

# Every reserved spelling a client might try, duplicates included.
our $SPOOF = join "\n",
    'X-Tenant-Id: evil',
    'x-tenant-id: evil-again',
    'X-TENANT-ID: EVIL',
    'X-Actor-Id: evil',
    'X-Actor-Roles: platform_admin',
    'X-Realm-Name: platform',
    'X-Realm-Anything: evil',
    'X_Tenant_Id: evil_underscore',
    'x_actor_roles: tenant_admin',
    'X-Realm_Name: mixed',
    'X_ACTOR-ID: mixed',
    'X-Other: kept',
    'X_Other_Thing: kept';

our $KEPT = "x-other: kept\nx-other-thing: kept\n";

block_defaults(
    http_config => "    auth_realm_zone realm_auth:10m;\n",
    config => q{
        underscores_in_headers on;
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

=== TEST 1: satisfy any + allow: no token, the request passes, spoofed identity does not
--- config
        underscores_in_headers on;
        location /api/ {
            satisfy any;
            allow 127.0.0.1;
            deny all;
            auth_realm on;
            auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
            auth_realm_identity_headers on;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
--- more_headers eval
$::SPOOF
--- response_body eval
"uri: /echo/x\n$::KEPT"
--- backend_hits: 1



=== TEST 2: satisfy any + allow: a refused token, spoofed identity does not pass either
--- config
        underscores_in_headers on;
        location /api/ {
            satisfy any;
            allow 127.0.0.1;
            deny all;
            auth_realm on;
            auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
            auth_realm_identity_headers on;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
--- more_headers eval
bearer(exp_in => -3600) . "\n$::SPOOF"
--- response_body eval
"uri: /echo/x\n$::KEPT"
--- reason: expired



=== TEST 3: error_page 401 = @named fallback that proxies
--- config
        underscores_in_headers on;
        location /api/ {
            auth_realm on;
            auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
            error_page 401 = @public;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
        location @public {
            rewrite ^ /echo/public break;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT;
        }
--- more_headers eval
$::SPOOF
--- response_body eval
"uri: /echo/public\n$::KEPT"



=== TEST 4: error_page 401 to a URI (internal redirect) that proxies
--- config
        underscores_in_headers on;
        location /api/ {
            auth_realm on;
            auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
            error_page 401 =200 /fallback/;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
        location /fallback/ {
            internal;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/fallback/;
        }
--- more_headers eval
bearer(kid => 'no-such-kid') . "\n$::SPOOF"
--- response_body eval
"uri: /echo/fallback/\n$::KEPT"
--- reason: key_not_found



=== TEST 5: a location without auth_realm in the same server
--- config
        underscores_in_headers on;
        location /api/ {
            auth_realm on;
            auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
        location /open/ {
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/open/;
        }
--- request
GET /open/x
--- more_headers eval
$::SPOOF
--- response_body eval
"uri: /echo/open/x\n$::KEPT"



=== TEST 6: rewrite ... last (internal redirect) into a location without auth_realm
--- config
        underscores_in_headers on;
        location /go/ {
            rewrite ^/go/(.*)$ /open/$1 last;
        }
        location /open/ {
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/open/;
        }
        location /api/ {
            auth_realm on;
            auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
        }
--- request
GET /go/x
--- more_headers eval
$::SPOOF
--- response_body eval
"uri: /echo/open/x\n$::KEPT"



=== TEST 7: verified request: only the verified identity, in every spelling
--- config
        underscores_in_headers on;
        location /api/ {
            auth_realm on;
            auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
            auth_realm_identity_headers on;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
--- more_headers eval
bearer() . "\n$::SPOOF"
--- response_body eval
"uri: /echo/x\n"
. "x-actor-email: alice\@example.com\nx-actor-id: $::ALICE\nx-actor-roles: $::ROLES\n"
. "x-actor-username: alice\n$::KEPT"
. "x-realm-name: tenant-a\nx-tenant-id: a\n"



=== TEST 8: FastCGI-style names: $http_x_tenant_id ('-' and '_' are one variable) is the verified one
# nginx's $http_ variables, fastcgi_param/uwsgi/scgi (HTTP_X_TENANT_ID) fold
# '-' into '_': a client's X_Tenant_Id placed before the module's
# X-Tenant-Id would win the lookup.
--- config
        underscores_in_headers on;
        location /api/ {
            auth_realm on;
            auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
            auth_realm_identity_headers on;
            add_header X-Seen-Tenant "[$http_x_tenant_id]" always;
            add_header X-Seen-Roles "[$http_x_actor_roles]" always;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
--- more_headers eval
bearer() . "\nX_Tenant_Id: evil\nx_actor_roles: platform_admin"
--- response_headers eval
"X-Seen-Tenant: [a]\nX-Seen-Roles: [$::ROLES]"



=== TEST 9: identity headers off: underscore spellings are dropped too
--- more_headers eval
bearer() . "\n$::SPOOF"
--- response_body eval
"uri: /echo/x\n$::KEPT"



=== TEST 10: auth_realm_strip_identity_headers on: a server without auth_realm strips them too
--- http_config
    auth_realm_strip_identity_headers on;
--- config
        underscores_in_headers on;
        location /plain/ {
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/plain/;
        }
--- request
GET /plain/x
--- more_headers eval
$::SPOOF
--- response_body eval
"uri: /echo/plain/x\n$::KEPT"



=== TEST 11: default (off): a server without auth_realm is left alone
--- http_config
--- config
        location /plain/ {
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/plain/;
        }
--- request
GET /plain/x
--- more_headers
X-Tenant-Id: theirs
X-Other: kept
--- response_body
uri: /echo/plain/x
x-other: kept
x-tenant-id: theirs



=== TEST 12: unverified paths get no ambiguous X-Purpose either
--- config
        location /api/ {
            satisfy any;
            allow 127.0.0.1;
            deny all;
            auth_realm on;
            auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
--- more_headers
X-Purpose:
X-Purpose: smuggled
X-Other: kept
--- response_body
uri: /echo/x
x-other: kept



=== TEST 13: unverified paths get the one valid X-Purpose as sent
--- config
        location /api/ {
            satisfy any;
            allow 127.0.0.1;
            deny all;
            auth_realm on;
            auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
--- more_headers
X-Purpose: case-review
--- response_body
uri: /echo/x
x-purpose: case-review



=== TEST 14: a subrequest (SSI include) that proxies sees the cleaned headers too
--- config
        underscores_in_headers on;
        location /page/ {
            ssi on;
            default_type text/html;
            return 200 '<!--# include virtual="/open/x" -->';
        }
        location /open/ {
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/open/;
        }
        location /api/ {
            auth_realm on;
            auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
        }
--- request
GET /page/x
--- more_headers eval
$::SPOOF
--- response_body eval
"uri: /echo/open/x\n$::KEPT"



=== TEST 15: "auth_realm_strip_identity_headers off" cannot turn it off where auth_realm is configured
--- config
        underscores_in_headers on;
        auth_realm_strip_identity_headers off;
        location /api/ {
            satisfy any;
            allow 127.0.0.1;
            deny all;
            auth_realm on;
            auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
--- more_headers eval
$::SPOOF
--- response_body eval
"uri: /echo/x\n$::KEPT"
