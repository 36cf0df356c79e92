# A slow issuer must not stall the event loop: with one worker, while a
# request for tenant-slow waits 3 s on its JWKS fetch (in the thread pool),
# 20 requests for an already cached issuer complete, and they all finish
# before the slow one. No tight timing is asserted.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time sleep);

use RealmAuth::Issuer qw(:all);
use RealmAuth::Nginx;

RealmAuth::Nginx::require_module();

start_issuer();
ensure_realm('tenant-slow', algs => ['RS256']);
ensure_realm('tenant-quick', algs => ['RS256']);
set_delay('tenant-slow', 3);

my $ngx = RealmAuth::Nginx->start(
    workers => 1,
    http => 'auth_realm_zone realm_auth:10m;',
    server => q{
        location /api/ {
            auth_realm on;
            auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
            auth_realm_fetch_timeout 10s;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
    },
);

# warm the quick issuer's keys
is($ngx->get('/api/x', Authorization => 'Bearer ' . token(realm => 'tenant-quick'))->{status},
   200, 'quick issuer cached');

my $slow = $ngx->async('/api/slow', Authorization => 'Bearer ' . token(realm => 'tenant-slow'));
sleep 0.5;    # the slow fetch is now in flight
my $t0 = time;
my @quick = $ngx->concurrent([ map { ['/api/quick', Authorization => 'Bearer '
                                       . token(realm => 'tenant-quick', username => "u$_")] } 1 .. 20 ]);
my ($slow_r) = $ngx->wait_all($slow);

is(scalar(grep { $_->{status} == 200 } @quick), 20, '20 quick requests accepted');
is($slow_r->{status}, 200, 'the slow request succeeds in the end');
cmp_ok($slow_r->{elapsed}, '>=', 2.5, 'the slow request did wait for its issuer');
my $last_quick = (sort { $b <=> $a } map { $_->{end} } @quick)[0];
cmp_ok($last_quick, '<', $slow_r->{end}, 'every quick request finished before the slow one');
my $worst = (sort { $b <=> $a } map { $_->{elapsed} } @quick)[0];
cmp_ok($worst, '<', 2, sprintf('quick requests not held up by the slow fetch (worst %.2f s)', $worst));
is(fetch_count('tenant-slow'), 1, 'one fetch for the slow issuer');
is(fetch_count('tenant-quick'), 1, 'one fetch for the quick issuer');

unlike($ngx->error_log, qr/\[(alert|crit|emerg)\]/, 'no alerts in the error log');
$ngx->stop;
done_testing();
