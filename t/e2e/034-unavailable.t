#!/usr/bin/perl
# Fail closed (run `make up`): sidecars started by this test with one
# dependency pointing at a dead port answer 503 (Keycloak, PostgreSQL) or
# 403 (policy service) and leave nothing half-created. They share the
# stack's PostgreSQL, Redis and Keycloak otherwise, and are called directly
# (not through nginx) with a real operator token.
#   prove -It/e2e/lib t/e2e/034-unavailable.t
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use HTTP::Tiny;
use IO::Socket::INET;
use JSON::PP;
use POSIX ();
use Test::More;
use E2E::Stack qw(env http_json random_slug require_keycloak root);
use E2E::Sidecar qw(api operator_token require_sidecar sidecar_cli);

require_keycloak();
require_sidecar();
my $op = operator_token() or BAIL_OUT('no operator token');
my $kc = env('KEYCLOAK_URL');
my $dead = 'http://127.0.0.1:9';  # discard port: nothing listens there
my %started;

sub free_port {
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1', LocalPort => 0) or die $!;
    return $s->sockport;
}

# A sidecar with the stack's configuration plus %env overrides; returns its URL.
sub start_sidecar {
    my (%env) = @_;
    my $port = free_port();
    my $log = env('STATE_DIR') . "/sidecar/e2e-034.log";
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        POSIX::setsid();
        $ENV{$_} = $env{$_} for keys %env;
        $ENV{SIDECAR_PORT} = $port;
        $ENV{ALLOWED_ISSUERS} = "$kc/realms/platform $kc/realms/tenant-*";
        $ENV{RECONCILE_INTERVAL} = 0;
        open STDOUT, '>>', $log;
        open STDERR, '>>', $log;
        exec root() . '/scripts/stack/sidecar.sh', 'run', 'serve' or die "exec: $!";
    }
    $started{$pid} = 1;
    my $url = "http://127.0.0.1:$port";
    for (1 .. 50) {
        my $r = HTTP::Tiny->new(timeout => 1)->get("$url/healthz");
        return $url if $r->{status} == 200;
        select undef, undef, undef, 0.2;
    }
    BAIL_OUT("sidecar on :$port did not start; see $log");
}

END { kill 'TERM', $_ for keys %started; waitpid $_, 0 for keys %started }

sub call {
    my ($url, $method, $path, $json) = @_;
    my ($st, $body) = http_json($method, "$url$path", token => $op, purpose => 'e2e failure test',
                                json => $json);
    return ($st, $body);
}

sub nothing_created {
    my ($slug) = @_;
    my ($st) = api(GET => "/tenants/$slug", token => $op);
    is $st, 404, "no tenant row for $slug";
    ($st) = http_json(GET => "$kc/realms/tenant-$slug/.well-known/openid-configuration");
    is $st, 404, "no realm tenant-$slug";
}

subtest 'Keycloak unreachable → 503, nothing created' => sub {
    my $url = start_sidecar(KEYCLOAK_URL => $dead);
    my $slug = random_slug('e2eu');
    my ($st, $b) = call($url, POST => '/tenants', { slug => $slug, display_name => 'x' });
    is $st, 503, 'answers 503';
    like $b->{detail}, qr/Keycloak/, 'detail names Keycloak';
    like $b->{detail}, qr/nothing was left behind/, 'detail says nothing is left';
    nothing_created($slug);
    my ($rc, @lines) = sidecar_cli('audit', 'tail', '--tenant', $slug);
    like join('', @lines), qr/"event_type":"PROVISIONING_FAILED"/, 'ledger records the failure';
};

subtest 'PostgreSQL unreachable → 503 before any work' => sub {
    my $url = start_sidecar(POSTGRES_PORT => 9);
    my $slug = random_slug('e2eu');
    my ($st, $b) = call($url, POST => '/tenants', { slug => $slug, display_name => 'x' });
    is $st, 503, 'answers 503';
    like $b->{detail}, qr/audit ledger is unavailable/, 'no audit, no work';
    nothing_created($slug);
};

subtest 'policy service unreachable → 403 (fail closed)' => sub {
    my $url = start_sidecar(POLICY_URL => "$dead/v1/data/realm_auth/decision");
    my $slug = random_slug('e2eu');
    my ($st, $b) = call($url, POST => '/tenants', { slug => $slug, display_name => 'x' });
    is $st, 403, 'answers 403';
    like $b->{detail}, qr/denied/, 'denied with the reason';
    nothing_created($slug);
};

done_testing;
