# Bad configurations fail `nginx -t` with a message naming the directive,
# so an operator finds the mistake before reloading. A good config passes.
use strict;
use warnings;
use Test::More;

use RealmAuth::Nginx;
use RealmAuth::Redis;

RealmAuth::Nginx::require_module();

$ENV{TEST_NGINX_ISSUER} //= 'http://127.0.0.1:8080';

# A server block protecting /api/ with the given extra directives.
sub api {
    my ($directives) = @_;
    return "location /api/ {\n auth_realm on;\n $directives\n proxy_pass http://127.0.0.1:9/;\n}\n";
}

my $ISSUER = 'auth_realm_issuer http://127.0.0.1:8080/realms/tenant-*;';
my $ZONE = 'auth_realm_zone realm_auth:10m;';
my $KEY = RealmAuth::Redis::scratch_key_file();
my $SHORT_KEY = "$KEY.short";
open my $fh, '>', $SHORT_KEY or die $!;
print $fh "too-short-for-a-fleet-key\n";
close $fh;

my @cases = (
    # [ name, http-level text, server-level text, directive the message must name ]
    ['issuer without scheme', $ZONE,
     api('auth_realm_issuer 127.0.0.1:8080/realms/tenant-*;'), 'auth_realm_issuer'],
    ['issuer with * in the host', $ZONE,
     api('auth_realm_issuer http://*.example.com/realms/tenant-*;'), 'auth_realm_issuer'],
    ['issuer with a query', $ZONE,
     api('auth_realm_issuer "http://127.0.0.1:8080/realms/tenant-*?x=1";'), 'auth_realm_issuer'],
    ['issuer with a fragment', $ZONE,
     api('auth_realm_issuer "http://127.0.0.1:8080/realms/tenant-*#x";'), 'auth_realm_issuer'],
    ['issuer with userinfo', $ZONE,
     api('auth_realm_issuer http://user@127.0.0.1:8080/realms/tenant-*;'), 'auth_realm_issuer'],
    ['issuer with ftp scheme', $ZONE,
     api('auth_realm_issuer ftp://127.0.0.1/realms/tenant-*;'), 'auth_realm_issuer'],
    ['issuer with * in the middle of the path', $ZONE,
     api('auth_realm_issuer http://127.0.0.1:8080/realms/*/tenant-a;'), 'auth_realm_issuer'],
    ['issuer with a bare * as realm', $ZONE,
     api('auth_realm_issuer http://127.0.0.1:8080/realms/*;'), 'auth_realm_issuer'],
    ['issuer with two *', $ZONE,
     api('auth_realm_issuer http://127.0.0.1:8080/realms/tenant-**;'), 'auth_realm_issuer'],
    ['auth_realm on without auth_realm_zone', '',
     api($ISSUER), 'auth_realm_zone'],
    ['auth_realm_algorithms none', $ZONE,
     api("$ISSUER auth_realm_algorithms none;"), 'auth_realm_algorithms'],
    ['auth_realm_algorithms HS256', $ZONE,
     api("$ISSUER auth_realm_algorithms RS256 HS256;"), 'auth_realm_algorithms'],
    ['auth_realm_algorithms unknown name', $ZONE,
     api("$ISSUER auth_realm_algorithms RS257;"), 'auth_realm_algorithms'],
    ['zone size zero', 'auth_realm_zone realm_auth:0;',
     api($ISSUER), 'auth_realm_zone'],
    ['zone without size', 'auth_realm_zone realm_auth;',
     api($ISSUER), 'auth_realm_zone'],
    ['redis address without port', "$ZONE auth_realm_redis 127.0.0.1;",
     api($ISSUER), 'auth_realm_redis'],
    ['redis port not a number', "$ZONE auth_realm_redis 127.0.0.1:http;",
     api($ISSUER), 'auth_realm_redis'],
    ['redis port out of range', "$ZONE auth_realm_redis 127.0.0.1:70000;",
     api($ISSUER), 'auth_realm_redis'],
    ['redis without hmac_key_file', "$ZONE auth_realm_redis 127.0.0.1:6379;",
     api($ISSUER), 'hmac_key_file'],
    ['redis hmac key file missing', "$ZONE auth_realm_redis 127.0.0.1:6379 hmac_key_file=/nonexistent;",
     api($ISSUER), 'auth_realm_redis'],
    ['redis hmac key too short', "$ZONE auth_realm_redis 127.0.0.1:6379 hmac_key_file=$SHORT_KEY;",
     api($ISSUER), 'fewer than 32'],
    ['redis previous hmac key missing',
     "$ZONE auth_realm_redis 127.0.0.1:6379 hmac_key_file=$KEY hmac_previous_key_file=/nonexistent;",
     api($ISSUER), 'auth_realm_redis'],
    ['redis user without password_file', "$ZONE auth_realm_redis 127.0.0.1:6379 hmac_key_file=$KEY user=nginx;",
     api($ISSUER), 'password_file'],
    ['redis password file missing',
     "$ZONE auth_realm_redis 127.0.0.1:6379 hmac_key_file=$KEY user=nginx password_file=/nonexistent;",
     api($ISSUER), 'auth_realm_redis'],
    ['redis unknown option', "$ZONE auth_realm_redis 127.0.0.1:6379 frobnicate=1;",
     api($ISSUER), 'auth_realm_redis'],
    ['redis bad timeout', "$ZONE auth_realm_redis 127.0.0.1:6379 timeout=soon;",
     api($ISSUER), 'auth_realm_redis'],
    ['tenant registry without redis', "$ZONE auth_realm_tenant_registry on;",
     api($ISSUER), 'auth_realm_tenant_registry'],
    ['tenant registry not a flag', "$ZONE auth_realm_redis 127.0.0.1:6379 hmac_key_file=$KEY; auth_realm_tenant_registry yes;",
     api($ISSUER), 'auth_realm_tenant_registry'],
    ['leeway abc', $ZONE,
     api("$ISSUER auth_realm_leeway abc;"), 'auth_realm_leeway'],
    ['jwks_ttl abc', $ZONE,
     api("$ISSUER auth_realm_jwks_ttl abc;"), 'auth_realm_jwks_ttl'],
    ['token_max_size abc', $ZONE,
     api("$ISSUER auth_realm_token_max_size abc;"), 'auth_realm_token_max_size'],
    ['auth_realm maybe', $ZONE,
     "location /api/ { auth_realm maybe; $ISSUER proxy_pass http://127.0.0.1:9/; }", 'auth_realm'],
    ['strip_identity_headers in a location (http, server only)', $ZONE,
     "location /x/ { auth_realm_strip_identity_headers on; }", 'auth_realm_strip_identity_headers'],
    ['unknown thread pool', "$ZONE auth_realm_thread_pool nosuchpool;",
     api($ISSUER), 'nosuchpool'],
);

