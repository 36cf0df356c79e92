# DPoP over HTTP/2: htu from :authority, one proof per request (two DPoP
# fields refused), no proof reaches the upstream, replays refused. curl
# speaks h2 (prior knowledge); skipped without HTTP/2 support in curl.
use strict;
use warnings;
use Test::More;

use RealmAuth::Dpop qw(:all);
use RealmAuth::Issuer qw(:all);
use RealmAuth::Nginx;

RealmAuth::Nginx::require_module();
my $curl_ok = `curl --version 2>/dev/null` =~ /\bHTTP2\b/;
plan skip_all => 'curl with HTTP/2 support not installed' unless $curl_ok;

start_issuer();
ensure_realm('tenant-a');
my $ngx = RealmAuth::Nginx->start(
    listen => 'http2',
    http => 'auth_realm_zone realm_auth:10m;',
    server => q{
        location /api/ {
            auth_realm on;
            auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
            auth_realm_dpop on;
            add_header X-Realm-Error $realm_auth_error always;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
    },
);

# One HTTP/2 request: (HTTP version, status, body, $realm_auth_error).
sub h2 {
    my ($path, @headers) = @_;
    my @cmd = ('curl', '-sS', '--http2-prior-knowledge', '--max-time', '10', '-D', '-',
               '-w', '\n%{http_version} %{http_code}', map({ ('-H', $_) } @headers), $ngx->url($path));
    open my $fh, '-|', @cmd or die "curl: $!";
    local $/;
    my $out = <$fh>;
    close $fh;
    my ($reason) = $out =~ /^x-realm-error: (\S*)/mi;
    my ($body, $version, $code) = $out =~ /\A(.*)\n(\S+) (\d+)\z/s or return ('?', 0, $out, '');
    return ($version, $code, $body, $reason // '');
}

my $k = dpop_key('ES256');
my $t = dpop_token($k);
my $htu = $ngx->url('/api/x');
my $proof = sub { dpop_proof($k, token => $t, htm => 'GET', htu => $_[0] // $htu) };

my $p = $proof->();
my ($v, $code, $body) = h2('/api/x', "Authorization: DPoP $t", "DPoP: $p");
is($v, '2', 'HTTP/2');
is($code, 200, 'h2: bound token with its proof');
unlike($body, qr/^dpop:/mi, 'h2: the upstream saw no DPoP header');
my (undef, $c2, undef, $why) = h2('/api/x', "Authorization: DPoP $t", "DPoP: $p");
is("$c2 $why", '401 dpop_replayed', 'h2: replay refused');
(undef, $c2, undef, $why) = h2('/api/x', "Authorization: DPoP $t", 'DPoP: ' . $proof->(), 'dpop: ' . $proof->());
is("$c2 $why", '401 dpop_proof_invalid', 'h2: two DPoP fields refused');
(undef, $c2, undef, $why) = h2('/api/x', "Authorization: DPoP $t", 'DPoP: ' . $proof->('https://127.0.0.1:' . $ngx->port . '/api/x'));
is("$c2 $why", '401 dpop_url_mismatch', 'h2: proof for https over plain h2c');
unlike($ngx->error_log, qr/\[(?:alert|crit|emerg)\]/, 'no alert in the error log');
done_testing();
