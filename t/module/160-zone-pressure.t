# A zone far too small for the traffic: the verified-token cache gives its
# room up (least recently used first) so issuers and their keys still fit,
# and every valid token keeps being accepted; nothing crashes, and the zone
# stays within its size.
use strict;
use warnings;
use Test::More;
use JSON::PP ();

use RealmAuth::Issuer qw(:all);
use RealmAuth::Nginx;

RealmAuth::Nginx::require_module();
start_issuer();

my @realms = map { sprintf 'tenant-zp%02d', $_ } 1 .. 12;
ensure_realm($_, algs => ['RS256', 'ES256']) for @realms;

my $ngx = RealmAuth::Nginx->start(
    master => 1, workers => 2,
    http   => 'auth_realm_zone realm_auth:64k;',
    server => q{
        location /api/ {
            auth_realm on;
            auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
        location = /realm-auth/status { auth_realm_status; }
    },
);

# 12 issuers × 25 users: far more verified tokens than 64 KB can hold.
my @requests;
for my $realm (@realms) {
    for my $n (1 .. 25) {
        my $tok = token(realm => $realm, username => "u$n", alg => ($n % 2 ? 'ES256' : 'RS256'));
        push @requests, ['/api/x', Authorization => "Bearer $tok"];
    }
}
# Sixty at a time: concurrent enough to contend for the zone, without 300
# forked clients timing out on a loaded two-core machine.
sub in_waves {
    my @r;
    for (my $i = 0; $i < @requests; $i += 60) {
        my $last = $i + 59 < $#requests ? $i + 59 : $#requests;
        push @r, $ngx->concurrent([ @requests[$i .. $last] ]);
    }
    return @r;
}

# Statuses other than 200, with their counts, to say why when it fails.
sub not_ok {
    my %n;
    $n{ $_->{status} . ' ' . (($_->{headers}{'www-authenticate'} // '') =~ /error_description="([^"]*)"/ ? $1 : '') }++
        for grep { $_->{status} != 200 } @_;
    return join '; ', map {"$n{$_} × $_"} sort keys %n;
}

my @r = in_waves();
is(scalar(grep { $_->{status} == 200 } @r), scalar @requests, 'every valid token accepted')
    or diag not_ok(@r);

# The same tokens again: some cached, many evicted and verified again.
@r = in_waves();
is(scalar(grep { $_->{status} == 200 } @r), scalar @requests, 'accepted again after evictions')
    or diag not_ok(@r);

my $status = $ngx->get('/realm-auth/status');
is($status->{status}, 200, 'status answers');
my $json = JSON::PP->new->decode($status->{body});
cmp_ok($json->{jwks}{issuers_cached}, '==', scalar @realms, 'every issuer tracked in the zone');
cmp_ok($json->{token_cache}{entries}, '<', 2 * @requests, 'token entries bounded by the zone');
cmp_ok($json->{token_cache}{entries}, '>', 0, 'some tokens still cached');
unlike($ngx->error_log, qr/\[(alert|crit|emerg)\]|zone full/, 'no alerts, no "zone full"');

$ngx->stop;
done_testing();
