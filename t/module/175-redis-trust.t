# Redis is a trust boundary (docs/REDIS_TRUST.md): the module logs in with
# its own ACL user, believes only values sealed with the fleet's HMAC key,
# reads bounded values and never waits long on someone else's lock. Each
# hostile write below has no effect beyond its documented bound:
#   planted key set        → ignored, keys fetched from the issuer
#   planted "disabled"     → ignored, the tenant keeps being served
#   planted "active"       → ignored, a disabled tenant stays refused
#   replayed older record  → ignored (older than what the worker applied)
#   planted registry entry → the invented tenant stays unknown, no fetch
#   oversized value        → ignored without being read (worker memory flat)
#   held fetch lock        → a JWKS miss waits at most 500 ms, then fetches
# Every ignored entry is counted (jwks.redis_rejected) and logged rarely.
use strict;
use warnings;
use Test::More;
use JSON::PP;
use Time::HiRes qw(sleep time);

use RealmAuth::Issuer qw(:all);
use RealmAuth::Nginx;
use RealmAuth::Redis;

RealmAuth::Nginx::require_module();

my $redis = eval { RealmAuth::Redis->start(acl => 1) };
plan skip_all => "redis-server not available: $@" unless $redis;

start_issuer();
my @tenants = qw(a b c d e f g h);
ensure_realm("tenant-$_") for @tenants, 'ghost';

my $prefix = "rt$$:";
sub tkey { "${prefix}tenant:$_[0]" }
sub jkey { "${prefix}jwks:" . realm_iss($_[0]) }
sub lkey { "${prefix}lock:" . realm_iss($_[0]) }
sub now_ms { int(time * 1000) }
# What realm-sidecar writes for a tenant.
sub publish {
    my ($slug, $state, %o) = @_;
    $redis->cmd('SET', tkey($slug), $redis->seal(tkey($slug), $state, %o));
}
publish($_, 'active') for @tenants;

