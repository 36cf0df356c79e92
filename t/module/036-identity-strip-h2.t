# 035-identity-strip.t over HTTP/2 (prior knowledge, cleartext): header
# names arrive lowercase, in HPACK, through nginx's v2 module; the reserved
# names must still never reach the upstream, whatever the access decision.
# Requests are made with curl (scripts/deps/apt-packages.txt), which
# speaks h2; the suite is skipped when curl lacks HTTP/2.
use strict;
use warnings;
use Test::More;

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
        underscores_in_headers on;
        location /api/ {
            auth_realm on;
            auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
            auth_realm_identity_headers on;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
        location /any/ {
            satisfy any;
            allow 127.0.0.1;
            deny all;
            auth_realm on;
            auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
            auth_realm_identity_headers on;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
        location /fallback/ {
            auth_realm on;
            auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
            error_page 401 = @public;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
        location @public {
            rewrite ^ /echo/public break;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT;
        }
    },
);

my @SPOOF = (
    'x-tenant-id: evil', 'X-Tenant-Id: evil-again', 'x-actor-id: evil',
    'x-actor-roles: platform_admin', 'x-realm-name: platform', 'x-realm-foo: evil',
    'x_tenant_id: evil_underscore', 'x-actor_roles: mixed', 'x-other: kept',
);

# One HTTP/2 request; returns (HTTP version curl used, status, body).
sub h2 {
    my ($path, @headers) = @_;
    my @cmd = ('curl', '-sS', '--http2-prior-knowledge', '--max-time', '10',
               '-w', '\n%{http_version} %{http_code}', map({ ('-H', $_) } @headers),
               $ngx->url($path));
    open my $fh, '-|', @cmd or die "curl: $!";
    local $/;
    my $out = <$fh>;
    close $fh;
    my ($body, $version, $code) = $out =~ /\A(.*)\n(\S+) (\d+)\z/s or return ('?', 0, $out);
    return ($version, $code, $body);
}

my $ALICE = user_id('tenant-a', 'alice');
my $ROLES = 'default-roles-tenant-a,offline_access,uma_authorization,officer';
my $ALICE_HEADERS = "x-actor-email: alice\@example.com\nx-actor-id: $ALICE\n"
    . "x-actor-roles: $ROLES\nx-actor-username: alice\nx-realm-name: tenant-a\nx-tenant-id: a\n";

my ($v, $code, $body) = h2('/api/x', 'Authorization: Bearer ' . token(), @SPOOF);
is($v, '2', 'the request was HTTP/2');
is($code, 200, 'verified request passes');
is($body, "uri: /echo/x\n" . join('', sort split /^/m, "${ALICE_HEADERS}x-other: kept\n"),
   'verified: only the verified identity reaches the upstream');

($v, $code, $body) = h2('/any/x', @SPOOF);
is($code, 200, 'satisfy any + allow lets the unauthenticated request through');
is($body, "uri: /echo/x\nx-other: kept\n", 'satisfy any: no spoofed identity upstream');

($v, $code, $body) = h2('/any/x', 'Authorization: Bearer ' . token(exp_in => -3600), @SPOOF);
is($body, "uri: /echo/x\nx-other: kept\n", 'satisfy any, refused token: no spoofed identity');

($v, $code, $body) = h2('/fallback/x', @SPOOF);
is($body, "uri: /echo/public\nx-other: kept\n", 'error_page fallback: no spoofed identity');

($v, $code, $body) = h2('/any/x', 'x-purpose;', 'x-purpose: smuggled');    # "x-purpose;" is curl for an empty value
is($body, "uri: /echo/x\n", 'ambiguous X-Purpose does not reach the upstream');

$ngx->stop;
done_testing();
