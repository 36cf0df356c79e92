# Single flight: 50 requests arrive at once, over two worker processes, for
# an issuer nobody has fetched yet, whose JWKS endpoint takes 1 s to answer.
# The instance fetches it exactly once (in-flight flag in the shared zone);
# every waiting request resumes when the keys land, and all succeed.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time);

use RealmAuth::Issuer qw(:all);
use RealmAuth::Nginx;

RealmAuth::Nginx::require_module();

start_issuer();
ensure_realm('tenant-sf', algs => ['RS256']);
set_delay('tenant-sf', 1);

my $ngx = RealmAuth::Nginx->start(
    master => 1, workers => 2,
    http => 'auth_realm_zone realm_auth:10m;',
    server => q{
        location /api/ {
            auth_realm on;
            auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
        location = /realm-auth/status { auth_realm_status; }
    },
);

# distinct users, so the token cache cannot answer for anyone
my @reqs = map { ['/api/x', Authorization => 'Bearer ' . token(realm => 'tenant-sf', username => "user$_")] } 1 .. 50;
my $t0 = time;
my @res = $ngx->concurrent(\@reqs);
my $spent = time - $t0;

my %by_status;
$by_status{ $_->{status} }++ for @res;
is($by_status{200} // 0, 50, 'all 50 requests accepted')
    or diag(explain(\%by_status), $ngx->error_log =~ /(.*token refused.*)/g);
is(fetch_count('tenant-sf'), 1, 'exactly one JWKS fetch for 50 concurrent requests on 2 workers');
cmp_ok($spent, '<', 10, sprintf('all done in %.1f s', $spent));

my $status = $ngx->status;
is($status->{jwks}{http_fetches}, 1, 'status agrees: one HTTP fetch');
is($status->{verified}, 50, 'status: 50 verified');

# later requests, in either worker, find the keys in the zone
my @again = $ngx->concurrent([ map { ['/api/x', Authorization => 'Bearer ' . token(realm => 'tenant-sf', username => "again$_")] } 1 .. 20 ]);
is(scalar(grep { $_->{status} == 200 } @again), 20, '20 more accepted');
is(fetch_count('tenant-sf'), 1, 'still one fetch');

unlike($ngx->error_log, qr/\[(alert|crit|emerg)\]/, 'no alerts in the error log');
$ngx->stop;
done_testing();
