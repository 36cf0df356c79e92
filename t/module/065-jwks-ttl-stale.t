# JWKS lifetime: after auth_realm_jwks_ttl the keys are refreshed, and while
# the issuer is unreachable expired keys keep serving for
# auth_realm_jwks_stale; after that the module fails closed.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(sleep time);

use RealmAuth::Issuer qw(:all);
use RealmAuth::Nginx;

RealmAuth::Nginx::require_module();

start_issuer();
ensure_realm('tenant-ttl', algs => ['RS256']);

my $ngx = RealmAuth::Nginx->start(
    http => 'auth_realm_zone realm_auth:10m;',
    server => q{
        location /api/ {
            auth_realm on;
            auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
            auth_realm_jwks_ttl 1s;
            auth_realm_jwks_stale 4s;
            auth_realm_fetch_timeout 1s;
            auth_realm_token_cache off;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
    },
);

sub call { $ngx->get('/api/x', Authorization => 'Bearer ' . token(realm => 'tenant-ttl', @_))->{status} }

# wait (a little) for a background refresh to be counted
sub fetches_after {
    my ($want) = @_;
    my $deadline = time + 3;
    sleep 0.1 while fetch_count('tenant-ttl') < $want && time < $deadline;
    return fetch_count('tenant-ttl');
}

is(call(), 200, 'first token accepted');
is(fetch_count('tenant-ttl'), 1, 'one fetch');
is(call(username => 'bob'), 200, 'second token within the TTL');
is(fetch_count('tenant-ttl'), 1, 'no fetch within the TTL');

sleep 1.5;
is(call(username => 'carol'), 200, 'after the TTL: still accepted');
is(fetches_after(2), 2, 'after the TTL the JWKS was fetched again');

# issuer goes away; the keys expire but stay usable while stale
set_down('tenant-ttl', 'close');
sleep 1.5;
is(call(username => 'dave'), 200, 'issuer down, TTL over, within the stale window: accepted');
cmp_ok(fetches_after(3), '>=', 3, 'a refresh was attempted');

# past ttl + stale: no usable keys, fail closed
sleep 4.5;
is(call(username => 'erin'), 401, 'past the stale window with the issuer down: refused');
like($ngx->error_log, qr/token refused: jwks_unavailable/, 'as jwks_unavailable');

# issuer back: accepted again
set_down('tenant-ttl', 0);
sleep 1.1;    # let any failure backoff pass
is(call(username => 'frank'), 200, 'issuer back: accepted again');

unlike($ngx->error_log, qr/\[(alert|crit|emerg)\]/, 'no alerts in the error log');
$ngx->stop;
done_testing();
