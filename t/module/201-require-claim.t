# auth_realm_require_claim name eq|in|contains value… on top-level claims,
# with exact JSON types (values on the directive are JSON literals: '"1"'
# is a string, 1 a number, true a boolean), and the NGINX Plus-style
# auth_realm_require $variable … [error=401|403] (passes when every value is
# non-empty and not "0"). Failures are 403 insufficient_scope (401 with
# error=401 on auth_realm_require), named require_claim / require in
# $realm_auth_error and the counters; cache hits are authorized too;
# duplicate claims never get that far (401 duplicate_key).
use Test::Nginx::Socket 'no_plan';
use RealmAuth::Test;

use JSON::PP ();

log_level('info');
no_long_string();
no_shuffle();

my $JSON = JSON::PP->new->canonical;
sub enc { $JSON->encode($_[0]) }

sub claim_desc { 'WWW-Authenticate: Bearer error="insufficient_scope", '
    . 'error_description="claim requirement not met"' }
sub require_desc { 'WWW-Authenticate: Bearer error="insufficient_scope", '
    . 'error_description="request not permitted"' }

# A tenant-a token with these extra claims (undef deletes one).
sub with { auth(token(claims => {@_})) }

# Signed tenant-a token: the default claims' JSON text, edited.
sub raw_payload {
    my ($edit, %claims) = @_;
    my $text = enc(claims(claims => \%claims));
    $edit->($text);
    my $header = enc({ alg => 'RS256', typ => 'JWT', kid => realm_kid('tenant-a') });
    return auth(sign_raw($header, $text));
}

our $GOLD = with(tier => 'gold');
our $SILVER = with(tier => 'silver');

