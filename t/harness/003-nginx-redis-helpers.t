# Self-test of RealmAuth::Nginx, RealmAuth::Redis and the issuer's
# concurrency (plain nginx, no module).
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time);

use RealmAuth::Issuer qw(:all);
use RealmAuth::Nginx;
use RealmAuth::Redis;

start_issuer();
ensure_realm('tenant-slow', algs => ['RS256']);
ensure_realm('tenant-fast', algs => ['RS256']);
set_delay('tenant-slow', 2);

my $ngx = RealmAuth::Nginx->start(
    module => 0, workers => 2, master => 1,
    server => q{
        location /jwks/ { proxy_pass $TEST_NGINX_ISSUER/realms/; }
        location /api/  { proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/; }
        location = /self { return 200 "port $TEST_NGINX_SERVER_PORT\n"; }
    },
);

my $r = $ngx->get('/self');
is($r->{status}, 200, 'GET through a standalone nginx');
is($r->{body}, "port " . $ngx->port . "\n", '$TEST_NGINX_SERVER_PORT is this instance\'s port');

$r = $ngx->get('/api/x', 'X-Foo' => 'bar');
is($r->{body}, "uri: /echo/x\nx-foo: bar\n", 'echo upstream sees forwarded headers');

# a slow realm must not hold up another one: the issuer forks per connection
my $slow = $ngx->async('/jwks/tenant-slow/protocol/openid-connect/certs');
my @fast = $ngx->concurrent([ map { ['/jwks/tenant-fast/protocol/openid-connect/certs'] } 1 .. 10 ]);
my ($slow_r) = $ngx->wait_all($slow);
is($slow_r->{status}, 200, 'slow realm answered');
cmp_ok($slow_r->{elapsed}, '>=', 1.9, 'slow realm was delayed');
is(scalar(grep { $_->{status} == 200 } @fast), 10, 'ten concurrent fetches of the fast realm');
cmp_ok((sort { $b <=> $a } map { $_->{end} } @fast)[0], '<', $slow_r->{end},
       'fast realm answered before the slow one');
is(fetch_count('tenant-fast'), 10, 'fetch counter counts each request');
is(fetch_count('tenant-slow'), 1, 'slow fetch counted on arrival');

set_down('tenant-fast', '503');
is($ngx->get('/jwks/tenant-fast/protocol/openid-connect/certs')->{status}, 503, 'down as 503');
set_down('tenant-fast', 'close');
is($ngx->get('/jwks/tenant-fast/protocol/openid-connect/certs')->{status}, 502, 'down as closed connection');
set_body('tenant-fast', 'garbage');
set_down('tenant-fast', 0);
my $g = $ngx->get("/jwks/tenant-fast/protocol/openid-connect/certs"); is($g->{body}, "garbage", "body override") or diag explain $g;
reset_issuer();
is(fetch_count('tenant-fast'), 0, 'reset clears counters');
like($ngx->get('/jwks/tenant-fast/protocol/openid-connect/certs')->{body}, qr/"keys"/, 'reset restores the JWKS');

my ($ok, $out) = RealmAuth::Nginx->config_test(module => 0, server => 'location / { frobnicate; }');
ok(!$ok, 'config_test reports a bad config');
like($out, qr/unknown directive "frobnicate"/, 'with nginx\'s message');

$ngx->stop;

SKIP: {
    my $redis = eval { RealmAuth::Redis->start } or skip "no redis-server: $@", 3;
    is($redis->cmd('SET', 'k', 'v'), 'OK', 'redis SET');
    is($redis->cmd('GET', 'k'), 'v', 'redis GET');
    is_deeply($redis->cmd('KEYS', '*'), ['k'], 'redis KEYS');
    $redis->stop;
}

done_testing();
