# Tenant lifecycle across the fleet (150-tenant-state.t covers one instance
# with two workers): two nginx instances sharing Redis both refuse a tenant
# within seconds of `<prefix>tenant:<slug>` = disabled, both accept it again
# once active; and a tenant disabled before an instance ever saw it is
# refused at the latest about one auth_realm_tenant_state_interval after its
# first request (the state is read after the first sighting).
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(sleep time);

use RealmAuth::Issuer qw(:all);
use RealmAuth::Nginx;
use RealmAuth::Redis;

RealmAuth::Nginx::require_module();

my $redis = eval { RealmAuth::Redis->start };
plan skip_all => "redis-server not available: $@" unless $redis;

start_issuer();
ensure_realm($_, algs => ['RS256']) for qw(tenant-acme tenant-other tenant-late);

my $prefix = "td$$:";
my %conf = (
    http => "auth_realm_zone realm_auth:10m;\n"
          . $redis->directive(prefix => $prefix) . "\n"
          . "auth_realm_tenant_state_interval 1s;",
    server => q{
        location /api/ {
            auth_realm on;
            auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
    },
);
my $na = RealmAuth::Nginx->start(%conf);
my $nb = RealmAuth::Nginx->start(%conf);

my $acme = token(realm => 'tenant-acme');
my $other = token(realm => 'tenant-other');
sub call { my ($ngx, $tok) = @_; $ngx->get('/api/x', Authorization => "Bearer $tok")->{status} }

# poll until the status is $want (or 5 s pass); returns the last status
sub eventually {
    my ($ngx, $tok, $want) = @_;
    my $deadline = time + 5;
    my $got;
    while (1) {
        $got = call($ngx, $tok);
        return $got if $got == $want || time > $deadline;
        sleep 0.2;
    }
}

is(call($na, $acme), 200, 'A: acme active (no state in Redis yet)');
is(call($nb, $acme), 200, 'B: acme active');
is(call($na, $acme), 200, 'A: same token again (now in the token cache)');

$redis->publish_tenant($prefix, 'acme', 'disabled');
is(eventually($na, $acme, 401), 401, 'A: acme refused within seconds of being disabled (cached token too)');
is(eventually($nb, token(realm => 'tenant-acme', username => 'bob'), 401), 401,
   'B: acme refused too, fleet-wide');
like($na->error_log, qr/token refused: tenant_disabled/, 'A logs tenant_disabled');
is(call($na, $other), 200, 'another tenant is unaffected');

$redis->publish_tenant($prefix, 'acme', 'active');
is(eventually($na, $acme, 200), 200, 'A: acme accepted again once re-enabled');
is(eventually($nb, $acme, 200), 200, 'B: acme accepted again');

$redis->publish_tenant($prefix, 'acme', 'deleted');
is(eventually($na, $acme, 401), 401, 'A: deleted tenant refused');

# a tenant disabled before this nginx ever saw it: refused at the latest
# one interval after its first request
$redis->publish_tenant($prefix, 'late', 'disabled');
my $late = token(realm => 'tenant-late');
call($na, $late);    # may pass: the state is read after the first sighting
is(eventually($na, $late, 401), 401, 'tenant disabled before first sight: refused soon after');

for my $n ([$na, 'A'], [$nb, 'B']) {
    unlike($n->[0]->error_log, qr/\[(alert|crit|emerg)\]/, "no alerts in $n->[1]'s error log");
}
$na->stop;
$nb->stop;
$redis->stop;
done_testing();
