# No value the module hands nginx carries a control byte (0x00-0x1f, 0x7f;
# tab included). The rule (core, verify_token): a token with a control byte
# in any string of its header or claims, member names included, is refused
# as claim_invalid, so $jwt_claim_* / $jwt_header_* in add_header or
# proxy_set_header and the identity headers can never split a header.
# The client's own X-Purpose follows the purpose rule (045-purpose.t).
use Test::Nginx::Socket 'no_plan';
use RealmAuth::Test;

log_level('info');
no_long_string();
no_shuffle();

block_defaults(
    http_config => "    auth_realm_zone realm_auth:10m;\n",
    config => q{
        location /api/ {
            auth_realm on;
            auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
            auth_realm_identity_headers on;
            add_header X-Note "$jwt_claim_note" always;
            add_header X-Hint "$jwt_header_hint" always;
            proxy_set_header X-V-Note "$jwt_claim_note";
            proxy_set_header X-V-List "$jwt_claim_list";
            proxy_set_header X-V-Obj "$jwt_claim_obj";
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
    },
    request => 'GET /api/x',
    no_error_log => "[alert]\n[crit]",
);

run_tests();

__DATA__

=== TEST 1: CR LF in a claim used by add_header and proxy_set_header: refused
--- more_headers eval
bearer(claims => { note => "ok\r\nX-Injected: yes" })
--- error_code: 401
--- raw_response_headers_unlike: (?i)x-injected
--- reason: claim_invalid
--- backend_hits: 0



=== TEST 2: LF in a JOSE header member ($jwt_header_*): refused
--- more_headers eval
bearer(header => { hint => "a\nX-Injected: yes" })
--- error_code: 401
--- raw_response_headers_unlike: (?i)x-injected
--- reason: claim_invalid
--- backend_hits: 0



=== TEST 3: CR LF inside an array claim (rendered comma-joined): refused
--- more_headers eval
bearer(claims => { list => ['a', "b\r\nX-Injected: yes"] })
--- error_code: 401
--- reason: claim_invalid
--- backend_hits: 0



=== TEST 4: DEL inside an object claim (rendered as JSON, which keeps DEL raw): refused
--- more_headers eval
bearer(claims => { obj => { k => "a\x{7f}b" } })
--- error_code: 401
--- reason: claim_invalid
--- backend_hits: 0



=== TEST 5: a tab is a control byte too
--- more_headers eval
bearer(claims => { note => "a\tb" })
--- error_code: 401
--- reason: claim_invalid
--- backend_hits: 0



=== TEST 6: a control byte in a member name
--- more_headers eval
bearer(claims => { "no\ntes" => 'x' })
--- error_code: 401
--- reason: claim_invalid
--- backend_hits: 0



=== TEST 7: values without control bytes pass as they are (spaces, quotes)
--- more_headers eval
bearer(claims => { note => 'fine, "quoted" and spaced' }, header => { hint => 'h 1' })
--- response_headers
X-Note: fine, "quoted" and spaced
X-Hint: h 1
--- backend_hits: 1



=== TEST 8: identity header channel: DEL in preferred_username is refused
--- more_headers eval
bearer(claims => { preferred_username => "ali\x{7f}ce" })
--- error_code: 401
--- reason: claim_invalid
--- backend_hits: 0



=== TEST 9: identity header channel: LF in email is refused
--- more_headers eval
bearer(claims => { email => "a\@example.com\nX-Injected: yes" })
--- error_code: 401
--- raw_response_headers_unlike: (?i)x-injected
--- reason: claim_invalid
--- backend_hits: 0



=== TEST 10: the same token with clean values verifies and reaches the upstream
--- more_headers eval
bearer(claims => { note => 'clean', list => ['a', 'b'], obj => { k => 'v' } })
--- response_body_like eval
qr/x-v-list: a,b\nx-v-note: clean\nx-v-obj: \{"k":"v"\}\n\z/
--- backend_hits: 1
