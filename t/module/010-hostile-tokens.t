# Hostile and broken tokens: every one is refused with 401 and
# `WWW-Authenticate: Bearer error="invalid_token", ...`, the reason is logged
# at info ("realm_auth: token refused: <reason>", docs/MODULE.md "Refusal reasons"), the
# backend never sees the request, and nothing about keys leaks into the body.
# Where the spec allows two readings, --- reason lists both ("a|b").
use Test::Nginx::Socket 'no_plan';
use RealmAuth::Test;

use Crypt::JWT qw(encode_jwt);
use Crypt::Misc qw(decode_b64u);
use JSON::PP ();

log_level('info');
no_long_string();
no_shuffle();

our $ISS = $ENV{TEST_NGINX_ISSUER};
my $JSON = JSON::PP->new->canonical;

# ---- helpers used from the blocks' eval sections (as ::name) ----

sub enc { $JSON->encode($_[0]) }

# Header of a normal tenant-a RS256 token, with overrides (undef deletes).
sub hdr {
    my (%over) = @_;
    my %h = (alg => 'RS256', typ => 'JWT', kid => realm_kid('tenant-a', 'RS256'), %over);
    delete $h{$_} for grep { !defined $h{$_} } keys %h;
    return \%h;
}

# Token made of arbitrary header/payload text, signed with tenant-a's key.
sub signed { auth(sign_raw(@_)) }

# Splits a good token into its three base64url segments.
sub parts { split /\./, token(@_) }

sub tampered_payload {
    my ($h, $p, $s) = parts();
    return auth(join '.', $h, b64u(enc(claims(claims => { sub => 'someone-else' }))), $s);
}

sub flip_sig {
    my (%a) = @_;
    my ($h, $p, $s) = parts(%a);
    my $raw = decode_b64u($s);
    substr($raw, 5, 1) = chr(ord(substr($raw, 5, 1)) ^ 0x01);
    return auth(join '.', $h, $p, b64u($raw));
}

# A token whose signature segment contains both '-' and '_', so it can be
# rewritten with the standard base64 alphabet.
sub sig_with_url_chars {
    for (1 .. 50) {
        my ($h, $p, $s) = parts();
        return ($h, $p, $s) if $s =~ /-/ && $s =~ /_/;
    }
    die "no signature with both - and _";
}