block_defaults(
    http_config => q{
    auth_realm_zone realm_auth:10m;
    map $jwt_claim_tier $is_gold {
        gold     1;
        default  0;
    }
    map $jwt_claim_tier $not_bronze {
        bronze   0;
        default  1;
    }
    map $jwt_claim_department $in_finance {
        finance  yes;
        default  "";
    }
},
    config => q{
        auth_realm on;
        auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
        add_header X-Auth-Error $realm_auth_error always;
        location /open/ {
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
        location /gold/ {
            auth_realm_require_claim tier eq '"gold"';
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
        location /tiers/ {
            auth_realm_require_claim tier in '"gold"' '"silver"';
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
        location /level/ {
            auth_realm_require_claim level eq 3;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
        location /level-string/ {
            auth_realm_require_claim level eq '"3"';
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
        location /verified/ {
            auth_realm_require_claim email_verified eq true;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
        location /groups/ {
            auth_realm_require_claim groups contains '"ops"' '"sre"';
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
        location /null/ {
            auth_realm_require_claim legacy eq null;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
        location /both/ {
            auth_realm_require_claim tier eq '"gold"';
            auth_realm_require_claim groups contains '"ops"';
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
        location /var/ {
            auth_realm_require $is_gold;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
        location /var401/ {
            auth_realm_require $is_gold error=401;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
        location /vars/ {
            auth_realm_require $is_gold $in_finance;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
        location /not-bronze/ {
            # evaluated (and cached by nginx) before the token is verified
            set $early $not_bronze;
            auth_realm_require $not_bronze;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
        location /realm-var/ {
            auth_realm_require $realm_department_id;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
        location /inherit/ {
            auth_realm_require_claim tier eq '"gold"';
            location /inherit/replace/ {
                auth_realm_require_claim tier eq '"silver"';
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

=== TEST 1: eq with a string: exact value and type
--- request eval
[map { "GET /gold/$_" } 1 .. 7]
--- more_headers eval
[$::GOLD, $::SILVER, ::with(tier => 'Gold'), ::with(tier => ['gold']), ::with(tier => { gold => 1 }),
 ::with(tier => 'gold '), ::with(tier => undef)]
--- error_code eval
[200, 403, 403, 403, 403, 403, 403]
--- response_headers eval
["!WWW-Authenticate", ::claim_desc() . "\nX-Auth-Error: require_claim", ("X-Auth-Error: require_claim") x 5]
--- backend_hits: 1



=== TEST 2: the denial is logged at info naming the directive, never the token's value
--- request
GET /gold/x
--- more_headers eval
$::SILVER
--- error_code: 403
--- error_log eval
qr/\[info\] .*realm_auth: access denied: require_claim \(auth_realm_require_claim "tier" at [^)]*nginx\.conf:\d+\)/
--- no_error_log
silver



=== TEST 3: numbers are not strings, strings are not numbers
--- request eval
["GET /level/1", "GET /level/2", "GET /level/3", "GET /level-string/4", "GET /level-string/5",
 "GET /level/6"]
--- more_headers eval
[::with(level => 3), ::with(level => '3'), ::with(level => 4), ::with(level => '3'),
 ::with(level => 3), ::with(level => [3])]
--- error_code eval
[200, 403, 403, 200, 403, 403]



=== TEST 4: booleans are not strings or numbers
--- request eval
["GET /verified/1", "GET /verified/2", "GET /verified/3", "GET /verified/4", "GET /verified/5"]
--- more_headers eval
[::with(email_verified => JSON::PP::true), ::with(email_verified => 'true'),
 ::with(email_verified => 1), ::with(email_verified => JSON::PP::false),
 ::with(email_verified => undef)]
--- error_code eval
[200, 403, 403, 403, 403]



=== TEST 5: in: one of the values, scalars only
--- request eval
["GET /tiers/1", "GET /tiers/2", "GET /tiers/3", "GET /tiers/4", "GET /tiers/5"]
--- more_headers eval
[$::GOLD, $::SILVER, ::with(tier => 'bronze'), ::with(tier => ['gold', 'silver']),
 ::with(tier => undef)]
--- error_code eval
[200, 200, 403, 403, 403]



=== TEST 6: contains: an array with one of the values; strings, nesting and case do not count
--- request eval
[map { "GET /groups/$_" } 1 .. 8]
--- more_headers eval
[::with(groups => ['dev', 'ops']), ::with(groups => ['sre']), ::with(groups => 'ops'),
 ::with(groups => [['ops']]), ::with(groups => [{ ops => 1 }]), ::with(groups => ['OPS', 'Ops']),
 ::with(groups => []), ::with(groups => undef)]
--- error_code eval
[200, 200, 403, 403, 403, 403, 403, 403]



=== TEST 7: eq null: a present null only, never an absent claim
--- request eval
["GET /null/1", "GET /null/2", "GET /null/3", "GET /null/4"]
--- more_headers eval
[::raw_payload(sub { $_[0] =~ s/^\{/{"legacy":null,/ or die }), ::with(legacy => undef),
 ::with(legacy => ''), ::with(legacy => JSON::PP::false)]
--- error_code eval
[200, 403, 403, 403]



=== TEST 8: duplicate claim members are refused at authentication, in either order
--- request eval
["GET /gold/1", "GET /gold/2", "GET /open/3"]
--- more_headers eval
[::raw_payload(sub { $_[0] =~ s/^\{/{"tier":"gold",/ or die }, tier => 'silver'),
 ::raw_payload(sub { $_[0] =~ s/^\{/{"tier":"silver",/ or die }, tier => 'gold'),
 ::raw_payload(sub { $_[0] =~ s/^\{/{"tier":"gold",/ or die }, tier => 'gold')]
--- error_code eval
[401, 401, 401]
--- reason eval
['duplicate_key', 'duplicate_key', 'duplicate_key']
--- backend_hits: 0



=== TEST 9: two directives: both must pass
--- request eval
["GET /both/1", "GET /both/2", "GET /both/3"]
--- more_headers eval
[::with(tier => 'gold', groups => ['ops']), ::with(tier => 'gold', groups => ['dev']),
 ::with(tier => 'silver', groups => ['ops'])]
--- error_code eval
[200, 403, 403]



=== TEST 10: auth_realm_require $variable: non-empty and not "0" passes; 403 by default
--- request eval
["GET /var/1", "GET /var/2", "GET /var/3"]
--- more_headers eval
[$::GOLD, $::SILVER, ::with(tier => undef)]
--- error_code eval
[200, 403, 403]
--- response_headers eval
["!WWW-Authenticate", ::require_desc() . "\nX-Auth-Error: require", "X-Auth-Error: require"]



=== TEST 10b: the denial by auth_realm_require is logged naming the directive
--- request
GET /var/x
--- more_headers eval
$::SILVER
--- error_code: 403
--- error_log eval
qr/\[info\] .*realm_auth: access denied: require \(auth_realm_require at [^)]*nginx\.conf:\d+\)/



=== TEST 11: error=401: the answer an authentication failure gets
--- request eval
["GET /var401/1", "GET /var401/2"]
--- more_headers eval
[$::GOLD, $::SILVER]
--- error_code eval
[200, 401]
--- response_headers eval
["!WWW-Authenticate",
 "WWW-Authenticate: Bearer error=\"invalid_token\", error_description=\"request not permitted\"\nX-Auth-Error: require"]



=== TEST 12: several variables: all must pass (empty fails as "0" does)
--- request eval
["GET /vars/1", "GET /vars/2", "GET /vars/3"]
--- more_headers eval
[::with(tier => 'gold', department => 'finance'), ::with(tier => 'gold', department => 'hr'),
 ::with(tier => 'silver', department => 'finance')]
--- error_code eval
[200, 403, 403]



=== TEST 13: the module's own variables are set when auth_realm_require reads them
--- request eval
["GET /realm-var/1", "GET /realm-var/2"]
--- more_headers eval
[::with(department_id => 'dept-7'), ::with(department_id => undef)]
--- error_code eval
[200, 403]



=== TEST 14: cache hits are authorized on every request, each rule counted by name
--- request eval
["GET /open/1", "GET /gold/2", "GET /tiers/3", "GET /var/4", "GET /gold/5", "GET /realm-auth/status"]
--- more_headers eval
[$::SILVER, $::SILVER, $::SILVER, $::SILVER, $::SILVER, ""]
--- error_code eval
[200, 403, 200, 403, 403, 200]
--- status_json
verified 2
token_cache.hits 4
token_cache.misses 1
refused.require_claim 2
refused.require 1



=== TEST 15: inheritance: a location's own require_claim replaces the inherited one
--- request eval
["GET /inherit/1", "GET /inherit/2", "GET /inherit/replace/3", "GET /inherit/replace/4"]
--- more_headers eval
[$::GOLD, $::SILVER, $::GOLD, $::SILVER]
--- error_code eval
[200, 403, 403, 200]



=== TEST 16: a map nginx evaluated before verification is evaluated again for the check
--- request eval
["GET /not-bronze/1", "GET /not-bronze/2"]
--- more_headers eval
[::with(tier => 'bronze'), $::GOLD]
--- error_code eval
[403, 200]
