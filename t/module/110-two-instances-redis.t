# Two nginx instances share the Redis tier: a burst to instance A and then
# to instance B for the same fresh issuer costs one HTTP fetch in total (A
# fetches and writes <prefix>jwks:<iss>; B finds it in Redis), and the key
# is visible in Redis.
use strict;
use warnings;
use Test::More;

use RealmAuth::Issuer qw(:all);
use RealmAuth::Nginx;
use RealmAuth::Redis;

RealmAuth::Nginx::require_module();

my $redis = eval { RealmAuth::Redis->start(acl => 1) };
plan skip_all => "redis-server not available: $@" unless $redis;

start_issuer();
ensure_realm('tenant-shared', algs => ['RS256', 'ES256']);
set_delay('tenant-shared', 0.5);    # so A's burst really overlaps the fetch

my $prefix = "rt$$:";
my $port = $redis->port;
my %conf = (
    master => 1, workers => 2,
    http => "auth_realm_zone realm_auth:10m;\n"
          . $redis->directive(prefix => $prefix),
    server => q{
        location /api/ {
            auth_realm on;
            auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
        location = /realm-auth/status { auth_realm_status; }
    },
);
my $na = RealmAuth::Nginx->start(%conf);
my $nb = RealmAuth::Nginx->start(%conf);

sub burst {
    my ($ngx, $tag) = @_;
    my @r = $ngx->concurrent([ map { ['/api/x', Authorization => 'Bearer '
        . token(realm => 'tenant-shared', username => "$tag$_", alg => ($_ % 2 ? 'ES256' : 'RS256'))] } 1 .. 20 ]);
    return scalar grep { $_->{status} == 200 } @r;
}

is(burst($na, 'a'), 20, 'burst of 20 to instance A accepted');
is(fetch_count('tenant-shared'), 1, 'A fetched the JWKS once');
is(burst($nb, 'b'), 20, 'burst of 20 to instance B accepted');
is(fetch_count('tenant-shared'), 1, 'B did not fetch: one HTTP fetch in total');

my $iss = realm_iss('tenant-shared');
my $keys = $redis->cmd('KEYS', "$prefix*");
ok((grep { $_ eq "${prefix}jwks:$iss" } @$keys), "Redis holds ${prefix}jwks:<iss>")
    or diag(explain($keys));
my $ttl = $redis->cmd('PTTL', "${prefix}jwks:$iss");
cmp_ok($ttl, '>', 0, 'the Redis entry expires (has a TTL)');

my $sa = $na->status;
my $sb = $nb->status;
is($sa->{jwks}{http_fetches}, 1, 'A status: one HTTP fetch');
is($sb->{jwks}{http_fetches}, 0, 'B status: no HTTP fetch');
cmp_ok($sb->{jwks}{redis_hits}, '>=', 1, 'B status: served from Redis');
is(($sa->{jwks}{redis_errors} // 0) + ($sb->{jwks}{redis_errors} // 0), 0, 'no Redis errors');

for my $n ([$na, "A"], [$nb, "B"]) {
    unlike($n->[0]->error_log, qr/\[(alert|crit|emerg)\]/, "no alerts in $n->[1]'s error log");
}
$na->stop;
$nb->stop;
$redis->stop;
done_testing();
