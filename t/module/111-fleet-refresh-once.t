# Two nginx instances (2 workers each) sharing Redis fetch each issuer's
# JWKS once per TTL window between them, also when both refresh the same
# issuer at the same moment: an instance that missed Redis and then got
# the fleet lock reads Redis once more before fetching, since the previous
# holder may have stored the keys and released the lock between its read
# and its lock (bench/parts/40-fleet.sh saw 6 of 50 issuers fetched twice
# in one TTL window).
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time sleep);
use File::Temp qw(tempdir);

use RealmAuth::Issuer qw(:all);
use RealmAuth::Nginx;
use RealmAuth::Redis;

RealmAuth::Nginx::require_module();

my $redis = eval { RealmAuth::Redis->start(acl => 1) };
plan skip_all => "redis-server not available: $@" unless $redis;

start_issuer();
my $realms = 16;
my $rounds = 6;
my @realms = map { "tenant-fleet$_" } 1 .. $realms;
ensure_realm($_, algs => ['ES256']) for @realms;

# The JWKS documents the test issuer writes, served by a plain nginx (the
# tokens name it as their issuer), so fetches take a millisecond: the test
# issuer (a forking Perl server) takes 0.5-2.5 s on a loaded machine, and a
# fetch slower than the 500 ms lock wait lets the other instance fetch too,
# by design (jwks_source.h). Its access log counts the fetches.
my $docroot = tempdir(CLEANUP => 1);
chmod 0755, $docroot;
mkdir "$docroot/api";
open my $fh, '>', "$docroot/api/x" or die "$docroot/api/x: $!";
print $fh "ok\n";
close $fh;
my $state = issuer_state_dir();
my $static = RealmAuth::Nginx->start(module => 0, server => qq{
        location ~ ^/realms/([^/]+)/protocol/openid-connect/certs\$ {
            default_type application/json;
            alias $state/realms/\$1/jwks.json;
        }
    });
my $iss_base = 'http://127.0.0.1:' . $static->port;
sub fetches {
    my ($realm) = @_;
    open my $log, '<', $static->prefix . '/logs/access.log' or return 0;
    return scalar grep { m{GET /realms/$realm/protocol/openid-connect/certs } } <$log>;
}
my %conf = (
    master => 1, workers => 2,
    http => "auth_realm_zone realm_auth:10m;\n"
          . $redis->directive(prefix => "fr$$:"),
    server => qq{
        location /api/ {
            root $docroot;
            auth_realm on;
            auth_realm_issuer $iss_base/realms/tenant-*;
            auth_realm_jwks_ttl 2s;
        }
        location = /realm-auth/status { auth_realm_status; }
    },
);
my $na = RealmAuth::Nginx->start(%conf);
my $nb = RealmAuth::Nginx->start(%conf);
my %tok = map { $_ => token(realm => $_, alg => 'ES256', claims => { iss => "$iss_base/realms/$_" }) } @realms;

# First sight, one request at a time (a burst of new issuers would meet
# the limit of 16 keyless fetches in flight): A fetches, B reads Redis.
my $ok = 0;
for my $r (@realms) {
    $ok += grep { $_->get('/api/x', Authorization => "Bearer $tok{$r}")->{status} == 200 } $na, $nb;
}
is(scalar(grep { fetches($_) != 1 } @realms), 0, 'first sight: one fetch per issuer');
# Then, past each TTL, every realm's token to both instances at the same
# instant: both refresh every issuer at once.
for my $round (2 .. $rounds) {
    sleep 2.4;    # past the TTL: this round refreshes every issuer
    my $at = time + 0.3;
    my @h = map { my $r = $_; map { $_->async('/api/x', { at => $at }, Authorization => "Bearer $tok{$r}") } $na, $nb }
        @realms;
    my @res = $na->wait_all(@h);
    $ok += grep { $_->{status} == 200 } @res;
    diag("round $round: " . join ' ', map { "$_->{status}" . ($_->{headers}{'www-authenticate'} // '') } grep { $_->{status} != 200 } @res)
        if grep { $_->{status} != 200 } @res;
}
is($ok, 2 * $realms * $rounds, 'every request accepted');
# A cached token past the TTL is answered with the stale keys while their
# refresh runs, so the last round's fetches may land after its answers:
# count once the issuer's log has stopped growing (a second fetch can only
# add lines, so waiting never hides one).
{
    my ($last, $still) = (-1, 0);
    for (1 .. 100) {
        my $now = 0;
        $now += fetches($_) for @realms;
        $still = $now == $last ? $still + 1 : 0;
        last if $still >= 10;
        $last = $now;
        select(undef, undef, undef, 0.1);
    }
}
my @twice = grep { fetches($_) != $rounds } @realms;
is(scalar @twice, 0, "each issuer fetched once per TTL window ($rounds windows)")
    or diag(join ', ', map { "$_: " . fetches($_) } @twice);
my $fetches = $na->status->{jwks}{http_fetches} + $nb->status->{jwks}{http_fetches};
is($fetches, $realms * $rounds, 'the instances counted one fetch per issuer per window');

for my $n ([$na, "A"], [$nb, "B"]) {
    unlike($n->[0]->error_log, qr/\[(alert|crit|emerg)\]/, "no alerts in $n->[1]'s error log");
}
$na->stop;
$nb->stop;
$static->stop;
$redis->stop;
done_testing();
