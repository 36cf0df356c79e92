# A flood of tokens naming tenant realms that were never created (a new
# unsigned junk token per request, 100,000 slugs) must cost each made-up
# issuer at most one bounded, reclaimable slot, and must not knock out the
# tenants that exist: afterwards a tenant never seen before verifies, a
# cached tenant's cached token and rotated key verify, a key removed from its
# JWKS stops verifying after the TTL, worker memory has not grown with the
# flood, and the log has no line above info for the refusals.
#
# Run three times: without Redis (every made-up realm is asked for at the
# identity provider, which answers 404 like Keycloak), with Redis as the
# shared JWKS tier, and with Redis and auth_realm_tenant_registry on (the
# registry is asked first; the identity provider never hears of the made-up
# realms). During each flood a client of a cached tenant keeps calling.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(sleep time);
use File::Basename qw(dirname);
use Cwd qw(abs_path);
use POSIX ();

use RealmAuth::Issuer qw(:all);
use RealmAuth::Nginx;
use RealmAuth::Redis;

RealmAuth::Nginx::require_module();
die "wrk not found (scripts/deps/apt-packages.txt installs it)\n" unless grep { -x "$_/wrk" } split /:/, $ENV{PATH};

my $FLOOD = $ENV{REALM_AUTH_FLOOD_N} // 100_000;
my $ZONE = $ENV{REALM_AUTH_FLOOD_ZONE} // '128k';    # a small zone; 10m is the default size
# Slots for issuers without keys: an eighth of the zone in 256-byte chunks.
my $SLOTS = do {
    my ($n, $u) = $ZONE =~ /^(\d+)([km]?)$/i or die "REALM_AUTH_FLOOD_ZONE=$ZONE\n";
    $n * { '' => 1, k => 1024, m => 1024 * 1024 }->{ lc $u } / 2048;
};
# Bounded memory: after the first flood has warmed the allocator (pool
# threads' arenas, hash tables at their peak size), a second flood of
# $FLOOD / 2 more made-up slugs may grow a worker's resident memory by less
# than this. Before the fix every made-up issuer stayed in each worker's map
# for good: about 110 bytes per slug, 11 MB per worker per 100,000 slugs,
# and the second flood grew each worker by about 5.5 MB.
my $RSS_BOUND_KB = 2048;
my $LUA = abs_path(dirname(__FILE__) . '/../lib/RealmAuth/invented-tenants.lua');

start_issuer();
my $redis = eval { RealmAuth::Redis->start };

# The identity provider's front: unknown tenant realms get Keycloak's 404 at
# nginx speed (the test issuer forks per connection); the rest goes to the
# test issuer.
my $idp = RealmAuth::Nginx->start(
    module => 0,
    server => q{
        location ~ ^/realms/tenant-fl[^/]*/ {
            default_type application/json;
            return 404 '{"error":"Realm does not exist"}';
        }
        location / { proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT; }
    },
);
my $base = 'http://127.0.0.1:' . $idp->port;
sub iss_of { "$base/realms/$_[0]" }

sub worker_rss_kb {
    my ($ngx) = @_;
    my %rss;
    for my $pid (split ' ', `pgrep -P $ngx->{pid}` // '') {
        open my $fh, '<', "/proc/$pid/status" or next;
        while (<$fh>) { $rss{$pid} = $1 if /^VmRSS:\s+(\d+)/ }
    }
    return \%rss;
}

