# DPoP (RFC 9449): auth_realm_dpop off | on | required. A DPoP-bound token
# (cnf.jkt) passes only as `Authorization: DPoP <token>` with exactly one
# DPoP proof signed by the bound key, for this method and URL, fresh (iat
# within the window), for this token (ath), never seen before (jti); the
# proof is checked on every request, verified-token cache hits included;
# no upstream sees the proof. Then a hostile corpus: every way a proof, a
# binding or a presentation can be wrong is refused with
# WWW-Authenticate: DPoP ... error="invalid_dpop_proof" (or invalid_token).
use strict;
use warnings;
use Test::More;

use Crypt::Mac::HMAC qw(hmac);
use Crypt::Misc qw(encode_b64u);
use HTTP::Tiny;
use IO::Socket::INET;
use JSON::PP ();

use RealmAuth::Dpop qw(:all);
use RealmAuth::Issuer qw(:all);
use RealmAuth::Nginx;

RealmAuth::Nginx::require_module();
start_issuer();
ensure_realm('tenant-a', algs => ['RS256']);

my $loc = sub {
    my ($path, $extra) = @_;
    return qq{
        location $path {
            auth_realm on;
            auth_realm_issuer \$TEST_NGINX_ISSUER/realms/tenant-*;
            $extra
            auth_realm_identity_headers on;
            add_header X-Realm-Error \$realm_auth_error always;
            proxy_set_header X-Saw-Dpop \$http_dpop;
            proxy_pass http://127.0.0.1:\$TEST_NGINX_ISSUER_PORT/echo/;
        }
    };
};
my $ngx = RealmAuth::Nginx->start(
    http => "auth_realm_zone realm_auth:10m;\n    auth_realm_dpop_replay_cache 4096;\n",
    server => join('',
        "large_client_header_buffers 4 32k;\n",
        $loc->('/api/', 'auth_realm_dpop on; auth_realm_dpop_window 30s;'),
        $loc->('/nocache/', 'auth_realm_dpop on; auth_realm_token_cache off;'),
        $loc->('/req/', 'auth_realm_dpop required;'),
        $loc->('/off/', ''),
        $loc->('/lb/', 'auth_realm_dpop on; auth_realm_dpop_htu_base HTTPS://API.Example.COM:443;'),
        $loc->('/es/', 'auth_realm_dpop on; auth_realm_dpop_algorithms ES256;'),
        $loc->('/redir/', 'auth_realm_dpop on; error_page 418 = @inner; return 418;'),
        q{
        location /any/ {
            satisfy any;
            allow 127.0.0.1;
            deny all;
            auth_realm on;
            auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
            auth_realm_dpop on;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
        location /open/ {
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
        location @inner {
            auth_realm on;
            auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
            auth_realm_dpop on;
            rewrite ^ /echo/inner break;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT;
        }
        location = /realm-auth/status { auth_realm_status; }
        }),
);
my $base = 'http://127.0.0.1:' . $ngx->port;

# One request: method, path, [header => value (arrayref: several lines)].
sub req {
    my ($method, $path, @headers) = @_;
    my $ua = HTTP::Tiny->new(timeout => 15, keep_alive => 0);
    return $ua->request($method, "$base$path", { headers => { @headers } });
}

# A request written byte for byte (header spellings HTTP::Tiny would fold).
sub raw_req {
    my ($text) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $ngx->port, Timeout => 10)
        or die "connect: $!";
    print $s $text;
    local $/;
    my $res = <$s> // '';
    my ($head, $body) = split /\r\n\r\n/, $res, 2;
    my ($status) = $head =~ m{^HTTP/1\.\d (\d+)};
    my %h;
    for (split /\r\n/, $head) { $h{ lc $1 } = $2 if /^([^:]+):\s*(.*)$/ }
    return { status => $status, headers => \%h, content => $body };
}

# DPoP request with `token` and `proof` (undef: no DPoP header).
sub dpop_req {
    my ($method, $path, $token, $proof, @more) = @_;
    return req($method, $path, Authorization => "DPoP $token",
               (defined $proof ? (DPoP => $proof) : ()), @more);
}

sub passes {
    my ($r, $name) = @_;
    is($r->{status}, 200, "$name: 200") or diag("$r->{status} "
        . ($r->{headers}{'www-authenticate'} // '') . ' ' . ($r->{headers}{'x-realm-error'} // ''));
    unlike($r->{content} // '', qr/^(?:dpop|x-saw-dpop): ./mi, "$name: upstream saw no DPoP proof")
        if $r->{status} == 200;
}

# Refused with 401, `reason` in $realm_auth_error and the RFC 9449 §7.1
# challenge: error = invalid_dpop_proof | invalid_token | '' (no error).
sub refused {
    my ($r, $reason, $error, $name) = @_;
    is($r->{status}, 401, "$name: 401");
    is($r->{headers}{'x-realm-error'} // '', $reason, "$name: reason $reason");
    my $www = $r->{headers}{'www-authenticate'} // '';
    if (!defined $error) {
        like($www, qr/^Bearer/, "$name: Bearer challenge");
    } elsif ($error eq '') {
        like($www, qr/^DPoP algs="[^"]+"$/, "$name: DPoP challenge without error");
    } else {
        like($www, qr/^DPoP algs="[^"]*ES256[^"]*", error="\Q$error\E", error_description="[^"]+"$/,
             "$name: DPoP challenge, $error");
    }
}

my $A = dpop_key('ES256');
my $B = dpop_key('ES256');
my $TA = dpop_token($A);
my $plain = token();
my $htu = sub { "$base$_[0]" };
my $proof = sub { my ($k, $path, %o) = @_; dpop_proof($k, token => $TA, htm => 'GET', htu => $htu->($path), %o) };

# ------------------------------------------------------------ accepted ---

passes(dpop_req('GET', '/api/x', $TA, $proof->($A, '/api/x')), 'ES256 bound token with its proof');
my $r = dpop_req('GET', '/api/x', $TA, $proof->($A, '/api/x'));
passes($r, 'same token, fresh proof (verified-token cache hit)');
like($r->{content}, qr/^x-actor-id: \S+/m, 'the upstream gets the verified identity');
my $st = $ngx->status;
cmp_ok($st->{token_cache}{hits} // 0, '>=', 1, 'the second request was a token cache hit');

for my $alg (qw(ES384 ES512 RS256 PS256 EdDSA)) {
    my $k = dpop_key($alg);
    my $t = dpop_token($k);
    passes(dpop_req('GET', '/api/x', $t, dpop_proof($k, token => $t, htm => 'GET', htu => $htu->('/api/x'))),
           "$alg proof key");
}
passes(dpop_req('POST', '/api/x', $TA, $proof->($A, '/api/x', htm => 'POST')), 'POST with htm POST');
passes(dpop_req('GET', '/api/x?q=1', $TA, $proof->($A, '/api/x')), 'request query ignored');
passes(dpop_req('GET', '/api/x', $TA, $proof->($A, '/api/x?other=2#frag')), 'proof query and fragment ignored');
passes(dpop_req('GET', '/api/x', $TA, dpop_proof($A, token => $TA, htm => 'GET',
       htu => 'HTTP://127.0.0.1:' . $ngx->port . '/api/./x')), 'htu normalised (case, dot segment)');
passes(req('GET', '/api/x', Authorization => "dpop $TA", DPoP => $proof->($A, '/api/x')), 'scheme is case-insensitive');
passes(req('GET', '/api/x', Authorization => "DPoP $TA", DPOP => $proof->($A, '/api/x')), 'header name is case-insensitive');
passes(dpop_req('GET', '/lb/x', $TA, dpop_proof($A, token => $TA, htm => 'GET', htu => 'https://api.example.com/lb/x')),
       'behind a load balancer: htu from auth_realm_dpop_htu_base');
passes(dpop_req('GET', '/redir/x', $TA, $proof->($A, '/redir/x')), 'internal redirect: one proof checked once');
passes(req('GET', '/api/x', Authorization => "Bearer $plain"), 'unbound token as Bearer (dpop on)');
passes(req('GET', '/off/x', Authorization => "Bearer $plain"), 'unbound token as Bearer (dpop off)');
passes(dpop_req('GET', '/req/x', $TA, $proof->($A, '/req/x')), 'required: bound token with proof');
passes(dpop_req('GET', '/es/x', $TA, $proof->($A, '/es/x')), 'ES256 allowed by auth_realm_dpop_algorithms');

# No configuration lets a proof reach an upstream: satisfy any with allow,
# a location without auth_realm in the same server.
for my $path ('/any/x', '/open/x') {
    my $res = dpop_req('GET', $path, $TA, $proof->($A, $path));
    is($res->{status}, 200, "$path: 200");
    unlike($res->{content} // '', qr/^dpop:/mi, "$path: the upstream saw no DPoP header");
}
{
    my $res = dpop_req('GET', '/any/x', token(exp_in => -600), $proof->($A, '/any/x'));
    is($res->{status}, 200, 'satisfy any, an expired token, allowed by address: 200');
    unlike($res->{content} // '', qr/^dpop:/mi, '... and the upstream saw no DPoP header');
}

# ------------------------------------------------------ hostile corpus ---
my $n = 0;
sub hostile { $n++; refused(@_) }

my $once = $proof->($A, '/api/x');
passes(dpop_req('GET', '/api/x', $TA, $once), 'first use of a proof');
hostile(dpop_req('GET', '/api/x', $TA, $once), 'dpop_replayed', 'invalid_dpop_proof', 'replayed proof');
my $once_nc = $proof->($A, '/nocache/x');
passes(dpop_req('GET', '/nocache/x', $TA, $once_nc), 'first use (token cache off)');
hostile(dpop_req('GET', '/nocache/x', $TA, $once_nc), 'dpop_replayed', 'invalid_dpop_proof', 'replayed proof, token cache off');
hostile(dpop_req('GET', '/api/y', $TA, $proof->($A, '/api/x')), 'dpop_url_mismatch', 'invalid_dpop_proof', 'proof for another path');
hostile(dpop_req('GET', '/api/x', $TA, dpop_proof($A, token => $TA, htm => 'GET', htu => 'http://other.example/api/x')),
        'dpop_url_mismatch', 'invalid_dpop_proof', 'proof for another host');
hostile(dpop_req('GET', '/api/x', $TA, dpop_proof($A, token => $TA, htm => 'GET', htu => 'http://127.0.0.1:1/api/x')),
        'dpop_url_mismatch', 'invalid_dpop_proof', 'proof for another port');
hostile(dpop_req('GET', '/api/x', $TA, dpop_proof($A, token => $TA, htm => 'GET', htu => 'https://127.0.0.1:' . $ngx->port . '/api/x')),
        'dpop_url_mismatch', 'invalid_dpop_proof', 'proof for https');
hostile(dpop_req('GET', '/api/x', $TA, dpop_proof($A, token => $TA, htm => 'GET', htu => 'http://u@127.0.0.1:' . $ngx->port . '/api/x')),
        'dpop_url_mismatch', 'invalid_dpop_proof', 'htu with userinfo');
hostile(dpop_req('GET', '/api/x', $TA, dpop_proof($A, token => $TA, htm => 'GET', htu => '/api/x')),
        'dpop_url_mismatch', 'invalid_dpop_proof', 'relative htu');
hostile(dpop_req('GET', '/api/x', $TA, $proof->($A, '/api/x', claims => { htu => undef })),
        'dpop_url_mismatch', 'invalid_dpop_proof', 'htu missing');
hostile(dpop_req('GET', '/lb/x', $TA, $proof->($A, '/lb/x')), 'dpop_url_mismatch', 'invalid_dpop_proof',
        'behind a load balancer: the internal URL is refused');
hostile(dpop_req('GET', '/api/x', $TA, $proof->($A, '/api/x', htm => 'POST')), 'dpop_method_mismatch', 'invalid_dpop_proof', 'proof for POST');
hostile(dpop_req('GET', '/api/x', $TA, $proof->($A, '/api/x', htm => 'get')), 'dpop_method_mismatch', 'invalid_dpop_proof', 'htm lower case');
hostile(dpop_req('GET', '/api/x', $TA, $proof->($A, '/api/x', claims => { htm => undef })), 'dpop_method_mismatch', 'invalid_dpop_proof', 'htm missing');
hostile(dpop_req('GET', '/api/x', $TA, $proof->($A, '/api/x', iat => time - 45)), 'dpop_proof_stale', 'invalid_dpop_proof', 'iat older than the window');
hostile(dpop_req('GET', '/api/x', $TA, $proof->($A, '/api/x', iat => time + 45)), 'dpop_proof_stale', 'invalid_dpop_proof', 'iat in the future');
hostile(dpop_req('GET', '/api/x', $TA, $proof->($A, '/api/x', iat => '' . time)), 'dpop_proof_stale', 'invalid_dpop_proof', 'iat a string');
hostile(dpop_req('GET', '/api/x', $TA, $proof->($A, '/api/x', claims => { iat => undef })), 'dpop_proof_stale', 'invalid_dpop_proof', 'iat missing');
hostile(dpop_req('GET', '/api/x', $TA, dpop_proof($A, htm => 'GET', htu => $htu->('/api/x'))), 'dpop_ath_mismatch', 'invalid_dpop_proof', 'ath missing');
hostile(dpop_req('GET', '/api/x', $TA, dpop_proof($A, token => $plain, htm => 'GET', htu => $htu->('/api/x'))),
        'dpop_ath_mismatch', 'invalid_dpop_proof', 'ath of another token');
hostile(dpop_req('GET', '/api/x', $TA, $proof->($A, '/api/x', claims => { jti => undef })), 'dpop_proof_invalid', 'invalid_dpop_proof', 'jti missing');
hostile(dpop_req('GET', '/api/x', $TA, $proof->($A, '/api/x', claims => { jti => '' })), 'dpop_proof_invalid', 'invalid_dpop_proof', 'jti empty');
hostile(dpop_req('GET', '/api/x', $TA, $proof->($A, '/api/x', claims => { jti => 'j' x 300 })), 'dpop_proof_invalid', 'invalid_dpop_proof', 'jti too long');
hostile(dpop_req('GET', '/api/x', $TA, $proof->($A, '/api/x', claims => { jti => 12345 })), 'dpop_proof_invalid', 'invalid_dpop_proof', 'jti a number');
hostile(dpop_req('GET', '/api/x', $TA, $proof->($A, '/api/x', header => { typ => 'JWT' })), 'dpop_proof_invalid', 'invalid_dpop_proof', 'typ JWT');
hostile(dpop_req('GET', '/api/x', $TA, $proof->($A, '/api/x', header => { typ => undef })), 'dpop_proof_invalid', 'invalid_dpop_proof', 'typ missing');
hostile(dpop_req('GET', '/api/x', $TA, $proof->($A, '/api/x', header => { typ => 'at+jwt' })), 'dpop_proof_invalid', 'invalid_dpop_proof', 'typ at+jwt');
{
    my $p = $proof->($A, '/api/x', header => { alg => 'none' });
    $p =~ s/\.[^.]+$/./;
    hostile(dpop_req('GET', '/api/x', $TA, $p), 'dpop_proof_invalid', 'invalid_dpop_proof', 'alg none, no signature');
    my ($h, $pl) = split /\./, $proof->($A, '/api/x', header => { alg => 'HS256' });
    my $mac = encode_b64u(hmac('SHA256', JSON::PP->new->canonical->encode(dpop_jwk($A)), "$h.$pl"));
    hostile(dpop_req('GET', '/api/x', $TA, "$h.$pl.$mac"), 'dpop_proof_invalid', 'invalid_dpop_proof', 'alg HS256 keyed with the public jwk');
}
hostile(dpop_req('GET', '/api/x', $TA, $proof->($A, '/api/x', header => { alg => 'ES384' }, sign_alg => 'ES256')),
        'dpop_proof_invalid', 'invalid_dpop_proof', 'alg does not fit the key');
hostile(dpop_req('GET', '/api/x', $TA, $proof->($A, '/api/x', header => { alg => 'RS256' }, sign_alg => 'ES256')),
        'dpop_proof_invalid', 'invalid_dpop_proof', 'alg RS256 with an EC key');
hostile(dpop_req('GET', '/api/x', $TA, $proof->($A, '/api/x', header => { jwk => undef })), 'dpop_proof_invalid', 'invalid_dpop_proof', 'jwk missing');
hostile(dpop_req('GET', '/api/x', $TA, $proof->($A, '/api/x', header => { jwk => $A->{key}->export_key_jwk('private', 1) })),
        'dpop_proof_invalid', 'invalid_dpop_proof', 'jwk with the private key (d)');
hostile(dpop_req('GET', '/api/x', $TA, $proof->($A, '/api/x', header => { jwk => { kty => 'oct', k => 'c2VjcmV0' } })),
        'dpop_proof_invalid', 'invalid_dpop_proof', 'symmetric jwk');
hostile(dpop_req('GET', '/api/x', $TA, $proof->($A, '/api/x', header => { jwk => { %{ dpop_jwk($A) }, use => 'enc' } })),
        'dpop_proof_invalid', 'invalid_dpop_proof', 'jwk for encryption');
{
    my $jwk = dpop_jwk($A);
    $jwk->{y} = $jwk->{x};    # not on the curve
    hostile(dpop_req('GET', '/api/x', $TA, $proof->($A, '/api/x', header => { jwk => $jwk })),
            'dpop_proof_invalid', 'invalid_dpop_proof', 'jwk point not on the curve');
    my $weak = Crypt::PK::RSA->new; $weak->generate_key(128, 65537);
    my $wk = { alg => 'RS256', key => $weak };
    my $wt = dpop_token($wk);
    hostile(dpop_req('GET', '/api/x', $wt, dpop_proof($wk, token => $wt, htm => 'GET', htu => $htu->('/api/x'))),
            'dpop_proof_invalid', 'invalid_dpop_proof', 'RSA-1024 proof key');
}
hostile(dpop_req('GET', '/api/x', $TA, $proof->($A, '/api/x', sign_with => $B)), 'dpop_proof_invalid', 'invalid_dpop_proof',
        "signed by another key than the header's jwk");
{
    my $p = $proof->($A, '/api/x');
    $p =~ s/(.)$/$1 eq 'A' ? 'B' : 'A'/e;
    hostile(dpop_req('GET', '/api/x', $TA, $p), 'dpop_proof_invalid', 'invalid_dpop_proof', 'tampered signature');
}
hostile(dpop_req('GET', '/api/x', $TA, $proof->($A, '/api/x', header => { crit => ['exp'] })), 'dpop_proof_invalid', 'invalid_dpop_proof', 'crit header');
{
    my $now = time;
    my $ath = ath_of($TA);
    my $dup = qq({"jti":"d1","jti":"d2","htm":"GET","htu":"@{[ $htu->('/api/x') ]}","iat":$now,"ath":"$ath"});
    hostile(dpop_req('GET', '/api/x', $TA, $proof->($A, '/api/x', raw_payload => $dup)), 'dpop_proof_invalid', 'invalid_dpop_proof', 'duplicate jti member');
    my $hdr = JSON::PP->new->canonical->encode({ typ => 'dpop+jwt', alg => 'ES256', jwk => dpop_jwk($A) });
    $hdr =~ s/^\{/{"typ":"JWT",/;
    hostile(dpop_req('GET', '/api/x', $TA, $proof->($A, '/api/x', raw_header => $hdr)), 'dpop_proof_invalid', 'invalid_dpop_proof', 'duplicate typ header member');
}
hostile(dpop_req('GET', '/api/x', $TA, 'not-a-jwt'), 'dpop_proof_invalid', 'invalid_dpop_proof', 'garbage proof');
hostile(dpop_req('GET', '/api/x', $TA, $proof->($A, '/api/x') . '.x'), 'dpop_proof_invalid', 'invalid_dpop_proof', 'four segments');
hostile(dpop_req('GET', '/api/x', $TA, $proof->($A, '/api/x', claims => { pad => 'p' x 9000 })), 'dpop_proof_invalid', 'invalid_dpop_proof', 'proof too large');
hostile(dpop_req('GET', '/api/x', $TA, $TA), 'dpop_proof_invalid', 'invalid_dpop_proof', 'the access token as its own proof');
hostile(dpop_req('GET', '/api/x', $TA, undef), 'dpop_proof_missing', 'invalid_dpop_proof', 'DPoP scheme without a proof');
hostile(dpop_req('GET', '/api/x', $TA, ''), 'dpop_proof_invalid', 'invalid_dpop_proof', 'empty DPoP header');
hostile(req('GET', '/api/x', Authorization => "DPoP $TA", DPoP => [ $proof->($A, '/api/x'), $proof->($A, '/api/x') ]),
        'dpop_proof_invalid', 'invalid_dpop_proof', 'two DPoP headers');
hostile(raw_req("GET /api/x HTTP/1.0\r\nHost: 127.0.0.1:@{[ $ngx->port ]}\r\nAuthorization: DPoP $TA\r\n"
                . 'DPoP: ' . $proof->($A, '/api/x') . "\r\ndpop: " . $proof->($A, '/api/x') . "\r\n\r\n"),
        'dpop_proof_invalid', 'invalid_dpop_proof', 'two DPoP headers in other cases');
hostile(raw_req("GET /api/x HTTP/1.0\r\nHost: 127.0.0.1:@{[ $ngx->port ]}\r\nAuthorization: DPoP $TA\r\n"
                . 'DPoP: ' . $proof->($A, '/api/x') . "\r\nDPoP:\r\n\r\n"),
        'dpop_proof_invalid', 'invalid_dpop_proof', 'a second, empty DPoP header');
hostile(dpop_req('GET', '/api/x', $TA, $proof->($B, '/api/x')), 'dpop_binding_mismatch', 'invalid_token', 'valid proof by another key');
hostile(dpop_req('GET', '/api/x', $plain, dpop_proof($A, token => $plain, htm => 'GET', htu => $htu->('/api/x'))),
        'dpop_binding_mismatch', 'invalid_token', 'unbound token with the DPoP scheme');
hostile(req('GET', '/api/x', Authorization => "Bearer $TA"), 'dpop_bound_as_bearer', 'invalid_token', 'bound token as Bearer');
hostile(req('GET', '/api/x', Authorization => "Bearer $TA", DPoP => $proof->($A, '/api/x')), 'dpop_bound_as_bearer', 'invalid_token',
        'bound token as Bearer with a valid proof');
hostile(req('GET', '/off/x', Authorization => "Bearer $TA"), 'dpop_bound_as_bearer', undef, 'bound token as Bearer where DPoP is off');
hostile(req('GET', '/off/x', Authorization => "DPoP $TA", DPoP => $proof->($A, '/off/x')), 'token_missing', undef,
        'DPoP scheme where DPoP is off');
hostile(req('GET', '/req/x', Authorization => "Bearer $plain"), 'dpop_required', 'invalid_token', 'required: unbound Bearer token');
hostile(req('GET', '/req/x'), 'token_missing', '', 'required: no credential');
hostile(dpop_req('GET', '/es/x', dpop_token(my $rk = dpop_key('RS256')), undef), 'dpop_proof_missing', 'invalid_dpop_proof', 'es: no proof');
{
    my $t = dpop_token($rk);
    hostile(dpop_req('GET', '/es/x', $t, dpop_proof($rk, token => $t, htm => 'GET', htu => $htu->('/es/x'))),
            'dpop_proof_invalid', 'invalid_dpop_proof', 'RS256 proof where only ES256 is allowed');
}
hostile(dpop_req('GET', '/api/x', dpop_token($A, cnf => 'jkt'), $proof->($A, '/api/x')), 'claim_invalid', 'invalid_token', 'cnf a string');
hostile(dpop_req('GET', '/api/x', dpop_token($A, cnf => { jkt => 'short' }), $proof->($A, '/api/x')), 'claim_invalid', 'invalid_token', 'cnf.jkt not a thumbprint');
hostile(dpop_req('GET', '/api/x', dpop_token($A, cnf => { jkt => [ dpop_jkt($A) ] }), $proof->($A, '/api/x')), 'claim_invalid', 'invalid_token', 'cnf.jkt an array');
hostile(req('GET', '/api/x', Authorization => "DPoP $TA $TA", DPoP => $proof->($A, '/api/x')), 'token_malformed', 'invalid_token', 'two tokens after DPoP');
{
    # Cache hits: the token is in both caches now; a hit still needs its proof.
    my $T = dpop_token($A, username => 'carol');
    passes(dpop_req('GET', '/api/x', $T, dpop_proof($A, token => $T, htm => 'GET', htu => $htu->('/api/x'))), 'carol verified');
    hostile(req('GET', '/api/x', Authorization => "Bearer $T"), 'dpop_bound_as_bearer', 'invalid_token', 'cache hit as Bearer');
    hostile(dpop_req('GET', '/api/x', $T, undef), 'dpop_proof_missing', 'invalid_dpop_proof', 'cache hit without proof');
    hostile(dpop_req('GET', '/api/x', $T, dpop_proof($B, token => $T, htm => 'GET', htu => $htu->('/api/x'))),
            'dpop_binding_mismatch', 'invalid_token', 'cache hit with a proof by another key');
    hostile(dpop_req('GET', '/api/x', $T, dpop_proof($A, token => $T, htm => 'GET', htu => $htu->('/api/z'))),
            'dpop_url_mismatch', 'invalid_dpop_proof', 'cache hit with a proof for another URL');
}

cmp_ok($n, '>=', 40, "hostile corpus: $n cases");

$st = $ngx->status;
cmp_ok($st->{refused}{dpop_replayed} // 0, '>=', 2, 'status counts dpop_replayed') or diag(explain($st->{refused}));
unlike($ngx->error_log, qr/\[(?:alert|crit|emerg)\]/, 'no alert in the error log');

# The replay cache is a fixed table: 1024 slots take at most 1024 live
# proofs; beyond that proofs are refused (dpop_replay_full), never
# accepted unrecorded, and every accepted one is still refused on replay.
{
    my $small = RealmAuth::Nginx->start(
        http => "auth_realm_zone realm_auth:10m;\n    auth_realm_dpop_replay_cache 1024;\n",
        server => $loc->('/api/', 'auth_realm_dpop on; auth_realm_dpop_window 10m;'));
    my $u = 'http://127.0.0.1:' . $small->port . '/api/x';
    my (%seen, @accepted);
    my $ua = HTTP::Tiny->new(keep_alive => 1);
    for my $i (1 .. 1300) {
        my $p = dpop_proof($A, token => $TA, htm => 'GET', htu => $u);
        my $res = $ua->get($u, { headers => { Authorization => "DPoP $TA", DPoP => $p } });
        my $why = $res->{status} == 200 ? 'ok' : ($res->{headers}{'x-realm-error'} // $res->{status});
        $seen{$why}++;
        push @accepted, $p if $why eq 'ok';
    }
    cmp_ok($seen{ok} // 0, '<=', 1024, "at most 1024 proofs accepted into 1024 slots ($seen{ok})");
    cmp_ok($seen{ok} // 0, '>=', 700, 'most fit');
    is(($seen{dpop_replay_full} // 0) + ($seen{ok} // 0), 1300, 'the rest refused as dpop_replay_full')
        or diag(explain(\%seen));
    my $replays_refused = grep {
        my $res = HTTP::Tiny->new->get($u, { headers => { Authorization => "DPoP $TA", DPoP => $_ } });
        ($res->{headers}{'x-realm-error'} // '') eq 'dpop_replayed'
    } @accepted[0 .. 49];
    is($replays_refused, 50, 'accepted proofs stay recorded: 50 replays refused');
    like($small->error_log, qr/DPoP replay cache full/, 'a full cache is logged');
    $small->stop;
}

# Replay cache bound: nginx -t names the directive.
my ($ok, $out) = RealmAuth::Nginx->config_test(
    http => "auth_realm_zone z:1m;\n auth_realm_dpop_replay_cache 10;\n", server => '');
ok(!$ok && $out =~ /auth_realm_dpop_replay_cache/, 'replay cache too small refused at nginx -t');
($ok, $out) = RealmAuth::Nginx->config_test(
    http => "auth_realm_zone z:1m;\n", server => 'location / { auth_realm_dpop_htu_base https://h/path; }');
ok(!$ok && $out =~ /auth_realm_dpop_htu_base/, 'htu base with a path refused at nginx -t');
($ok, $out) = RealmAuth::Nginx->config_test(
    http => "auth_realm_zone z:1m;\n", server => 'location / { auth_realm_dpop_algorithms HS256; }');
ok(!$ok && $out =~ /unsupported algorithm "HS256"/, 'HS256 refused as a DPoP algorithm');
($ok, $out) = RealmAuth::Nginx->config_test(
    http => "auth_realm_zone z:1m;\n", server => 'location / { auth_realm_dpop maybe; }');
ok(!$ok, 'auth_realm_dpop takes off|on|required');

done_testing();
