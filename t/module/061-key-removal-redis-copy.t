# A key the issuer removed stops verifying (cached tokens included) within
# auth_realm_jwks_ttl + auth_realm_jwks_stale of its removal, also when the
# keys come from the shared Redis tier (docs/MODULE.md, "JWKS tiers").
#
# Found with signing-key rotation (issue 9 item 4): a JWKS copy read from
# Redis counts as fetched when it arrives, not when its writer fetched it,
# so a worker can serve a removed key for up to the writer's TTL + its own
# (here 2 x ttl) after the removal. Two instances, ttl 4 s, stale 1 s:
#   t=0    A verifies a token: HTTP fetch, Redis copy written (PX 4 s)
#   t=3.5  B verifies it: keys from that copy (3.5 s old, "fetched" now)
#   t=4.2  A's keys expire, the copy has too: A fetches again, writes a copy
#   t=4.4  the issuer removes the key
#   B's keys expire at t=7.5; their refresh reads A's copy of t=4.2 (still
#   valid until 8.2, still listing the key), so B keeps accepting the token
#   until about t=11.5, 7 s after the removal: the bound says 5.
# Fixed: a Redis copy counts from its seal's issue time (its age), and a
# copy as old as the reader's TTL is a miss; realm-sidecar's key removal
# also deletes <prefix>jwks:<issuer> (docs/TENANT_REALM_STRATEGY.md §7.2).
# Before the fix this measured 7.2 s; the bound is ttl + stale = 5 s.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(sleep time);

use RealmAuth::Issuer qw(:all);
use RealmAuth::Nginx;
use RealmAuth::Redis;

RealmAuth::Nginx::require_module();

my $redis = eval { RealmAuth::Redis->start(acl => 1) };
plan skip_all => "redis-server not available: $@" unless $redis;

start_issuer();
ensure_realm('tenant-rmk', algs => ['RS256']);

my ($TTL, $STALE) = (4, 1);
my $prefix = "rk$$:";
my %conf = (
    http => "auth_realm_zone realm_auth:10m;\n" . $redis->directive(prefix => $prefix),
    server => qq{
        location /api/ {
            auth_realm on;
            auth_realm_issuer \$TEST_NGINX_ISSUER/realms/tenant-*;
            auth_realm_jwks_ttl ${TTL}s;
            auth_realm_jwks_stale ${STALE}s;
            auth_realm_jwks_refetch_interval 1s;
            proxy_pass http://127.0.0.1:\$TEST_NGINX_ISSUER_PORT/echo/;
        }
    },
);
my $na = RealmAuth::Nginx->start(%conf);
my $nb = RealmAuth::Nginx->start(%conf);
my $tok = token(realm => 'tenant-rmk');
sub st { $_[0]->get('/api/x', Authorization => "Bearer $tok")->{status} }
sub until_t { my ($t0, $at) = @_; my $d = $t0 + $at - time; sleep $d if $d > 0 }

my $t0 = time;
is(st($na), 200, 'A: token verified (HTTP fetch, Redis copy written)');
is(fetch_count('tenant-rmk'), 1, 'one fetch');
until_t($t0, 3.5);
is(st($nb), 200, 'B: token verified with the keys of the Redis copy');
is(fetch_count('tenant-rmk'), 1, 'B did not fetch');
until_t($t0, 4.2);
is(st($na), 200, 'A: keys expired, refreshed');
for (1 .. 20) { last if fetch_count('tenant-rmk') >= 2; sleep 0.05 }
is(fetch_count('tenant-rmk'), 2, 'A fetched again (the first copy had expired) and wrote a new copy');
until_t($t0, 4.4);
rotate_key('tenant-rmk', drop_old => 1);
my $removed = time;

my $refused;
while (time - $removed < 2 * $TTL + $STALE + 3) {
    if (st($nb) == 401) { $refused = time; last }
    sleep 0.1;
}
ok($refused, sprintf('B refuses the token once its key is gone (%.1f s after the removal)',
                     ($refused // time) - $removed));
cmp_ok(($refused // time) - $removed, '<=', $TTL + $STALE + 0.5,
       "B refuses it within ttl + stale (+0.5 s) = @{[ $TTL + $STALE + 0.5 ]} s of the removal");

unlike($nb->error_log, qr/\[(alert|crit|emerg)\]/, 'no alerts in the error log');
$na->stop;
$nb->stop;
done_testing();