for my $c (@cases) {
    my ($name, $http, $server, $directive) = @$c;
    my ($ok, $out) = RealmAuth::Nginx->config_test(http => $http, server => $server);
    ok(!$ok, "nginx -t fails: $name") or diag($out);
    like($out, qr/\[emerg\].*\Q$directive\E/, "  ... and the message names $directive")
        or diag($out);
    unlike($out, qr/signal|core dumped|Segmentation/i, "  ... without crashing");
}

# The same directives, done right, pass.
my ($ok, $out) = RealmAuth::Nginx->config_test(
    main => 'thread_pool realm_auth threads=4;',
    http => "auth_realm_zone realm_auth:10m;\n"
          . "auth_realm_redis 127.0.0.1:6379 prefix=realm_auth: timeout=200ms hmac_key_file=$KEY "
          . "hmac_previous_key_file=$KEY user=nginx password_file=$KEY;\n"
          . "auth_realm_thread_pool realm_auth;",
    server => api(join "\n",
        'auth_realm_issuer http://127.0.0.1:8080/realms/tenant-*;',
        'auth_realm_issuer http://127.0.0.1:8080/realms/platform;',
        'auth_realm_issuer https://id.example.com/realms/tenant-*;',
        'auth_realm_audience tenant-services;',
        'auth_realm_leeway 30s;',
        'auth_realm_algorithms RS256 PS256 ES256 EdDSA;',
        'auth_realm_token_max_size 16k;',
        'auth_realm_client_roles tenant-services;',
        'auth_realm_jwks_ttl 5m;',
        'auth_realm_jwks_stale 10m;',
        'auth_realm_jwks_refetch_interval 30s;',
        'auth_realm_fetch_timeout 3s;',
        'auth_realm_token_cache on;',
        'auth_realm_require_purpose on;',
        'auth_realm_identity_headers on;')
        . "location = /realm-auth/status { auth_realm_status; }\n",
);
ok($ok, 'a config using every directive passes nginx -t') or diag($out);

# auth_realm off everywhere needs no zone
($ok, $out) = RealmAuth::Nginx->config_test(
    server => "location / { auth_realm off; return 204; }");
ok($ok, 'auth_realm off needs no auth_realm_zone') or diag($out);

done_testing();
