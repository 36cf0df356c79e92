# auth_realm_token $variable: the token taken from a cookie, a query
# argument or another header instead of `Authorization: Bearer`. The value
# is the bare token (no scheme), used as is; where the directive is set the
# Authorization header is not read at all (NGINX Plus's rule). Client-sent
# identity headers are still stripped, the verified-token cache and the
# require_* rules work the same, and the module never writes the token into
# the error log: its log lines leave out the request line when the token
# came from a variable (the token may be in the URL).
use Test::Nginx::Socket 'no_plan';
use RealmAuth::Test;

log_level('info');
no_long_string();
no_shuffle();

our $ALICE = user_id('tenant-a', 'alice');
our $TOKEN = token();
our $ADMIN = token(roles => ['admin']);
our $EXPIRED = token(exp_in => -600);
our $OTHER = token(username => 'bob');
our $BOB = user_id('tenant-a', 'bob');

# The three segments of a token, for "never in the log" checks.
sub segments { my @s = split /\./, $_[0]; return [@s] }

block_defaults(
    http_config => "    auth_realm_zone realm_auth:10m;\n",
    config => q{
        auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
        add_header X-Auth-Error $realm_auth_error always;
        location /cookie/ {
            auth_realm on;
            auth_realm_token $cookie_at;
            auth_realm_identity_headers on;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
            location /cookie/header/ {
                auth_realm_token off;
                proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
            }
            location /cookie/admin/ {
                auth_realm_require_role admin;
                proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
            }
        }
        location /query/ {
            auth_realm on;
            auth_realm_token $arg_access_token;
            auth_realm_identity_headers on;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
        location /hdr/ {
            auth_realm on;
            auth_realm_token $http_x_access_token;
            auth_realm_identity_headers on;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
        location /default/ {
            auth_realm on;
            auth_realm_identity_headers on;
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

=== TEST 1: cookie: verified, identity headers set, client-sent ones stripped
--- request
GET /cookie/x
--- more_headers eval
"Cookie: theme=dark; at=$::TOKEN; lang=en\nX-Actor-Id: forged\nX-Tenant-Id: evil"
--- error_code: 200
--- response_body_like eval
qr/^x-actor-id: \Q$::ALICE\E$/m
--- response_body_unlike: forged|evil



=== TEST 2: cookie location: a valid Authorization header alone is not read (401, bare challenge)
--- request
GET /cookie/x
--- more_headers eval
auth($::TOKEN)
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer
X-Auth-Error: token_missing
--- backend_hits: 0



=== TEST 3: cookie location: a bad Authorization header does not matter, the cookie decides
--- request
GET /cookie/x
--- more_headers eval
"Authorization: Bearer garbage\"\nCookie: at=$::OTHER"
--- error_code: 200
--- response_body_like eval
qr/^x-actor-id: \Q$::BOB\E$/m



=== TEST 4: the variable holds the bare token: a scheme, blanks or URL escapes make it malformed
--- request eval
["GET /cookie/1", "GET /query/2?access_token=" . ($::TOKEN =~ s/\./%2E/gr), "GET /hdr/3"]
--- more_headers eval
["Cookie: at=Bearer $::TOKEN", "", "X-Access-Token: Bearer $::TOKEN"]
--- error_code eval
[401, 401, 401]
--- reason eval
['token_malformed', 'token_malformed', 'token_malformed']



=== TEST 5: query argument and another header
--- request eval
["GET /query/1?a=b&access_token=$::TOKEN", "GET /hdr/2"]
--- more_headers eval
["", "X-Access-Token: $::TOKEN"]
--- error_code eval
[200, 200]
--- response_body_like eval
[qr/^x-actor-id: \Q$::ALICE\E$/m, qr/^x-actor-id: \Q$::ALICE\E$/m]



=== TEST 6: empty or absent: token_missing
--- request eval
["GET /query/1?access_token=", "GET /query/2", "GET /cookie/3"]
--- more_headers eval
["", "", "Cookie: at="]
--- error_code eval
[401, 401, 401]
--- response_headers eval
["WWW-Authenticate: Bearer", "WWW-Authenticate: Bearer", "WWW-Authenticate: Bearer"]



=== TEST 7: a token in the URL is refused without being written to the error log
--- request eval
"GET /query/x?access_token=$::EXPIRED"
--- error_code: 401
--- reason: expired
--- error_log eval
[qr/realm_auth: token refused: expired, client: 127\.0\.0\.1, server: \S*, request: "GET \/query\/x"/]
--- no_error_log eval
[@{ ::segments($::EXPIRED) }, 'access_token']



=== TEST 8: an authorization denial of a URL token is not written to the log either
--- request eval
"GET /cookie/admin/x?t=$::TOKEN"
--- more_headers eval
"Cookie: at=$::TOKEN"
--- error_code: 403
--- error_log
access denied: require_role
--- no_error_log eval
[@{ ::segments($::TOKEN) }]



=== TEST 9: auth_realm_token off in a nested location: the Authorization header again
--- request eval
["GET /cookie/header/1", "GET /cookie/header/2"]
--- more_headers eval
[auth($::TOKEN), "Cookie: at=$::TOKEN"]
--- error_code eval
[200, 401]



=== TEST 10: the default location still reads Authorization only
--- request eval
["GET /default/1", "GET /default/2?access_token=$::TOKEN"]
--- more_headers eval
[auth($::TOKEN), "Cookie: at=$::TOKEN"]
--- error_code eval
[200, 401]



=== TEST 11: the verified-token cache serves variable-sourced tokens; require_* applies to them
--- request eval
["GET /cookie/1", "GET /cookie/admin/2", "GET /cookie/admin/3", "GET /realm-auth/status"]
--- more_headers eval
["Cookie: at=$::ADMIN", "Cookie: at=$::ADMIN", "Cookie: at=$::TOKEN", ""]
--- error_code eval
[200, 200, 403, 200]
--- status_json
verified 2
token_cache.hits 1
token_cache.misses 2
refused.require_role 1