my $flood_no = 0;    # each flood names its own made-up slugs
sub flood {
    my ($ngx, $n) = @_;
    local $ENV{FLOOD_ISS} = iss_of('tenant-fl' . ++$flood_no);
    local $ENV{FLOOD_N} = $n // $FLOOD;
    my $t0 = time;
    my $out = `wrk -t1 -c16 -d300s --timeout 10s -s $LUA @{[ $ngx->url('/api/x') ]} 2>&1`;
    my ($answered, $bad) = $out =~ /flood: \d+ sent, (\d+) answered, (\d+) not 401/;
    diag sprintf '%d invented slugs in %.1f s', $answered // 0, time - $t0;
    return ($answered // 0, $bad // -1, $out);
}

sub scenario {
    my (%o) = @_;
    my $mode = $o{registry} ? 'registry' : $o{redis} ? 'redis' : 'plain';
    my ($seen, $fresh) = ("tenant-seen$mode", "tenant-fresh$mode");
    ensure_realm($_) for $seen, $fresh;

    my $prefix = "it" . $$ . "$mode:";
    my $http = "auth_realm_zone realm_auth:$ZONE;\n";
    $http .= $redis->directive(prefix => $prefix) . "\n" if $o{redis};
    if ($o{registry}) {
        $http .= "auth_realm_tenant_registry on;\n";
        for my $realm ($seen, $fresh) {
            (my $slug = $realm) =~ s/^tenant-//;
            $redis->publish_tenant($prefix, $slug, 'active');
        }
    }
    my $ngx = RealmAuth::Nginx->start(
        master => 1, workers => 2,
        http   => $http,
        server => qq{
            location /api/ {
                auth_realm on;
                auth_realm_issuer $base/realms/tenant-*;
                auth_realm_jwks_ttl 2s;
                auth_realm_jwks_stale 2s;
                auth_realm_jwks_refetch_interval 1s;
                proxy_pass http://127.0.0.1:\$TEST_NGINX_ISSUER_PORT/echo/;
            }
            location = /realm-auth/status { auth_realm_status; }
        },
    );
    my $call = sub { $ngx->get('/api/x', Authorization => "Bearer $_[0]")->{status} };
    my $tok = sub { my ($realm, %a) = @_; token(realm => $realm, iss => iss_of($realm), %a) };

    # Before: a cached tenant with a cached token, in both workers.
    my $cached = $tok->($seen, username => 'cached');
    is($call->($cached), 200, "$mode: tenant accepted before the flood") for 1 .. 4;
    my $old_key = realm_key($seen);
    my $old_kid = realm_kid($seen);
    my $log0 = length $ngx->error_log;
    my $idp_log0 = (-s $idp->prefix . '/logs/access.log') // 0;

    # While the flood runs, a client of the cached tenant keeps calling.
    my $probe_file = $ngx->prefix . '/probe';
    my $probe = fork // die "fork: $!";
    if ($probe == 0) {
        my %n;
        my $stop = 0;
        local $SIG{TERM} = sub { $stop = 1 };
        until ($stop) { $n{ $call->($cached) }++; sleep 0.05 }
        open my $fh, '>', $probe_file or POSIX::_exit(1);
        print $fh join(' ', map {"$_=$n{$_}"} sort keys %n);
        close $fh;
        POSIX::_exit(0);
    }
    my ($sent, $bad, $out) = flood($ngx);
    my $rss0 = worker_rss_kb($ngx);
    my ($sent2) = flood($ngx, $FLOOD / 2);
    my $rss1 = worker_rss_kb($ngx);
    kill 'TERM', $probe;
    waitpid $probe, 0;
    my $probed = do { local (@ARGV, $/) = ($probe_file); <> } // '';
    like($probed, qr/^200=\d+$/, "$mode: the cached tenant served all through the flood ($probed)");
    cmp_ok($sent, '>=', $FLOOD, "$mode: $FLOOD invented slugs answered") or diag $out;
    is($bad, 0, "$mode: every one refused with 401");

    # During-the-flood state is gone or bounded.
    my $st = $ngx->status;
    cmp_ok($st->{jwks}{issuers_cached}, '<=', $SLOTS + 8, "$mode: issuers in the zone bounded ($SLOTS slots)")
        or diag explain $st->{jwks};

    is($call->($tok->($fresh)), 200, "$mode: a tenant never seen before verifies");
    # The flood outlasted the 2 s TTL: the first use refreshes the keys.
    is($call->($cached), 200, "$mode: the cached token still verifies");
    my $hits1 = $ngx->status->{token_cache}{hits};
    is($call->($cached), 200, "$mode: and again");
    cmp_ok($ngx->status->{token_cache}{hits}, '>', $hits1, "$mode: from the verified-token cache");

    my $new_kid = rotate_key($seen);
    is($call->($tok->($seen, username => 'rotated')), 200, "$mode: a rotated key of a cached tenant verifies");

    rotate_key($seen, drop_old => 1);
    my $removed = $tok->($seen, username => 'removed', key => $old_key, kid => $old_kid);
    my $refused_at;
    my $t0 = time;
    while (time - $t0 < 8) {
        if ($call->($removed) == 401) { $refused_at = time - $t0; last }
        sleep 0.2;
    }
    ok(defined $refused_at, "$mode: a key removed from the JWKS stops verifying")
        and cmp_ok($refused_at, '<=', 2 + 2 + 1, "$mode: within TTL + stale + 1 s");
    is($call->($cached), 401, "$mode: so does the token cached under it");

    cmp_ok($sent2, '>=', $FLOOD / 2, "$mode: and a second flood of @{[ $FLOOD / 2 ]}");
    for my $pid ($ENV{REALM_AUTH_SANITIZED} ? () : sort keys %$rss0) {
        next unless $rss1->{$pid};
        my $grew = $rss1->{$pid} - $rss0->{$pid};
        cmp_ok($grew, '<', $RSS_BOUND_KB,
               "$mode: worker $pid grew $grew kB in the second flood (< $RSS_BOUND_KB kB)");
    }

    my $log = substr($ngx->error_log, $log0);
    my @loud = grep { /\[(warn|error|crit|alert|emerg)\]/ } split /\n/, $log;
    is(scalar @loud, 0, "$mode: no log line above info during the flood") or diag join "\n", @loud[0 .. 4];
    if ($o{registry}) {
        open my $fh, '<', $idp->prefix . '/logs/access.log' or die;
        seek $fh, $idp_log0, 0;
        my $asked = grep { m{/realms/tenant-fl} } <$fh>;
        is($asked, 0, "$mode: the identity provider never asked about a made-up realm");
    }
    $ngx->stop;
}

scenario();
SKIP: {
    skip "redis-server not available: $@", 1 unless $redis;
    scenario(redis => 1);
    scenario(redis => 1, registry => 1);
}

$idp->stop;
done_testing();
