# A tenant state one worker read is honoured by every worker of that nginx
# while Redis is unreachable (issue 10 item 3: a Sentinel failover, or an
# outage). Found by t/module/185 under load: the load generator's
# disabled-tenant token reached, during the failover, a worker that had
# never seen that tenant; its first read of the record failed and it served
# the token (200) until Redis answered again, although the other worker of
# the same nginx had read the disable before the failover.
#
# Each worker is reached on a keep-alive connection of its own, so the test
# decides which worker sees which token:
#   first sight   W1 reads tenant-off's "disabled"; Redis is killed; W2 sees
#                 tenant-off for the first time: refused as tenant_disabled
#   refresh       W2 served tenant-held (record absent) before the disable;
#                 the disable is published, W1 reads it (a first read),
#                 Redis is killed, normally before W2's next refresh: W2
#                 refuses it within one interval (its failed refresh takes
#                 W1's record)
#   never read    a tenant no worker of this nginx ever read is served while
#                 Redis is down (Redis is an optional tier)
use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use Time::HiRes qw(sleep time);

use RealmAuth::Issuer qw(:all);
use RealmAuth::Nginx;
use RealmAuth::Redis;

RealmAuth::Nginx::require_module();

my $redis = eval { RealmAuth::Redis->start };
plan skip_all => "redis-server not available: $@" unless $redis;

start_issuer();
ensure_realm($_) for qw(tenant-off tenant-held tenant-other tenant-new);

my $interval = 3;    # seconds: W2's periodic refresh must not come before the kill
my $prefix = "to$$:";
my $ngx = RealmAuth::Nginx->start(
    master => 1, workers => 2,
    http => "auth_realm_zone realm_auth:10m;\n"
          . $redis->directive(prefix => $prefix, timeout => '300ms') . "\n"
          . "auth_realm_tenant_state_interval ${interval}s;",
    server => q{
        location /api/ {
            auth_realm on;
            auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
            add_header X-Auth-Error $realm_auth_error always;
            add_header X-Worker $pid always;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
    },
);

# A keep-alive client stays on the worker that accepted its connection.
sub ask {
    my ($ua, $tok) = @_;
    my $r = $ua->get($ngx->url('/api/x'), { headers => { Authorization => "Bearer $tok" } });
    return ($r->{status}, $r->{headers}{'x-auth-error'} // '', $r->{headers}{'x-worker'} // '');
}

# Two clients on two different workers (new connections until a second
# worker answers).
my $other = token(realm => 'tenant-other');
my %on;
for (1 .. 200) {
    my $ua = HTTP::Tiny->new(keep_alive => 1, timeout => 10);
    my ($status, undef, $pid) = ask($ua, $other);
    $on{$pid} //= $ua if $status == 200 && $pid;
    last if keys %on == 2;
}
is(scalar(keys %on), 2, 'a keep-alive connection to each of the two workers');
my ($w1, $w2) = map { $on{$_} } sort keys %on;
my (undef, undef, $p1) = ask($w1, $other);
my (undef, undef, $p2) = ask($w2, $other);
isnt($p1, $p2, "the connections stay on their workers ($p1, $p2)");

my %tok = map { $_ => token(realm => "tenant-$_") } qw(off held new);
is((ask($w2, $tok{held}))[0], 200, 'W2: tenant-held accepted (no record): W2 has read it');

# --- W1 reads both disables by a first read; W2 has not read them ------------
$redis->publish_tenant($prefix, 'off', 'disabled');
$redis->publish_tenant($prefix, 'held', 'disabled');
my $t_published = time;
is_deeply([ (ask($w1, $tok{off}))[0, 1] ], [401, 'tenant_disabled'], 'W1 reads tenant-off: disabled');
is_deeply([ (ask($w1, $tok{held}))[0, 1] ], [401, 'tenant_disabled'], 'W1 reads tenant-held: disabled');
my $before_kill = time - $t_published;

$redis->crash;
my $t_kill = time;
diag(sprintf 'Redis killed %.2f s after the disables were published (interval %d s)',
     $before_kill, $interval);

# --- first sight during the outage -------------------------------------------
is_deeply([ (ask($w2, $tok{off}))[0, 1] ], [401, 'tenant_disabled'],
    'W2, first sight of tenant-off with Redis down: refused as tenant_disabled (W1 read it)');
is_deeply([ (ask($w2, $tok{off}))[0, 1] ], [401, 'tenant_disabled'], 'W2: and again');

# --- refresh during the outage -------------------------------------------------
# W2 knew tenant-held as active (absent); if its refresh came before the
# kill it read the disable itself (then this only checks it still holds).
my ($held, $took) = (0, undef);
while (time - $t_kill < 2 * $interval + 2) {
    $held = (ask($w2, $tok{held}))[0];
    if ($held == 401) { $took = time - $t_kill; last }
    sleep 0.1;
}
is($held, 401, 'W2 refuses tenant-held within an interval of the kill (its failed refresh takes W1\'s record)');
diag(sprintf 'W2 refused tenant-held %.2f s after the kill', $took // -1);
cmp_ok($took // 99, '<=', $interval + 1, "within the interval ($interval s) and a read timeout");

# --- never read by any worker ------------------------------------------------
# (its keys: a direct fetch from the issuer)
is((ask($w1, $tok{new}))[0], 200, 'a tenant no worker ever read is served while Redis is down');
is((ask($w2, $other))[0], 200, 'and so is one read before as active');

unlike($ngx->error_log, qr/\[(alert|crit|emerg)\]/, 'no alerts in the error log');
$ngx->stop;
done_testing();