# Payload JSON text with one more member written first (duplicate names).
sub dup_claim {
    my ($name, $value) = @_;
    my $text = enc(claims());
    $text =~ s/^\{/'{' . enc($name) . ':' . enc($value) . ','/e;
    return $text;
}

sub nested {
    my ($depth) = @_;
    my $c = claims();
    $c->{deep} = ('[' x $depth) . '1' . (']' x $depth);
    my $text = enc($c);
    $text =~ s/"\[+1\]+"/$c->{deep}/;    # the nesting itself, not a string of brackets
    return $text;
}

# An attacker's key pair and JWKS, published on the issuer's host at paths
# the module must never fetch.
our ($ATK_KEY, $ATK_JWK) = stranger_key('RS256');
serve_file('/attacker/certs', enc({ keys => [$ATK_JWK] }));
serve_file('/attacker/x5u.pem', $ATK_KEY->export_key_pem('public_x509'));
ensure_realm('tenant-evil', algs => ['RS256']);

sub attacker_token {
    my (%header) = @_;
    return bearer(key => $ATK_KEY, kid => $ATK_JWK->{kid}, header => \%header);
}

# Symmetric token whose secret is public material of tenant-a's RSA key.
sub hs_token {
    my ($alg, $secret) = @_;
    return auth(encode_jwt(payload => claims(), alg => $alg, key => $secret,
                           extra_headers => { typ => 'JWT', kid => realm_kid('tenant-a') }));
}

sub rsa_pem { realm_key('tenant-a', 'RS256')->export_key_pem('public_x509') }
sub rsa_n   { realm_jwks('tenant-a')->{keys}[0]{n} }

block_defaults(
    http_config => "    auth_realm_zone realm_auth:10m;\n",
    config => q{
        location /api/ {
            auth_realm on;
            auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
    },
    request => 'GET /api/whoami',
    error_code => 401,
    response_headers_like =>
        'WWW-Authenticate: Bearer error="invalid_token", error_description="[^"]+"',
    response_body_unlike => '(?i)jwks|\bkid\b|realm_auth|openid-connect|127\.0\.0\.1|BEGIN',
    backend_hits => 0,
    no_error_log => "[alert]\n[crit]",
);

run_tests();

__DATA__

=== TEST 1: sanity: the default config accepts a good token
--- more_headers eval
bearer()
--- error_code: 200
--- response_headers_like
--- response_body_like: ^uri: /echo/whoami
--- backend_hits: 1
--- reason eval
[undef]



=== TEST 2: no Authorization header: bare challenge, nothing logged at info
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer
--- no_error_log
token refused
[alert]



=== TEST 3: Basic scheme is not a bearer token
--- more_headers
Authorization: Basic YWxpY2U6c2VjcmV0
--- response_headers
WWW-Authenticate: Bearer
--- no_error_log
token refused



=== TEST 4: alg none, empty signature
--- more_headers eval
auth(raw_token(::enc(::hdr(alg => 'none')), ::enc(claims()), undef))
--- reason: alg_not_allowed|token_malformed



=== TEST 5: alg none with a signature
--- more_headers eval
auth(raw_token(::enc(::hdr(alg => 'none')), ::enc(claims()), 'x' x 32))
--- reason: alg_not_allowed



=== TEST 6: alg None
--- more_headers eval
auth(raw_token(::enc(::hdr(alg => 'None')), ::enc(claims()), 'x' x 32))
--- reason: alg_not_allowed



=== TEST 7: alg NONE
--- more_headers eval
auth(raw_token(::enc(::hdr(alg => 'NONE')), ::enc(claims()), 'x' x 32))
--- reason: alg_not_allowed



=== TEST 8: HS256 keyed with the realm's RSA public key (PEM)
--- more_headers eval
::hs_token('HS256', ::rsa_pem())
--- reason: alg_not_allowed



=== TEST 9: HS256 keyed with the JWK modulus bytes
--- more_headers eval
::hs_token('HS256', ::decode_b64u(::rsa_n()))
--- reason: alg_not_allowed



=== TEST 10: HS512 keyed with the JWK "n" text
--- more_headers eval
::hs_token('HS512', ::rsa_n())
--- reason: alg_not_allowed



=== TEST 11: alg missing
--- more_headers eval
::signed(::enc(::hdr(alg => undef)), ::enc(claims()))
--- reason: alg_not_allowed



=== TEST 12: alg in lower case
--- more_headers eval
::signed(::enc(::hdr(alg => 'rs256')), ::enc(claims()))
--- reason: alg_not_allowed



=== TEST 13: alg with a trailing space
--- more_headers eval
::signed(::enc(::hdr(alg => 'RS256 ')), ::enc(claims()))
--- reason: alg_not_allowed



=== TEST 14: alg as an array
--- more_headers eval
::signed(::enc(::hdr(alg => ['RS256'])), ::enc(claims()))
--- reason: alg_not_allowed



=== TEST 15: wrong key with the right kid
--- more_headers eval
bearer(key => (stranger_key('RS256'))[0])
--- reason: signature_invalid



=== TEST 16: tampered payload
--- more_headers eval
::tampered_payload()
--- reason: signature_invalid



=== TEST 17: tampered RS256 signature
--- more_headers eval
::flip_sig()
--- reason: signature_invalid



=== TEST 18: tampered EdDSA signature
--- more_headers eval
::flip_sig(alg => 'EdDSA')
--- reason: signature_invalid



=== TEST 19: truncated signature (three bytes short, canonical base64url)
--- more_headers eval
my ($h, $p, $s) = ::parts(); auth("$h.$p." . b64u(substr(::decode_b64u($s), 0, -3)))
--- reason: signature_invalid



=== TEST 20: non-canonical base64url (unused trailing bits set)
--- more_headers eval
my ($h, $p, $s) = ::parts();
# 256 signature bytes end in a 2-character group whose second character
# carries 4 unused bits; a strict decoder rejects them when not zero
my %next = map { substr('AQgw', $_, 1) => substr('BRhx', $_, 1) } 0 .. 3;
$s =~ s/(.)$/$next{$1} \/\/ die "unexpected last char $1"/e;
auth("$h.$p.$s")
--- reason: bad_base64



=== TEST 21: empty signature on an RS256 token
--- more_headers eval
my ($h, $p, $s) = ::parts(); auth("$h.$p.")
--- reason: token_malformed|signature_invalid



=== TEST 22: ES256 signature in DER form instead of JOSE r||s
--- more_headers eval
my ($h, $p) = ::parts(alg => 'ES256');
auth("$h.$p." . b64u(realm_key('tenant-a', 'ES256')->sign_message("$h.$p", 'SHA256')))
--- reason: signature_invalid



=== TEST 23: RS256 header over a PSS signature
--- more_headers eval
my ($h, $p) = ::parts();
auth("$h.$p." . b64u(realm_key('tenant-a', 'RS256')->sign_message("$h.$p", 'SHA256', 'pss', 32)))
--- reason: signature_invalid



=== TEST 24: two segments
--- more_headers eval
my ($h, $p, $s) = ::parts(); auth("$h.$p")
--- reason: token_malformed



=== TEST 25: four segments
--- more_headers eval
my ($h, $p, $s) = ::parts(); auth("$h.$p.$s.$s")
--- reason: token_malformed



=== TEST 26: one segment
--- more_headers eval
auth(b64u(::enc(claims())))
--- reason: token_malformed



=== TEST 27: JWE (five segments) encrypted to the realm's RSA-OAEP key
--- more_headers eval
auth(::encode_jwt(payload => claims(), alg => 'RSA-OAEP', enc => 'A256GCM',
    key => realm_key('tenant-a', 'RSA-OAEP'),
    extra_headers => { kid => realm_kid('tenant-a', 'RSA-OAEP') }))
--- reason: token_is_jwe



=== TEST 28: base64 padding
--- more_headers eval
my ($h, $p, $s) = ::parts(); auth("$h.$p.$s" . '=' x ((4 - length($s) % 4) % 4 || 4))
--- reason: bad_base64



=== TEST 29: padding in the middle segment (not b64token syntax, RFC 6750 §2.1)
--- more_headers eval
my ($h, $p, $s) = ::parts(); auth("$h.$p==.$s")
--- reason: token_malformed



=== TEST 30: '+' (standard alphabet) in the signature
--- more_headers eval
my ($h, $p, $s) = ::sig_with_url_chars(); $s =~ s/-/+/; auth("$h.$p.$s")
--- reason: bad_base64



=== TEST 31: '/' (standard alphabet) in the signature
--- more_headers eval
my ($h, $p, $s) = ::sig_with_url_chars(); $s =~ s/_/\//; auth("$h.$p.$s")
--- reason: bad_base64



=== TEST 32: whitespace inside the token
--- more_headers eval
my ($h, $p, $s) = ::parts(); auth("$h." . substr($p, 0, 10) . ' ' . substr($p, 10) . ".$s")
--- reason: bad_base64|token_malformed



=== TEST 33: header is not JSON
--- more_headers eval
my ($h, $p, $s) = ::parts(); auth(b64u('not json') . ".$p.$s")
--- reason: header_not_json



=== TEST 34: header is a JSON array
--- more_headers eval
::signed('["alg","RS256"]', ::enc(claims()))
--- reason: header_not_json



=== TEST 35: payload is a JSON array
--- more_headers eval
::signed(::enc(::hdr()), '["sub","alice"]')
--- reason: payload_not_json



=== TEST 36: payload is a JSON string
--- more_headers eval
::signed(::enc(::hdr()), '"hello"')
--- reason: payload_not_json



=== TEST 37: payload is truncated JSON
--- more_headers eval
::signed(::enc(::hdr()), substr(::enc(claims()), 0, -1))
--- reason: payload_not_json



=== TEST 38: expired an hour ago
--- more_headers eval
bearer(exp_in => -3600)
--- reason: expired



=== TEST 39: expired beyond the 30 s leeway
--- more_headers eval
bearer(exp_in => -90)
--- reason: expired



=== TEST 40: nbf an hour ahead
--- more_headers eval
bearer(claims => { nbf => time + 3600 })
--- reason: not_yet_valid



=== TEST 41: exp missing
--- more_headers eval
bearer(claims => { exp => undef })
--- reason: exp_missing



=== TEST 42: exp as a string
--- more_headers eval
bearer(claims => { exp => '' . (time + 300) })
--- reason: exp_missing



=== TEST 43: sub missing
--- more_headers eval
bearer(claims => { sub => undef })
--- reason: sub_missing



=== TEST 44: sub empty
--- more_headers eval
bearer(claims => { sub => '' })
--- reason: sub_missing



=== TEST 45: sub is a number
--- more_headers eval
bearer(claims => { sub => 12345 })
--- reason: sub_missing



=== TEST 46: iss missing
--- more_headers eval
bearer(claims => { iss => undef })
--- reason: issuer_missing
--- issuer_fetches
tenant-a 0



=== TEST 47: iss as an array
--- more_headers eval
bearer(iss => [realm_iss('tenant-a')])
--- reason: issuer_missing
--- issuer_fetches
tenant-a 0



=== TEST 48: iss with a trailing slash
--- more_headers eval
bearer(iss => "$::ISS/realms/tenant-a/")
--- reason: issuer_not_allowed
--- issuer_fetches
tenant-a 0



=== TEST 49: realm in upper case
--- more_headers eval
bearer(iss => "$::ISS/realms/TENANT-A")
--- reason: issuer_not_allowed
--- issuer_fetches
tenant-a 0



=== TEST 50: slug in upper case
--- more_headers eval
bearer(iss => "$::ISS/realms/tenant-A")
--- reason: issuer_not_allowed



=== TEST 51: host in upper case (pattern names localhost)
--- config
    location /api/ {
        auth_realm on;
        auth_realm_issuer http://localhost:$TEST_NGINX_ISSUER_PORT/realms/tenant-*;
        proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
    }
--- more_headers eval
bearer(iss => "http://LOCALHOST:$ENV{TEST_NGINX_ISSUER_PORT}/realms/tenant-a")
--- reason: issuer_not_allowed
--- issuer_fetches
tenant-a 0



=== TEST 52: scheme in upper case
--- more_headers eval
bearer(iss => "HTTP://127.0.0.1:$ENV{TEST_NGINX_ISSUER_PORT}/realms/tenant-a")
--- reason: issuer_not_allowed



=== TEST 53: dot-dot segment /realms/../realms/tenant-a
--- more_headers eval
bearer(iss => "$::ISS/realms/../realms/tenant-a")
--- reason: issuer_not_allowed
--- issuer_fetches
tenant-a 0



=== TEST 54: dot segment /realms/./tenant-a
--- more_headers eval
bearer(iss => "$::ISS/realms/./tenant-a")
--- reason: issuer_not_allowed



=== TEST 55: percent-escaped hyphen tenant%2da
--- more_headers eval
bearer(iss => "$::ISS/realms/tenant%2da")
--- reason: issuer_not_allowed



=== TEST 56: percent-escaped letter %74enant-a
--- more_headers eval
bearer(iss => "$::ISS/realms/%74enant-a")
--- reason: issuer_not_allowed



=== TEST 57: other host
--- more_headers eval
bearer(iss => "http://127.0.0.2:$ENV{TEST_NGINX_ISSUER_PORT}/realms/tenant-a")
--- reason: issuer_not_allowed



=== TEST 58: same host by another name
--- more_headers eval
bearer(iss => "http://localhost:$ENV{TEST_NGINX_ISSUER_PORT}/realms/tenant-a")
--- reason: issuer_not_allowed



=== TEST 59: other port
--- more_headers eval
bearer(iss => "http://127.0.0.1:" . ($ENV{TEST_NGINX_ISSUER_PORT} + 1) . "/realms/tenant-a")
--- reason: issuer_not_allowed



=== TEST 60: port omitted
--- more_headers eval
bearer(iss => "http://127.0.0.1/realms/tenant-a")
--- reason: issuer_not_allowed



=== TEST 61: https instead of http
--- more_headers eval
bearer(iss => "https://127.0.0.1:$ENV{TEST_NGINX_ISSUER_PORT}/realms/tenant-a")
--- reason: issuer_not_allowed



=== TEST 62: userinfo user@host
--- more_headers eval
bearer(iss => "http://user\@127.0.0.1:$ENV{TEST_NGINX_ISSUER_PORT}/realms/tenant-a")
--- reason: issuer_not_allowed



=== TEST 63: authority confusion host:port@evil
--- more_headers eval
bearer(iss => "http://127.0.0.1:$ENV{TEST_NGINX_ISSUER_PORT}\@evil.example/realms/tenant-a")
--- reason: issuer_not_allowed



=== TEST 64: query string
--- more_headers eval
bearer(iss => "$::ISS/realms/tenant-a?x")
--- reason: issuer_not_allowed



=== TEST 65: fragment
--- more_headers eval
bearer(iss => "$::ISS/realms/tenant-a#x")
--- reason: issuer_not_allowed



=== TEST 66: extra path after the realm
--- more_headers eval
bearer(iss => "$::ISS/realms/tenant-a/protocol")
--- reason: issuer_not_allowed



=== TEST 67: empty slug tenant-
--- more_headers eval
bearer(iss => "$::ISS/realms/tenant-")
--- reason: issuer_not_allowed



=== TEST 68: slug ending with a hyphen
--- more_headers eval
bearer(iss => "$::ISS/realms/tenant-a-")
--- reason: issuer_not_allowed



=== TEST 69: slug with an underscore
--- more_headers eval
bearer(iss => "$::ISS/realms/tenant-a_b")
--- reason: issuer_not_allowed



=== TEST 70: slug of 64 characters (DNS label limit is 63)
--- more_headers eval
bearer(iss => "$::ISS/realms/tenant-" . ('a' x 64))
--- reason: issuer_not_allowed



=== TEST 71: NUL byte after the realm
--- more_headers eval
bearer(iss => realm_iss('tenant-a') . "\x{0}")
--- reason: issuer_not_allowed|claim_invalid|payload_not_json



=== TEST 72: leading space
--- more_headers eval
bearer(iss => ' ' . realm_iss('tenant-a'))
--- reason: issuer_not_allowed



=== TEST 73: platform realm where only tenant-* is allowed (never fetched)
--- more_headers eval
bearer(realm => 'platform')
--- reason: issuer_not_allowed
--- issuer_fetches
platform 0



=== TEST 74: token of tenant-b signed with tenant-a's key and kid, tenant-a cached first
--- request eval
["GET /api/a", "GET /api/b"]
--- more_headers eval
[bearer(realm => 'tenant-a'), bearer(realm => 'tenant-b', sign_realm => 'tenant-a')]
--- error_code eval
[200, 401]
--- response_headers_like eval
["", 'WWW-Authenticate: Bearer error="invalid_token", error_description="[^"]+"']
--- response_body_unlike eval
["^\$", "(?i)jwks|\\bkid\\b"]
--- reason eval
[undef, 'key_not_found']
--- backend_hits: 1



=== TEST 75: wrong audience
--- config
    location /api/ {
        auth_realm on;
        auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
        auth_realm_audience tenant-services;
        proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
    }
--- more_headers eval
bearer(aud => 'account')
--- reason: audience_mismatch



=== TEST 76: audience missing
--- config
    location /api/ {
        auth_realm on;
        auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
        auth_realm_audience tenant-services;
        proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
    }
--- more_headers eval
bearer()
--- reason: audience_mismatch



=== TEST 77: audience array without the configured one, lookalikes included
--- config
    location /api/ {
        auth_realm on;
        auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
        auth_realm_audience tenant-services;
        proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
    }
--- more_headers eval
bearer(aud => ['account', 'tenant-services-x', 'TENANT-SERVICES', 'tenant-service'])
--- reason: audience_mismatch



=== TEST 78: unknown kid
--- more_headers eval
bearer(kid => 'no-such-kid')
--- reason: key_not_found



=== TEST 79: path-like kid
--- more_headers eval
bearer(kid => '../../etc/passwd')
--- reason: kid_invalid



=== TEST 80: kid missing
--- more_headers eval
bearer(header => { kid => undef })
--- reason: kid_invalid



=== TEST 81: kid is a number
--- more_headers eval
::signed(::enc(::hdr(kid => 42)), ::enc(claims()))
--- reason: kid_invalid



=== TEST 82: kid of 300 characters
--- more_headers eval
bearer(kid => 'k' x 300)
--- reason: kid_invalid



=== TEST 83: jku header pointing at the attacker's JWKS is never fetched
--- more_headers eval
::attacker_token(jku => "$::ISS/attacker/certs")
--- reason: key_not_found
--- issuer_fetches
/attacker/certs 0



=== TEST 84: jku pointing at another realm's JWKS on the same host is never fetched
--- more_headers eval
::attacker_token(jku => realm_iss('tenant-evil') . '/protocol/openid-connect/certs')
--- reason: key_not_found
--- issuer_fetches
tenant-evil 0



=== TEST 85: embedded jwk header is ignored
--- more_headers eval
::attacker_token(jwk => $::ATK_JWK)
--- reason: key_not_found



=== TEST 86: x5u header is never fetched
--- more_headers eval
::attacker_token(x5u => "$::ISS/attacker/x5u.pem")
--- reason: key_not_found
--- issuer_fetches
/attacker/x5u.pem 0



=== TEST 87: crit header
--- more_headers eval
bearer(header => { crit => ['exp'], exp => time + 300 })
--- reason: crit_unsupported



=== TEST 88: ES256 header with an RSA kid
--- more_headers eval
bearer(alg => 'ES256', kid => realm_kid('tenant-a', 'RS256'))
--- reason: key_mismatch



=== TEST 89: RS256 header with an EC kid
--- more_headers eval
bearer(alg => 'RS256', kid => realm_kid('tenant-a', 'ES256'))
--- reason: key_mismatch



=== TEST 90: ES384 header with a P-256 kid
--- more_headers eval
bearer(alg => 'ES384', kid => realm_kid('tenant-a', 'ES256'))
--- reason: key_mismatch



=== TEST 91: EdDSA header with an RSA kid
--- more_headers eval
bearer(alg => 'EdDSA', kid => realm_kid('tenant-a', 'RS256'))
--- reason: key_mismatch



=== TEST 92: signed with the realm's encryption key (use "enc")
--- more_headers eval
bearer(kid => realm_kid('tenant-a', 'RSA-OAEP'), key => realm_key('tenant-a', 'RSA-OAEP'))
--- reason: key_not_found|key_mismatch



=== TEST 93: typ claim ID (an ID token)
--- more_headers eval
bearer(claims => { typ => 'ID' })
--- reason: typ_not_allowed



=== TEST 94: typ claim Refresh
--- more_headers eval
bearer(claims => { typ => 'Refresh' })
--- reason: typ_not_allowed



=== TEST 95: header typ dpop+jwt
--- more_headers eval
bearer(header => { typ => 'dpop+jwt' })
--- reason: typ_not_allowed



=== TEST 96: duplicate sub claim
--- more_headers eval
::signed(::enc(::hdr()), ::dup_claim(sub => 'intruder'))
--- reason: duplicate_key



=== TEST 97: duplicate iss claim
--- more_headers eval
::signed(::enc(::hdr()), ::dup_claim(iss => realm_iss('tenant-b')))
--- reason: duplicate_key



=== TEST 98: duplicate alg header member
--- more_headers eval
my $h = ::enc(::hdr()); $h =~ s/^\{/{"alg":"none",/; ::signed($h, ::enc(claims()))
--- reason: duplicate_key



=== TEST 99: JSON nested 50 deep
--- more_headers eval
::signed(::enc(::hdr()), ::nested(50))
--- reason: json_too_deep



=== TEST 100: token larger than the default 8k limit (nginx itself takes 64k headers here)
--- config
    large_client_header_buffers 4 64k;
    location /api/ {
        auth_realm on;
        auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
        proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
    }
--- more_headers eval
bearer(claims => { pad => 'x' x 9000 })
--- reason: token_too_large



=== TEST 101: an ordinary token above a configured 1k limit
--- config
    location /api/ {
        auth_realm on;
        auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
        auth_realm_token_max_size 1k;
        proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
    }
--- more_headers eval
bearer()
--- reason: token_too_large



=== TEST 102: control byte in preferred_username
--- more_headers eval
bearer(claims => { preferred_username => "ali\x{1}ce" })
--- reason: claim_invalid



=== TEST 103: header injection attempt in sub
--- more_headers eval
bearer(claims => { sub => "abc\r\nX-Tenant-Id: evil" })
--- reason: claim_invalid



=== TEST 104: role containing the list separator
--- more_headers eval
bearer(roles => ['officer,tenant_admin'])
--- reason: claim_invalid



=== TEST 105: realm_access.roles is not an array
--- more_headers eval
bearer(claims => { realm_access => { roles => 'tenant_admin' } })
--- reason: claim_invalid



=== TEST 106: email is a number
--- more_headers eval
bearer(claims => { email => 42 })
--- reason: claim_invalid



=== TEST 107: ES256 "psychic signature" (r = s = 0, CVE-2022-21449)
--- more_headers eval
my ($h, $p) = ::parts(alg => 'ES256'); auth("$h.$p." . b64u("\0" x 64))
--- reason: signature_invalid



=== TEST 108: ES384 psychic signature
--- more_headers eval
my ($h, $p) = ::parts(alg => 'ES384'); auth("$h.$p." . b64u("\0" x 96))
--- reason: signature_invalid



=== TEST 109: ES512 psychic signature
--- more_headers eval
my ($h, $p) = ::parts(alg => 'ES512'); auth("$h.$p." . b64u("\0" x 132))
--- reason: signature_invalid



=== TEST 110: ES256 signature of the wrong length
--- more_headers eval
my ($h, $p) = ::parts(alg => 'ES256'); auth("$h.$p." . b64u("\1" x 63))
--- reason: signature_invalid|token_malformed



=== TEST 111: RSA signature larger than the modulus (all 0xff)
--- more_headers eval
my ($h, $p) = ::parts(); auth("$h.$p." . b64u("\xff" x 256))
--- reason: signature_invalid



=== TEST 112: EdDSA all-zero signature
--- more_headers eval
my ($h, $p) = ::parts(alg => 'EdDSA'); auth("$h.$p." . b64u("\0" x 64))
--- reason: signature_invalid



=== TEST 113: hundreds of segments
--- more_headers eval
auth(join '.', ('e30') x 500)
--- reason: token_malformed



=== TEST 114: nbf far beyond 64-bit seconds (1e300)
--- more_headers eval
::signed(::enc(::hdr()), do { my $t = ::enc(claims()); $t =~ s/^\{/{"nbf":1e300,/; $t })
--- reason: not_yet_valid|claim_invalid



=== TEST 115: exp far in the past as a huge negative number (-1e300)
--- more_headers eval
::signed(::enc(::hdr()), do { my $t = ::enc(claims(claims => { exp => undef })); $t =~ s/^\{/{"exp":-1e300,/; $t })
--- reason: expired|exp_missing|claim_invalid



=== TEST 116: exp as a boolean
--- more_headers eval
bearer(claims => { exp => JSON::PP::true })
--- reason: exp_missing



=== TEST 117: Authorization carries two tokens
--- more_headers eval
my $t = token(); auth("$t $t")
--- reason: bad_base64|token_malformed|token_is_jwe