my $ngx = RealmAuth::Nginx->start(
    master => 1, workers => 1,
    http => "auth_realm_zone realm_auth:10m;\n"
          . $redis->directive(prefix => $prefix) . "\n"
          . "auth_realm_tenant_registry on;\n"
          . "auth_realm_tenant_state_interval 200ms;",
    server => q{
        location /api/ {
            auth_realm on;
            auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
        location = /realm-auth/status { auth_realm_status; }
    },
);

sub call {
    my ($realm, %o) = @_;
    return $ngx->get('/api/x', Authorization => 'Bearer ' . token(realm => $realm, %o));
}
sub status_of { call(@_)->{status} }
sub rejected { $ngx->status->{jwks}{redis_rejected} // 0 }
# Polls until `realm` answers `want` (at most `secs`); returns the last status.
sub becomes {
    my ($realm, $want, $secs) = @_;
    my $deadline = time + $secs;
    my $got;
    do { $got = status_of($realm); return $got if $got == $want; sleep 0.1 } while time < $deadline;
    return $got;
}
# The single worker's pid and peak resident memory (kB).
sub worker_pid {
    for my $stat (glob '/proc/[0-9]*/stat') {
        open my $fh, '<', $stat or next;
        my @f = split ' ', ((<$fh> // '') =~ s/^.*\) //r);
        return ($stat =~ m{/proc/(\d+)/})[0] if ($f[1] // 0) == $ngx->{pid};
    }
    return;
}
sub peak_kb {
    open my $fh, '<', "/proc/$_[0]/status" or return 0;
    my ($kb) = join('', <$fh>) =~ /^VmHWM:\s+(\d+)/m;
    return $kb // 0;
}

# --- AUTH and the sealed tier -----------------------------------------------
is(status_of('tenant-a'), 200, 'registered tenant served, nginx logged in as its ACL user');
my $doc = $redis->cmd('GET', jkey('tenant-a'));
like($doc // '', qr/^ra1\.[0-9a-f]{8}\.\d+\.\d+\.[0-9a-f]{64}\.\{/, 'the JWKS it stored in Redis is sealed');
my (undef, undef, $issued, $expires) = split /\./, $doc // '', 6;
cmp_ok($expires - $issued, '==', 300000, 'the seal expires with the JWKS TTL (5 min)');
is($ngx->status->{jwks}{redis_errors}, 0, 'no Redis errors');
eval { $redis->cmd_as('nginx', 'SET', tkey('a'), 'disabled') };
like($@, qr/NOPERM/, "nginx's ACL user cannot write tenant state");

# --- planted key set ----------------------------------------------------------
my ($evil, $evil_jwk) = stranger_key('RS256');
my $evil_jwks = JSON::PP->new->canonical->encode({ keys => [$evil_jwk] });
$redis->cmd('SET', jkey('tenant-b'), $evil_jwks);
my $r = call('tenant-b', key => $evil, kid => $evil_jwk->{kid});
is($r->{status}, 401, "planted key set: the attacker's token is refused");
cmp_ok(fetch_count('tenant-b'), '>=', 1, 'the keys were fetched from the issuer instead');
cmp_ok(fetch_count('tenant-b'), '<=', 2, '(once, plus the unknown-kid refetch)');
is(status_of('tenant-b'), 200, "the tenant's own token verifies");
like($redis->cmd('GET', jkey('tenant-b')), qr/^ra1\./, 'and the planted entry is replaced by a sealed one');
# The same with a seal made with another key (the format is public).
$redis->cmd('SET', jkey('tenant-c'), $redis->seal(jkey('tenant-c'), $evil_jwks, secret => 'x' x 43));
is(status_of('tenant-c', key => $evil, kid => $evil_jwk->{kid}), 401, 'key set sealed with a wrong key: refused');
# A genuine but expired document (replayed after its TTL).
$redis->cmd('SET', jkey('tenant-g'), $redis->seal(jkey('tenant-g'), $evil_jwks,
                                                  issued => now_ms() - 400000, expires => now_ms() - 100000));
is(status_of('tenant-g', key => $evil, kid => $evil_jwk->{kid}), 401, 'expired sealed key set: refused');
cmp_ok(rejected(), '>=', 3, 'every ignored entry is counted in jwks.redis_rejected');

# --- planted "disabled" -------------------------------------------------------
$redis->cmd('SET', tkey('a'), 'disabled');
sleep 1;    # five refresh intervals
is(status_of('tenant-a'), 200, 'planted "disabled" does not disable');
$redis->cmd('SET', tkey('a'), $redis->seal(tkey('a'), 'disabled', secret => 'y' x 43));
sleep 1;
is(status_of('tenant-a'), 200, '"disabled" sealed with a wrong key does not disable');
publish('a', 'active');

# --- planted "active" over a real disable -------------------------------------
is(status_of('tenant-d'), 200, 'tenant d served');
my $before_disable = now_ms() - 60000;
publish('d', 'disabled');
is(becomes('tenant-d', 401, 5), 401, 'a sealed "disabled" refuses the tenant');
$redis->cmd('SET', tkey('d'), 'active');
sleep 1;
is(status_of('tenant-d'), 401, 'planted "active" does not re-enable it');
publish('d', 'active', issued => $before_disable);
sleep 1;
is(status_of('tenant-d'), 401, 'a genuine older "active" (replay) does not re-enable it');
$redis->cmd('DEL', tkey('d'));
sleep 1;
is(status_of('tenant-d'), 401, 'deleting the record does not re-enable it');
publish('d', 'active');
is(becomes('tenant-d', 200, 5), 200, 'a newer sealed "active" does');

# --- planted registry entry ---------------------------------------------------
$redis->cmd('SET', tkey('ghost'), 'active');
$r = call('tenant-ghost');
is($r->{status}, 401, 'planted registry entry: the invented tenant is refused');
like($r->{headers}{'www-authenticate'} // '', qr/tenant unknown/, 'as tenant unknown');
is(fetch_count('tenant-ghost'), 0, 'and no request reached the issuer');

# --- oversized values ---------------------------------------------------------
my $wpid = worker_pid();
ok($wpid, 'worker found');
my $peak0 = peak_kb($wpid);
my $huge = 'x' x (64 * 1024 * 1024);
$redis->cmd('SET', tkey('a'), $huge);          # served tenant: re-read every 200 ms
$redis->cmd('SET', jkey('tenant-f'), $huge);   # read on the first miss
$redis->cmd('SET', tkey('e'), $huge);          # registry entry of a tenant not served yet
is(status_of('tenant-f'), 200, 'oversized key set ignored, keys fetched from the issuer');
is(fetch_count('tenant-f'), 1, 'one fetch');
sleep 1;
is(status_of('tenant-a'), 200, 'oversized tenant record ignored: the served tenant keeps its state');
$r = call('tenant-e');
is($r->{status}, 401, 'oversized registry entry counts as absent (as if deleted)');
like($r->{headers}{'www-authenticate'} // '', qr/tenant unknown/, '(tenant unknown, no fetch)');
is(fetch_count('tenant-e'), 0, 'and no request reached the issuer');
undef $huge;
my $grown = peak_kb($wpid) - $peak0;
cmp_ok($grown, '<', 8 * 1024, "worker peak memory grew by $grown kB (< 8 MiB; the values are 64 MiB)");
publish($_, 'active') for qw(a e);

# --- held lock ----------------------------------------------------------------
$redis->cmd('SET', lkey('tenant-h'), 'someone-else');    # no expiry
$r = call('tenant-h');
is($r->{status}, 200, 'held fetch lock: the tenant is still served');
cmp_ok($r->{elapsed}, '<', 2, sprintf('within the lock-wait bound (%.2f s)', $r->{elapsed}));
is($redis->cmd('GET', lkey('tenant-h')), 'someone-else', "someone else's lock is left alone");

# --- counted, logged rarely ---------------------------------------------------
cmp_ok(rejected(), '>=', 10, 'rejections counted (' . rejected() . ')');
my @lines = $ngx->error_log =~ /(ignored Redis entr[^\n]*)/g;
cmp_ok(scalar(@lines), '>=', 1, 'the first rejection is logged');
cmp_ok(scalar(@lines), '<=', 2, 'later ones are not logged one by one (' . scalar(@lines) . ' lines)');
unlike($ngx->error_log, qr/\Q$redis->{pw}{nginx}\E|\Q${\ $redis->hmac_key }\E/, 'no secret in the log');

# --- wrong password: Redis unusable, nginx keeps serving from the issuer ------
my $bad = $redis->password_file('nginx') . '.bad';
open my $fh, '>', $bad or die $!;
print $fh "not-the-password\n";
close $fh;
my $ngx2 = RealmAuth::Nginx->start(
    master => 1, workers => 1,
    http => "auth_realm_zone realm_auth2:10m;\n"
          . ($redis->directive(prefix => $prefix) =~ s/\Q${\ $redis->password_file('nginx') }\E/$bad/r) . "\n",
    server => q{
        location /api/ {
            auth_realm on;
            auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
        location = /realm-auth/status { auth_realm_status; }
    },
);
is($ngx2->get('/api/x', Authorization => 'Bearer ' . token(realm => 'tenant-a'))->{status}, 200,
   'wrong Redis password: served from the issuer');
cmp_ok($ngx2->status->{jwks}{redis_errors}, '>=', 1, 'and the failed login is a Redis error');
unlike($ngx2->error_log, qr/not-the-password/, 'the password is not logged');
$ngx2->stop;

$ngx->stop;
done_testing();
