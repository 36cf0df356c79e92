# Certificate-bound access tokens (RFC 8705 §3): a token with cnf.x5t#S256
# passes only over TLS with a client certificate whose SHA-256 DER
# thumbprint (base64url) is that value, on every request (verified-token
# cache hits included), whatever auth_realm_dpop says. Certificates are
# made here with openssl; nginx asks for one with ssl_verify_client
# optional_no_ca (self-signed certificate binding, RFC 8705 §2.2).
use strict;
use warnings;
use Test::More;

use Crypt::Digest::SHA256 qw(sha256);
use Crypt::Misc qw(encode_b64u);
use File::Temp qw(tempdir);
use HTTP::Tiny;

use RealmAuth::Dpop qw(:all);
use RealmAuth::Issuer qw(:all);
use RealmAuth::Nginx;

RealmAuth::Nginx::require_module();
start_issuer();
ensure_realm('tenant-a', algs => ['RS256']);

my $dir = tempdir(CLEANUP => 1);
sub make_cert {
    my ($name) = @_;
    system("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 "
         . "-subj /CN=$name -keyout $dir/$name.key -out $dir/$name.pem 2>/dev/null") == 0
        or BAIL_OUT("openssl could not make a certificate");
    my $der = `openssl x509 -in $dir/$name.pem -outform DER`;
    return encode_b64u(sha256($der));
}
make_cert('server');
my $x5t_a = make_cert('client-a');
my $x5t_b = make_cert('client-b');
# A test CA and a client certificate it signed, for ssl_verify_client on.
make_cert('ca');
system("openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=client-c "
     . "-keyout $dir/client-c.key -out $dir/client-c.csr 2>/dev/null && "
     . "openssl x509 -req -in $dir/client-c.csr -CA $dir/ca.pem -CAkey $dir/ca.key -CAcreateserial "
     . "-days 1 -out $dir/client-c.pem 2>/dev/null") == 0 or BAIL_OUT('openssl could not sign');
my $x5t_c = encode_b64u(sha256(scalar `openssl x509 -in $dir/client-c.pem -outform DER`));
isnt($x5t_a, $x5t_b, 'two client certificates');

my $plain_port = RealmAuth::Nginx::free_port();
my $ca_port = RealmAuth::Nginx::free_port();
my $ngx = RealmAuth::Nginx->start(
    listen => 'ssl',
    http => "auth_realm_zone realm_auth:10m;\n" . qq{
    server {
        listen 127.0.0.1:$ca_port ssl;
        ssl_certificate $dir/server.pem;
        ssl_certificate_key $dir/server.key;
        ssl_client_certificate $dir/ca.pem;
        ssl_verify_client on;
        location /api/ {
            auth_realm on;
            auth_realm_issuer \$TEST_NGINX_ISSUER/realms/tenant-*;
            add_header X-Realm-Error \$realm_auth_error always;
            proxy_pass http://127.0.0.1:\$TEST_NGINX_ISSUER_PORT/echo/;
        }
    }
    },
    server => qq{
        listen 127.0.0.1:$plain_port;
        ssl_certificate $dir/server.pem;
        ssl_certificate_key $dir/server.key;
        ssl_verify_client optional_no_ca;
        location /api/ {
            auth_realm on;
            auth_realm_issuer \$TEST_NGINX_ISSUER/realms/tenant-*;
            auth_realm_dpop on;
            add_header X-Realm-Error \$realm_auth_error always;
            proxy_pass http://127.0.0.1:\$TEST_NGINX_ISSUER_PORT/echo/;
        }
        location /nocache/ {
            auth_realm on;
            auth_realm_issuer \$TEST_NGINX_ISSUER/realms/tenant-*;
            auth_realm_token_cache off;
            add_header X-Realm-Error \$realm_auth_error always;
            proxy_pass http://127.0.0.1:\$TEST_NGINX_ISSUER_PORT/echo/;
        }
    },
);
my $tls = 'https://127.0.0.1:' . $ngx->port;

