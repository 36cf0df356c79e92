# auth_realm_identity: the module answers with the identity it verified, as
# JSON (/api/whoami of the local stack), after the access phase: no token
# is 401, the rules of the location apply, a purpose or claim with quotes
# and backslashes stays a string of the document, and a location that does
# not verify never answers with an identity.
use Test::Nginx::Socket 'no_plan';
use RealmAuth::Test;
use JSON::PP;

log_level('info');
no_long_string();
no_shuffle();

our $EXP = time + 3600;
our $TOKEN = token(realm => 'tenant-a', alg => 'ES256', aud => ['tenant-services'],
                   claims => { exp => $EXP, department_id => 'dept-7' });
our $QUOTED = token(realm => 'tenant-a', alg => 'ES256', aud => ['tenant-services'],
                    claims => { exp => $EXP, email => q{a"b\\c@example.com} });

our $CONFIG = <<"_EOC_";
        location = /api/whoami {
            auth_realm on;
            auth_realm_issuer \$TEST_NGINX_ISSUER/realms/tenant-*;
            auth_realm_audience tenant-services;
            auth_realm_require_purpose on;
            auth_realm_identity;
        }
        location = /unverified {
            auth_realm_identity;
        }
_EOC_

block_defaults(
    http_config => "    auth_realm_zone realm_auth:10m;\n",
    config => $CONFIG,
    request => 'GET /api/whoami',
    no_error_log => "[alert]\n[crit]",
);

sub doc { JSON::PP->new->canonical->encode({ @_ }) . "\n" }

run_tests();

__DATA__

=== TEST 1: the verified identity, as JSON
--- more_headers eval
auth($::TOKEN) . "\nX-Purpose: case-review"
--- response_headers
Content-Type: application/json
--- response_body eval
::doc(actor_id => user_id('tenant-a', 'alice'), department_id => 'dept-7',
      email => 'alice@example.com', expires_at => $::EXP, issuer => realm_iss('tenant-a'),
      purpose => 'case-review', realm => 'tenant-a',
      roles => ['default-roles-tenant-a', 'offline_access', 'uma_authorization', 'officer'],
      tenant_id => 'a', username => 'alice')



=== TEST 2: quotes and backslashes in the purpose and a claim stay strings
--- more_headers eval
auth($::QUOTED) . qq{\nX-Purpose: see "me" \\ and ","roles":["platform_admin"]}
--- response_body eval
::doc(actor_id => user_id('tenant-a', 'alice'), department_id => undef,
      email => q{a"b\\c@example.com}, expires_at => $::EXP, issuer => realm_iss('tenant-a'),
      purpose => q{see "me" \\ and ","roles":["platform_admin"]}, realm => 'tenant-a',
      roles => ['default-roles-tenant-a', 'offline_access', 'uma_authorization', 'officer'],
      tenant_id => 'a', username => 'alice')



=== TEST 3: no token: 401 with the Bearer challenge, no identity
--- more_headers
X-Purpose: case-review
--- error_code: 401
--- response_headers_like
WWW-Authenticate: ^Bearer
--- response_body_unlike: actor_id



=== TEST 4: the location's rules apply (no purpose: refused)
--- more_headers eval
auth($::TOKEN)
--- error_code: 400
--- response_body_unlike: actor_id



=== TEST 5: a location without auth_realm never answers with an identity
--- request
GET /unverified
--- more_headers eval
auth($::TOKEN)
--- error_code: 500
--- response_body_unlike: actor_id
--- error_log
auth_realm_identity in a location without a verified token
--- no_error_log
[alert]



=== TEST 6: only GET and HEAD
--- request
POST /api/whoami
--- more_headers eval
auth($::TOKEN) . "\nX-Purpose: case-review"
--- error_code: 405



=== TEST 7: $realm_identity_json, the same document, fits a header (ASCII)
--- config
        location /api/ {
            auth_realm on;
            auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
            proxy_set_header X-V-Identity $realm_identity_json;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
--- more_headers eval
auth($::QUOTED) . "\nX-Purpose: r\xc3\xa9view"
--- response_body_like eval
qr/^x-v-identity: \{"actor_id":"[^"]+","department_id":null,"email":"a\\"b\\\\c\@example\.com",.*"purpose":"r\\u00E9view",.*"username":"alice"\}$/m



=== TEST 8: a purpose that is not UTF-8 shows U+FFFD, the document stays whole
--- more_headers eval
auth($::TOKEN) . "\nX-Purpose: r\xe9view"
--- response_body_like eval
qr/^\{"actor_id":"[^"]+",.*"purpose":"r\\uFFFDview",.*"username":"alice"\}$/
