# Key rotation without reload: a token signed with a new key (new kid) is
# accepted after one refetch of the realm's JWKS, and a storm of unknown
# kids costs at most one fetch per auth_realm_jwks_refetch_interval.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(sleep time);

use RealmAuth::Issuer qw(:all);
use RealmAuth::Nginx;

RealmAuth::Nginx::require_module();

start_issuer();
ensure_realm('tenant-rot', algs => ['RS256', 'ES256']);
ensure_realm('tenant-other', algs => ['RS256']);

my $ngx = RealmAuth::Nginx->start(
    http => 'auth_realm_zone realm_auth:10m;',
    server => q{
        location /api/ {
            auth_realm on;
            auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
            auth_realm_jwks_refetch_interval 1s;
            proxy_set_header X-Kid $jwt_header_kid;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
    },
);

sub get_with { $ngx->get('/api/x', Authorization => "Bearer $_[0]") }

# 1. the current key works and the JWKS is now cached
my $old_kid = realm_kid('tenant-rot');
my $old_token = token(realm => 'tenant-rot');
is(get_with($old_token)->{status}, 200, 'token with the current key accepted');
is(fetch_count('tenant-rot'), 1, 'one fetch for the first token');
is(get_with(token(realm => 'tenant-rot'))->{status}, 200, 'another token, cached keys');
is(fetch_count('tenant-rot'), 1, 'still one fetch');

# 2. rotate: the new kid is unknown to the cache, one refetch finds it
sleep 1.1;    # past the refetch interval, whatever the first fetch counted as
my $new_kid = rotate_key('tenant-rot');
isnt($new_kid, $old_kid, 'rotation published a new kid');
my $new_token = token(realm => 'tenant-rot');
my $r = get_with($new_token);
is($r->{status}, 200, 'token with the new kid accepted without reload')
    or diag($ngx->error_log =~ /(.*token refused.*)/g);
like($r->{body}, qr/^x-kid: \Q$new_kid\E$/m, 'verified with the new kid');
is(fetch_count('tenant-rot'), 2, 'exactly one refetch for the new kid');
is(get_with($old_token)->{status}, 200, 'old key still in the JWKS: old token still accepted');
is(get_with(token(realm => 'tenant-rot'))->{status}, 200, 'new kid now cached');
is(fetch_count('tenant-rot'), 2, 'no further fetch');

# 3. unknown-kid storm right after a refetch: at most one more fetch in
# the interval, every request refused with key_not_found
sleep 1.1;
my $before = fetch_count('tenant-rot');
my $t0 = time;
my @storm = $ngx->concurrent([ map { ['/api/x', Authorization => 'Bearer '
                                      . token(realm => 'tenant-rot', kid => "storm-$_")] } 1 .. 30 ]);
push @storm, get_with(token(realm => 'tenant-rot', kid => "storm-seq-$_")) for 1 .. 10;
my $spent = time - $t0;
is(scalar(grep { $_->{status} == 401 } @storm), 40, '40 unknown kids refused');
my $fetched = fetch_count('tenant-rot') - $before;
my $allowed = 1 + int($spent / 1);    # one per started second of the storm
cmp_ok($fetched, '<=', $allowed, "unknown kids fetched $fetched times in ${\ sprintf '%.1f', $spent } s (interval 1 s)");
cmp_ok($fetched, '>=', 1, 'the first unknown kid did trigger a refetch');
my @reasons = $ngx->error_log =~ /realm_auth: token refused: (\w+)/g;
is(scalar(grep { $_ eq 'key_not_found' } @reasons), 40, 'all logged as key_not_found');

# 4. drop the old keys (a revoked key): once the JWKS is refetched, nothing
# signed with them is accepted any more
my $old_key_fresh = token(realm => 'tenant-rot', username => 'never-seen');
sleep 1.1;
my $newer_kid = rotate_key('tenant-rot', drop_old => 1);
$r = get_with(token(realm => 'tenant-rot'));
is($r->{status}, 200, 'second rotation picked up');
is(get_with($old_key_fresh)->{status}, 401, 'a token never seen before, signed with a dropped key: refused');
# These two were verified (and cached in the verified-token cache) while
# their key was published. A removed key is how an operator revokes a
# compromised key, so the cache must not outlive the key.
is(get_with($old_token)->{status}, 401, 'cached token whose key was dropped: refused');
is(get_with($new_token)->{status}, 401, 'cached token of the first rotated key: refused');

# 5. another realm is unaffected by all this
is(get_with(token(realm => 'tenant-other'))->{status}, 200, 'other realm fine');
is(fetch_count('tenant-other'), 1, 'other realm fetched once');

unlike($ngx->error_log, qr/\[(alert|crit|emerg)\]/, 'no alerts in the error log');
$ngx->stop;
done_testing();
