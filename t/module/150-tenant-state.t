# Tenant lifecycle from Redis: the sidecar writes <prefix>tenant:<slug>;
# within auth_realm_tenant_state_interval every worker refuses tokens of a
# disabled or deleted tenant (cached tokens too), and accepts them again
# once the tenant is active. Other tenants are not affected.
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
ensure_realm($_) for qw(tenant-a tenant-b);

my $prefix = "ts$$:";
my $ngx = RealmAuth::Nginx->start(
    master => 1, workers => 2,
    http => "auth_realm_zone realm_auth:10m;\n"
          . $redis->directive(prefix => $prefix) . "\n"
          . "auth_realm_tenant_state_interval 200ms;",
    server => q{
        location /api/ {
            auth_realm on;
            auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
    },
);

my $tok_a = token(realm => 'tenant-a');
my $tok_b = token(realm => 'tenant-b');

# Status of several requests with the same token (both workers get some).
sub statuses {
    my ($tok) = @_;
    my @r = $ngx->concurrent([ map { ['/api/x', Authorization => "Bearer $tok"] } 1 .. 6 ]);
    return join ',', sort map { $_->{status} } @r;
}

# Polls until every request answers `want`, for at most `secs`.
sub eventually {
    my ($tok, $want, $secs) = @_;
    my $deadline = time + $secs;
    my $got;
    while (time < $deadline) {
        $got = statuses($tok);
        return $got if $got eq join ',', ($want) x 6;
        sleep 0.1;
    }
    return $got;
}

is(statuses($tok_a), join(',', (200) x 6), 'tenant a accepted (no state in Redis)');
is(statuses($tok_b), join(',', (200) x 6), 'tenant b accepted');

$redis->publish_tenant($prefix, 'a', 'disabled');
is(eventually($tok_a, 401, 5), join(',', (401) x 6), 'disabled tenant refused by every worker, cached token included');
# Six concurrent requests need not reach both workers: poll this one too.
my $r;
for (1 .. 50) {
    $r = $ngx->get('/api/x', Authorization => "Bearer $tok_a");
    last if $r->{status} == 401;
    sleep 0.1;
}
is($r->{status}, 401, 'a single request refused too');
like($r->{headers}{'www-authenticate'} // '', qr/error="invalid_token"/, 'refusal is an RFC 6750 invalid_token');
is(statuses($tok_b), join(',', (200) x 6), 'the other tenant is not affected');

$redis->publish_tenant($prefix, 'a', 'active');
is(eventually($tok_a, 200, 5), join(',', (200) x 6), 're-enabled tenant accepted again');

$redis->publish_tenant($prefix, 'b', 'deleted');
is(eventually($tok_b, 401, 5), join(',', (401) x 6), 'deleted tenant refused');
like($ngx->error_log, qr/token refused: tenant_disabled/, 'reason logged');

$ngx->stop;
done_testing();
