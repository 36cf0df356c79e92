# The DPoP replay cache across nginx instances: with auth_realm_redis, each
# accepted proof's jti is also claimed in Redis (SET <prefix>dpop:<hash> NX
# PX, in the thread pool), so a proof accepted by instance A is refused as
# replayed by instance B (both behind one load balancer name, htu_base).
# Redis runs with the stack's ACL (the nginx user may write dpop:*). With
# Redis down each instance's own replay cache still applies.
use strict;
use warnings;
use Test::More;

use HTTP::Tiny;

use RealmAuth::Dpop qw(:all);
use RealmAuth::Issuer qw(:all);
use RealmAuth::Nginx;
use RealmAuth::Redis;

RealmAuth::Nginx::require_module();
my $redis = eval { RealmAuth::Redis->start(acl => 1) };
plan skip_all => "redis-server not available: $@" unless $redis;

start_issuer();
ensure_realm('tenant-a', algs => ['RS256']);

my $prefix = "dp$$:";
my %conf = (
    master => 1, workers => 2,
    http => "auth_realm_zone realm_auth:10m;\n" . $redis->directive(prefix => $prefix),
    server => q{
        location /api/ {
            auth_realm on;
            auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
            auth_realm_dpop on;
            auth_realm_dpop_htu_base https://api.example.com;
            add_header X-Realm-Error $realm_auth_error always;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
    },
);
my $na = RealmAuth::Nginx->start(%conf);
my $nb = RealmAuth::Nginx->start(%conf);

my $k = dpop_key('ES256');
my $t = dpop_token($k);
sub proof { dpop_proof($k, token => $t, htm => 'GET', htu => 'https://api.example.com/api/x') }
sub send_to {
    my ($ngx, $p) = @_;
    return $ngx->get('/api/x', Authorization => "DPoP $t", DPoP => $p);
}

my $p = proof();
is(send_to($na, $p)->{status}, 200, 'A accepts a fresh proof');
my $r = send_to($nb, $p);
is($r->{status}, 401, 'B refuses the same proof');
is($r->{headers}{'x-realm-error'}, 'dpop_replayed', 'B: dpop_replayed (seen through Redis)');
my $keys = $redis->cmd('KEYS', "${prefix}dpop:*");
is(scalar @$keys, 1, 'Redis holds one dpop: key') or diag(explain($keys));
my $ttl = $redis->cmd('PTTL', $keys->[0]);
cmp_ok($ttl, '>', 0, 'it expires');
cmp_ok($ttl, '<=', 61_000, 'no later than the window');

# Many proofs at once to both instances: each accepted once, never twice.
my @proofs = map { proof() } 1 .. 10;
my @reqs = map { my $q = $_; (['/api/x', Authorization => "DPoP $t", DPoP => $q]) } @proofs;
my @ra = $na->concurrent(\@reqs);
my @rb = $nb->concurrent(\@reqs);
my $ok = grep { $_->{status} == 200 } @ra, @rb;
is($ok, 10, '10 proofs sent to A then B: 10 accepted in total');

$redis->stop;
my $q = proof();
is(send_to($na, $q)->{status}, 200, 'Redis down: a fresh proof is accepted');
is(send_to($na, $q)->{status}, 401, "Redis down: its replay at the same nginx is still refused");
like($na->error_log, qr/DPoP replay check in Redis failed/, 'the Redis failure is logged');
unlike($na->error_log . $nb->error_log, qr/\[(?:alert|crit|emerg)\]/, 'no alert in the error logs');
done_testing();