sub get {
    my ($cert, $url, %headers) = @_;
    my %ssl = (SSL_verify_mode => 0);
    %ssl = (%ssl, SSL_cert_file => "$dir/$cert.pem", SSL_key_file => "$dir/$cert.key") if $cert;
    my $ua = HTTP::Tiny->new(timeout => 15, keep_alive => 0, verify_SSL => 0, SSL_options => \%ssl);
    return $ua->get($url, { headers => \%headers });
}
sub check {
    my ($r, $status, $reason, $name) = @_;
    is($r->{status}, $status, "$name: $status") or diag($r->{content});
    is($r->{headers}{'x-realm-error'} // '', $reason, "$name: reason '$reason'") if $status != 200;
    like($r->{headers}{"www-authenticate"} // "", qr/^(?:Bearer|DPoP algs="[^"]+",) ?error="invalid_token"/, "$name: invalid_token challenge")
        if $status == 401;
}

my $TA = token(claims => { cnf => { 'x5t#S256' => $x5t_a } });
my $bearer = "Bearer $TA";

check(get('client-a', "$tls/api/x", Authorization => $bearer), 200, '', 'bound token, its certificate');
check(get('client-a', "$tls/api/x", Authorization => $bearer), 200, '', 'again (verified-token cache hit)');
check(get('client-b', "$tls/api/x", Authorization => $bearer), 401, 'cert_binding_mismatch', 'cache hit, another certificate');
check(get(undef, "$tls/api/x", Authorization => $bearer), 401, 'cert_binding_mismatch', 'cache hit, no client certificate');
check(get(undef, "http://127.0.0.1:$plain_port/api/x", Authorization => $bearer), 401, 'cert_binding_mismatch', 'plain HTTP');
check(get('client-b', "$tls/nocache/x", Authorization => $bearer), 401, 'cert_binding_mismatch', 'another certificate, cache off');
check(get('client-a', "$tls/nocache/x", Authorization => $bearer), 200, '', 'its certificate, cache off');
check(get(undef, "$tls/api/x", Authorization => 'Bearer ' . token()), 200, '', 'unbound token without a certificate');
check(get('client-b', "$tls/api/x", Authorization => 'Bearer ' . token()), 200, '', 'unbound token with any certificate');

for my $bad ([ 'padded' => "$x5t_a=" ], [ 'hex' => unpack('H*', sha256('x')) ], [ 'short' => 'abc' ],
             [ 'number' => 5 ], [ 'null' => undef ]) {
    my $t = token(claims => { cnf => { 'x5t#S256' => $bad->[1] } });
    # JSON null: the member is there, so it is refused too.
    $t = token(claims => { cnf => { 'x5t#S256' => JSON::PP::null } }) if !defined $bad->[1];
    check(get('client-a', "$tls/api/x", Authorization => "Bearer $t"), 401, 'claim_invalid', "x5t#S256 $bad->[0]");
}

# Both bindings: the DPoP proof and the certificate.
my $k = dpop_key('ES256');
my $TB = dpop_token($k, cnf => { jkt => dpop_jkt($k), 'x5t#S256' => $x5t_a });
my $proof = sub { dpop_proof($k, token => $TB, htm => 'GET', htu => "$tls/api/x") };
check(get('client-a', "$tls/api/x", Authorization => "DPoP $TB", DPoP => $proof->()), 200, '', 'DPoP and certificate');
check(get('client-b', "$tls/api/x", Authorization => "DPoP $TB", DPoP => $proof->()), 401, 'cert_binding_mismatch',
      'DPoP right, certificate wrong');
my $r = get('client-a', "$tls/api/x", Authorization => "Bearer $TB");
is($r->{headers}{'x-realm-error'}, 'dpop_bound_as_bearer', 'certificate right, DPoP proof missing');

# A CA-verified client certificate (ssl_verify_client on): the binding is
# still the thumbprint of the very certificate.
my $ca = "https://127.0.0.1:$ca_port";
my $TC = token(claims => { cnf => { 'x5t#S256' => $x5t_c } });
check(get('client-c', "$ca/api/x", Authorization => "Bearer $TC"), 200, '', 'CA-signed certificate, its token');
check(get('client-c', "$ca/api/x", Authorization => $bearer), 401, 'cert_binding_mismatch',
      'CA-signed certificate, a token bound to another');
is(get('client-a', "$ca/api/x", Authorization => $bearer)->{status}, 400,
   'a certificate the CA did not sign is refused by nginx (ssl_verify_client on)');

unlike($ngx->error_log, qr/\[(?:alert|crit|emerg)\]/, 'no alert in the error log');
done_testing();
