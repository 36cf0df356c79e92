# The module's variables: $realm_* and the NGINX Plus-compatible
# $jwt_claim_<name> / $jwt_header_<name>. Each is sent to the /echo/
# upstream as an X-V-* header (nginx drops a header whose value is empty,
# so an empty variable shows as a missing line).
use Test::Nginx::Socket 'no_plan';
use RealmAuth::Test;

log_level('info');
no_long_string();
no_shuffle();

our %SET = (
    'X-V-Actor-Id'      => '$realm_actor_id',
    'X-V-Tenant-Id'     => '$realm_tenant_id',
    'X-V-Name'          => '$realm_name',
    'X-V-Issuer'        => '$realm_issuer',
    'X-V-Roles'         => '$realm_roles',
    'X-V-Username'      => '$realm_username',
    'X-V-Email'         => '$realm_email',
    'X-V-Department-Id' => '$realm_department_id',
    'X-V-Purpose'       => '$realm_purpose',
    'X-V-Auth-Error'    => '$realm_auth_error',
    'X-V-Sub'           => '$jwt_claim_sub',
    'X-V-Preferred'     => '$jwt_claim_preferred_username',
    'X-V-Aud'           => '$jwt_claim_aud',
    'X-V-Exp'           => '$jwt_claim_exp',
    'X-V-Absent'        => '$jwt_claim_no_such_claim',
    'X-V-Kid'           => '$jwt_header_kid',
    'X-V-Alg'           => '$jwt_header_alg',
    'X-V-Typ'           => '$jwt_header_typ',
);
our $PROXY_SET = join '', map { "            proxy_set_header $_ \"$SET{$_}\";\n" } sort keys %SET;

our $EXP = time + 3600;
our $TOKEN = token(realm => 'tenant-a', alg => 'ES256', aud => ['tenant-services', 'account'],
                   claims => { exp => $EXP, department_id => 'dept-7' });

# (built with a heredoc: q{} would see the braces of the location block)
our $CONFIG = <<"_EOC_";
        location /api/ {
            auth_realm on;
            auth_realm_issuer \$TEST_NGINX_ISSUER/realms/tenant-*;
            add_header X-Auth-Error \$realm_auth_error always;
$PROXY_SET
            proxy_pass http://127.0.0.1:\$TEST_NGINX_ISSUER_PORT/echo/;
        }
_EOC_

block_defaults(
    http_config => "    auth_realm_zone realm_auth:10m;\n",
    config => $CONFIG,
    request => 'GET /api/whoami',
    no_error_log => "[alert]\n[crit]",
);

run_tests();

__DATA__

=== TEST 1: every variable after a successful verification
--- more_headers eval
auth($::TOKEN) . "\nX-Purpose: case-review"
--- response_body eval
"uri: /echo/whoami\n"
. "x-purpose: case-review\n"
. "x-v-actor-id: " . user_id('tenant-a', 'alice') . "\n"
. "x-v-alg: ES256\n"
. "x-v-aud: tenant-services,account\n"
. "x-v-department-id: dept-7\n"
. "x-v-email: alice\@example.com\n"
. "x-v-exp: $::EXP\n"
. "x-v-issuer: " . realm_iss('tenant-a') . "\n"
. "x-v-kid: " . realm_kid('tenant-a', 'ES256') . "\n"
. "x-v-name: tenant-a\n"
. "x-v-preferred: alice\n"
. "x-v-purpose: case-review\n"
. "x-v-roles: default-roles-tenant-a,offline_access,uma_authorization,officer\n"
. "x-v-sub: " . user_id('tenant-a', 'alice') . "\n"
. "x-v-tenant-id: a\n"
. "x-v-typ: JWT\n"
. "x-v-username: alice\n"
--- response_headers
!X-Auth-Error



=== TEST 2: an object claim is JSON ($jwt_claim_realm_access)
--- config
        location /api/ {
            auth_realm on;
            auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
            proxy_set_header X-V-Realm-Access $jwt_claim_realm_access;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
--- more_headers eval
bearer(roles => ['officer', 'auditor'])
--- response_body_like eval
qr/^x-v-realm-access: \{\s*"roles"\s*:\s*\[\s*"default-roles-tenant-a"\s*,\s*"offline_access"\s*,\s*"uma_authorization"\s*,\s*"officer"\s*,\s*"auditor"\s*\]\s*\}$/m



=== TEST 3: the nested object claim as JSON
--- config
        location /api/ {
            auth_realm on;
            auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
            proxy_set_header X-V-Resource-Access $jwt_claim_resource_access;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
--- more_headers eval
bearer(claims => { resource_access => { 'tenant-services' => { roles => ['case_reader'] } } })
--- response_body_like eval
qr/^x-v-resource-access: \{\s*"tenant-services"\s*:\s*\{\s*"roles"\s*:\s*\[\s*"case_reader"\s*\]\s*\}\s*\}$/m



=== TEST 4: $realm_auth_error names the refusal (response header, always)
--- more_headers eval
bearer(exp_in => -3600)
--- error_code: 401
--- response_headers
X-Auth-Error: expired
--- reason: expired



=== TEST 5: $realm_auth_error for other refusals
--- request eval
["GET /api/whoami", "GET /api/whoami", "GET /api/whoami"]
--- more_headers eval
[bearer(kid => 'no-such-kid'), bearer(iss => "$ENV{TEST_NGINX_ISSUER}/realms/platform"), bearer(claims => { sub => undef })]
--- error_code eval
[401, 401, 401]
--- response_headers eval
["X-Auth-Error: key_not_found", "X-Auth-Error: issuer_not_allowed", "X-Auth-Error: sub_missing"]
--- reason eval
['key_not_found', 'issuer_not_allowed', 'sub_missing']



=== TEST 6: $realm_auth_error in an access log line
--- http_config
    auth_realm_zone realm_auth:10m;
    log_format realm '$status err=$realm_auth_error actor=$realm_actor_id tenant=$realm_tenant_id';
--- config
        location /api/ {
            auth_realm on;
            auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
            access_log logs/access.log realm;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
--- more_headers eval
bearer(alg => 'EdDSA', exp_in => -3600)
--- error_code: 401
--- access_log eval
[qr/^401 err=expired actor=-? tenant=-?$/]
--- reason: expired



=== TEST 7: a successful request's access log line carries the identity
--- http_config
    auth_realm_zone realm_auth:10m;
    log_format realm '$status err=$realm_auth_error actor=$realm_actor_id tenant=$realm_tenant_id';
--- config
        location /api/ {
            auth_realm on;
            auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
            access_log logs/access.log realm;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
--- more_headers eval
bearer(realm => 'tenant-b', username => 'bob')
--- access_log eval
[qr/^200 err=-? actor=\Q${\ user_id('tenant-b', 'bob') }\E tenant=b$/]



=== TEST 8: variables are empty where auth_realm is off
--- config
        location /open/ {
            proxy_set_header X-V-Actor-Id "$realm_actor_id";
            proxy_set_header X-V-Sub "$jwt_claim_sub";
            proxy_set_header X-V-Auth-Error "$realm_auth_error";
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
--- request
GET /open/x
--- more_headers eval
bearer()
--- response_body
uri: /echo/x
