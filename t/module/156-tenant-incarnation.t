# A tenant's slug deleted and created again (issue 8, item 2): the record
# <prefix>tenant:<slug> = "<state> start=<incarnation start> incarnation=<id>"
# (sealed, core/tenant_record.h).
# A token issued before its tenant's current incarnation began is refused
# as tenant_deleted by every worker, cached tokens included; so is every
# token of a deleted tenant (not tenant_disabled). When the incarnation
# changes, workers drop the issuer's keys and verified tokens (worker and
# zone). A worker that has not read a tenant's record yet (fresh after a
# reload, say) reads it before serving the tenant's first token, so the
# zone's cached tokens of a dead incarnation do not pass on "not read yet".
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
ensure_realm($_) for qw(tenant-a tenant-c tenant-d tenant-e);

my $prefix = "ti$$:";
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
        location = /status {
            auth_realm_status;
        }
    },
);

my $inc1 = '11111111-1111-4111-8111-111111111111';
my $inc2 = '22222222-2222-4222-8222-222222222222';
my $now = int time;
sub record { my ($state, $start, $id) = @_; "$state start=$start incarnation=$id" }
sub set_record { $redis->publish_tenant($prefix, $_[0], record(@_[1 .. 3])) }

# Statuses of several concurrent requests (both workers get some), sorted.
sub statuses {
    my ($tok, $n) = @_;
    my @r = $ngx->concurrent([ map { ['/api/x', Authorization => "Bearer $tok"] } 1 .. ($n // 6) ]);
    return join ',', sort map { $_->{status} } @r;
}
sub all { join ',', ($_[0]) x ($_[1] // 6) }
sub eventually {
    my ($tok, $want, $secs) = @_;
    my $deadline = time + $secs;
    my $got;
    while (time < $deadline) {
        $got = statuses($tok);
        return $got if $got eq all($want);
        sleep 0.1;
    }
    return $got;
}
sub reason { ($_[0]{headers}{'www-authenticate'} // '') =~ /error_description="([^"]*)"/ ? $1 : '' }

# --- tenant a: an incarnation that ends while its tokens are cached ------------
set_record('a', 'active', $now - 1000, $inc1);
my $old = token(realm => 'tenant-a', claims => { iat => $now - 100 });
is(statuses($old), all(200), 'first incarnation: its token accepted (and cached by both workers)');
is(statuses($old), all(200), '… again, from the token caches');
my $before = $ngx->status('/status');

# The slug comes back: a new incarnation that began after the old token.
set_record('a', 'active', $now - 10, $inc2);
is(eventually($old, 401, 5), all(401), 'the old incarnation\'s cached token is refused by every worker');
my $r = $ngx->get('/api/x', Authorization => "Bearer $old");
is(reason($r), 'tenant deleted', 'refused as deleted');
my $fresh = token(realm => 'tenant-a', claims => { iat => $now - 5 });
is(statuses($fresh), all(200), 'a token of the new incarnation is accepted');
like($ngx->error_log, qr/tenant incarnation of "[^"]*tenant-a" ended/, 'workers dropped the issuer\'s caches');
my $after = $ngx->status('/status');
sub fetched { $_[0]{jwks}{http_fetches} + $_[0]{jwks}{redis_hits} }
cmp_ok(fetched($after), '>', fetched($before),
       'the issuer\'s keys were obtained again (Redis or HTTP) after the purge');

# The new realm has new keys (same issuer URL): the old token names a
# signer it does not know, and is still refused as deleted.
rotate_key('tenant-a', drop_old => 1);
my $fresh2 = token(realm => 'tenant-a', claims => { iat => $now - 5 });
is(statuses($fresh2), all(200), 'new keys: the new incarnation\'s token verifies');
$r = $ngx->get('/api/x', Authorization => "Bearer $old");
is($r->{status}, 401, 'the old token with the old realm\'s key: refused');
is(reason($r), 'tenant deleted', '… as deleted, not as an unknown signer');

# Deleted: every token of the tenant, whatever its iat, as deleted.
set_record('a', 'deleted', $now - 10, $inc2);
is(eventually($fresh2, 401, 5), all(401), 'deleted tenant: refused by every worker');
$r = $ngx->get('/api/x', Authorization => "Bearer $fresh2");
is(reason($r), 'tenant deleted', 'refused as deleted, not as disabled');
set_record('a', 'disabled', $now - 10, $inc2);
eventually($fresh2, 401, 5);
for (1 .. 50) { $r = $ngx->get('/api/x', Authorization => "Bearer $fresh2"); last if reason($r) eq 'tenant disabled'; sleep 0.1 }
is(reason($r), 'tenant disabled', 'a disabled tenant is still refused as disabled');

# A token without iat cannot show it belongs to the current incarnation.
set_record('a', 'active', $now - 10, $inc2);
my $no_iat = token(realm => 'tenant-a', claims => { iat => undef });
is(eventually($no_iat, 401, 5), all(401), 'no iat, known incarnation start: refused');

# Older one-word records (no incarnation) keep working.
$redis->publish_tenant($prefix, 'a', 'active');
is(eventually($no_iat, 200, 5), all(200), 'one-word "active" record: no incarnation rule');

# --- tenant c: first sight of a tenant, record already there --------------------
set_record('c', 'active', $now - 10, $inc1);
my $c_old = token(realm => 'tenant-c', claims => { iat => $now - 100 });
$r = $ngx->get('/api/x', Authorization => "Bearer $c_old");
is($r->{status}, 401, 'first token of a tenant this worker never saw: its record is read first');
is(reason($r), 'tenant deleted', '… and the old incarnation\'s token is refused as deleted');
is(statuses(token(realm => 'tenant-c', claims => { iat => $now - 1 })), all(200),
   'the current incarnation\'s token is accepted');

# --- tenant d: cached in the zone, record changes, nginx reloads ----------------
set_record('d', 'active', $now - 1000, $inc1);
my $d_old = token(realm => 'tenant-d', claims => { iat => $now - 100 });
is(statuses($d_old), all(200), 'tenant d: token accepted and cached in the zone');
# New workers start with no tenant records; the zone (and its verified
# tokens) survives the reload.
set_record('d', 'active', $now - 10, $inc2);
kill 'HUP', $ngx->{pid};
my $deadline = time + 10;
my $reloaded = 0;
while (time < $deadline) {
    last if ($reloaded = () = $ngx->error_log =~ /gracefully shutting down/g) >= 2;
    sleep 0.05;
}
ok($reloaded >= 2, 'reloaded: both old workers left');
$r = $ngx->get('/api/x', Authorization => "Bearer $d_old");
is($r->{status}, 401, 'after a reload, the zone\'s cached token of the ended incarnation is refused at once');
is(reason($r), 'tenant deleted', '… as deleted');

# --- tenant e: the purge removes the issuer from the zone, counts kept right ------
set_record('e', 'active', $now - 1000, $inc1);
is(statuses(token(realm => 'tenant-e', claims => { iat => $now - 100 })), all(200),
   'tenant e served: its issuer is in the zone');
my $held = $ngx->status('/status')->{jwks};
set_record('e', 'deleted', $now - 10, $inc1);
$deadline = time + 5;
sleep 0.1 while time < $deadline
    && (() = $ngx->error_log =~ /tenant incarnation of "[^"]*tenant-e" ended/g) < 2;
my $gone = $ngx->status('/status')->{jwks};
is($gone->{issuers_cached}, $held->{issuers_cached} - 1,
   'both workers purged tenant e: its issuer node is gone from the zone (counted once)');
is($gone->{issuers_without_keys}, $held->{issuers_without_keys},
   '… and no document-less slot is left behind');

# --- counters ---------------------------------------------------------------------
my $counts = $ngx->status('/status');
ok(exists $counts->{refused}{tenant_deleted}, 'auth_realm_status counts tenant_deleted');
cmp_ok($counts->{refused}{tenant_deleted}, '>=', 5, '… separately from tenant_disabled');

$ngx->stop;
done_testing();
