# auth_realm_tenant_registry on: before fetching the keys of a tenant realm
# the module asks the sidecar's registry in Redis (<prefix>tenant:<slug>).
# A realm the platform never created costs one Redis read, never a request
# to the issuer, and is refused as tenant_unknown; registering it makes it
# work after the one-second back-off. Non-tenant realms are not asked about.
# Redis not answering lets the fetch go ahead (the signature still decides).
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(sleep);

use RealmAuth::Issuer qw(:all);
use RealmAuth::Nginx;
use RealmAuth::Redis;

RealmAuth::Nginx::require_module();

my $redis = eval { RealmAuth::Redis->start };
plan skip_all => "redis-server not available: $@" unless $redis;

start_issuer();
# Every realm exists at the issuer: only the registry tells them apart.
ensure_realm($_) for qw(tenant-a tenant-ghost tenant-late platform);

my $prefix = "tr$$:";
my $ngx = RealmAuth::Nginx->start(
    master => 1, workers => 2,
    http => "auth_realm_zone realm_auth:10m;\n"
          . $redis->directive(prefix => $prefix) . "\n"
          . "auth_realm_tenant_registry on;",
    server => q{
        location /api/ {
            auth_realm on;
            auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
            auth_realm_issuer $TEST_NGINX_ISSUER/realms/platform;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
        location = /realm-auth/status { auth_realm_status; }
    },
);

sub call {
    my ($realm) = @_;
    return $ngx->get('/api/x', Authorization => 'Bearer ' . token(realm => $realm));
}

$redis->publish_tenant($prefix, 'a', 'active');
is(call('tenant-a')->{status}, 200, 'registered tenant accepted');
is(fetch_count('tenant-a'), 1, 'its keys fetched once');

my $r = call('tenant-ghost');
is($r->{status}, 401, 'tenant missing from the registry refused');
like($r->{headers}{'www-authenticate'} // '', qr/error="invalid_token", error_description="tenant unknown"/,
     'as an RFC 6750 invalid_token naming the reason');
is(fetch_count('tenant-ghost'), 0, 'and its keys never fetched');
like($ngx->error_log, qr/tenant "ghost" is not in the tenant registry/,
     'the skipped fetch is logged');
like($ngx->error_log, qr/token refused: tenant_unknown/, 'the refusal is logged with its reason');

# Many invented slugs at once: not one request reaches the issuer.
my @slugs = map { "tenant-invented$_" } 1 .. 20;
my @res = $ngx->concurrent([ map { ['/api/x', Authorization => 'Bearer ' . token(realm => $_)] } @slugs ]);
is(join(',', map { $_->{status} } @res), join(',', (401) x 20), '20 invented tenants refused');
is((grep { fetch_count($_) > 0 } @slugs), 0, 'none of them caused a JWKS fetch');

my $status = $ngx->status;
cmp_ok($status->{refused}{tenant_unknown} // 0, '>=', 21, 'status counts tenant_unknown refusals');
ok(exists $status->{jwks}{fetch_failures}, 'status has a fetch_failures counter');
is($status->{jwks}{fetch_failures}, 0, 'skipped fetches are not fetch failures');
is($status->{jwks}{http_fetches}, 1, 'one HTTP fetch in all (tenant a)');

$redis->publish_tenant($prefix, 'ghost', 'deleted');
sleep 1.2;    # past the back-off of the last refusal
$r = call('tenant-ghost');
is($r->{status}, 401, 'deleted tenant refused too');
like($r->{headers}{'www-authenticate'} // '', qr/error_description="tenant deleted"/,
     'as deleted, not as unknown (the gate reads the record state)');
is(fetch_count('tenant-ghost'), 0, 'still without a fetch');

$redis->publish_tenant($prefix, 'ghost', 'active');
sleep 1.2;
is(call('tenant-ghost')->{status}, 200, 'once registered, the tenant is accepted');
is(fetch_count('tenant-ghost'), 1, 'and its keys fetched once');

is(call('platform')->{status}, 200, 'the platform realm is not a tenant: no registry check');

$redis->stop;
is(call('tenant-late')->{status}, 200, 'Redis down: the fetch goes ahead, the signature decides');
is(fetch_count('tenant-late'), 1, 'keys fetched from the issuer');

$ngx->stop;
done_testing();
