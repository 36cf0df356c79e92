#!/usr/bin/perl
# Prometheus metrics of the running stack (run `make up`): the sidecar's
# GET /metrics (its own address, not routed by nginx) and the module's
# auth_realm_status scraped as Prometheus does, before and after API calls
# through nginx, both parsed by the official Python client's parser
# (scripts/check-metrics.py: HELP/TYPE, names, _total, histogram rules).
# Route labels are templates: the tenant's slug never appears.
#   prove -It/e2e/lib t/e2e/083-metrics.t
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use File::Temp ();
use HTTP::Tiny;
use JSON::PP ();
use Test::More;
use E2E::Stack qw(root env random_slug require_keycloak);
use E2E::Sidecar qw(api gateway operator_token create_tenant delete_tenant require_sidecar);

require_keycloak();
require_sidecar();
my $op = operator_token() or BAIL_OUT('no operator token');
my $slug = random_slug('e2em');
my $ua = HTTP::Tiny->new(timeout => 30);
my $SCRAPE = 'application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.4,*/*;q=0.1';

# (series hash, raw text) of one scrape, or a failed test.
sub scrape {
    my ($url) = @_;
    my $res = $ua->get($url, { headers => { Accept => $SCRAPE } });
    is $res->{status}, 200, "GET $url";
    like $res->{headers}{'content-type'} // '', qr{^text/plain; version=0\.0\.4}, 'text format';
    my $in = File::Temp->new;
    print {$in} $res->{content};
    close $in;
    my $script = root() . '/scripts/check-metrics.py';
    my $out = `/usr/bin/python3 $script < @{[$in->filename]}`;
    ok $? == 0, "$url parses as Prometheus text and follows the rules" or diag $res->{content};
    my $doc = eval { JSON::PP->new->decode($out) } // { series => {} };
    return ($doc->{series}, $res->{content});
}

my $sidecar = 'http://' . env('SIDECAR_HOST') . ':' . env('SIDECAR_PORT') . '/metrics';
my $status  = gateway() . '/realm-auth/status';
my ($s0) = scrape($sidecar);
my ($m0) = scrape($status);
my $d = sub { my ($a, $b, $k) = @_; ($b->{$k} // 0) - ($a->{$k} // 0) };

my ($st) = create_tenant($op, $slug);
is $st, 201, 'tenant created';
($st) = api(GET => "/tenants/$slug", token => $op);
is $st, 200, 'tenant read';
($st) = api(GET => "/tenants/$slug/no-such-thing", token => $op);
is $st, 404, 'unmatched path';
($st) = api(GET => '/tenants', token => 'not.a.token');
is $st, 401, 'refused by nginx';

my ($s1, $text) = scrape($sidecar);
my ($m1) = scrape($status);

subtest 'sidecar: requests by route template and status' => sub {
    is $d->($s0, $s1, 'realm_sidecar_http_requests_total{method="POST",route="/tenants",status="201"}'), 1,
        'POST /tenants 201';
    is $d->($s0, $s1, 'realm_sidecar_http_requests_total{method="GET",route="/tenants/{tenant_id}",status="200"}'), 1,
        'GET /tenants/{tenant_id} 200';
    is $d->($s0, $s1, 'realm_sidecar_http_requests_total{method="GET",route="unmatched",status="404"}'), 1,
        'the unknown path counts as unmatched';
    unlike $text, qr/\Q$slug\E/, 'the slug appears in no label';
};

subtest 'sidecar: saga, Keycloak, policy, ledger' => sub {
    for my $step (qw(row_inserted realm_created active)) {
        is $d->($s0, $s1, qq{realm_sidecar_saga_steps_total{saga="tenant",step="$step"}}), 1, "step $step";
    }
    is $d->($s0, $s1, 'realm_sidecar_saga_outcomes_total{outcome="created",saga="tenant"}'), 1, 'created';
    cmp_ok $d->($s0, $s1, 'realm_sidecar_keycloak_request_duration_seconds_count{outcome="ok"}'), '>=', 1,
        'Keycloak calls timed';
    cmp_ok $d->($s0, $s1, 'realm_sidecar_policy_decision_duration_seconds_count{outcome="allow"}'), '>=', 2,
        'policy decisions timed (create, read)';
    cmp_ok $d->($s0, $s1, 'realm_sidecar_ledger_appends_total{result="ok"}'), '>=', 4,
        'ledger rows (request, decision, outcome; request, decision)';
    is $s1->{qq{realm_sidecar_dependency_up{dependency="$_"}}}, 1, "$_ up" for qw(postgresql keycloak);
};

subtest 'module: verified and refused as Prometheus scraped them' => sub {
    cmp_ok $d->($m0, $m1, 'realm_auth_requests_total{result="verified"}'), '>=', 3, 'verified';
    my $refused = 0;
    for my $k (grep /^realm_auth_requests_total\{.*result="refused"/, keys %$m1) {
        $refused += $d->($m0, $m1, $k);
    }
    cmp_ok $refused, '>=', 1, 'the garbage token refused, by its reason';
    cmp_ok $m1->{'realm_auth_zone_free_pages{zone="realm_auth"}'} // 0, '>', 0, 'zone usage';
    cmp_ok $m1->{'realm_auth_jwks_fetch_duration_seconds_count{result="ok"}'} // 0, '>=', 1,
        'JWKS fetches timed';
};

is delete_tenant($op, $slug), 204, 'cleanup: tenant deleted';
done_testing;
