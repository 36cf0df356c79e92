#!/usr/bin/perl
# Time from realm-sidecar's answer to the first refusal (token_revoked) on
# each of two nginx instances (2 workers each) sharing the stack's Redis,
# for the three ways a token is revoked: a user disabled, a session logged
# out in Keycloak (back-channel logout → sidecar), every session of a tenant.
# On the running local stack (`make up`, `make build`):
#
#   perl bench/revocation-latency.pl [TRIALS=50]     # or: make bench-revocation
#
# Each trial logs a user in, checks the token passes on both instances,
# starts one poller per instance (new connection per call, so calls spread
# over the workers), does the revoking call and takes t0 when it answers;
# the latency is the poller's first refusal minus t0 (0 when the refusal
# came before the answer reached the client). Prints p50/p99/max per kind
# and instance, and a Markdown table for bench/results/.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/e2e/lib";
use JSON::PP;
use Time::HiRes qw(time sleep);
use E2E::Stack qw(token random_slug jwt_payload);
use E2E::Sidecar qw(api operator_token create_tenant delete_tenant kc_admin new_active_user);
use E2E::Fleet qw(start_fleet watch_refusal call);

my $trials = shift // $ENV{TRIALS} // 50;
# The set-up helpers are the e2e suites' (Test::More): their "ok" lines
# are not this benchmark's output, their failures still reach stderr.
Test::More->builder->no_plan;
Test::More->builder->output('/dev/null');
my @fleet = start_fleet(2, workers => 2);
my ($op, $op_at) = (undef, 0);
sub op { ($op, $op_at) = (operator_token(), time) if !$op || time - $op_at > 200; $op // die "no operator token\n" }

my $slug = random_slug('rvb');
my ($st, $body) = create_tenant(op(), $slug);
die "create tenant: HTTP $st\n" unless $st == 201;
my $realm = "tenant-$slug";
my ($uid, $pw) = new_active_user(op(), $slug, 'bench');

sub login { token($realm, 'admin-console', user => 'bench', password => $pw) // die "login failed\n" }

# A token that passes on every instance (the first call also warms the keys).
sub fresh_token {
    for (1 .. 50) {
        my $t = login();
        return $t unless grep { call($_, $t) != 200 } @fleet, @fleet;
        sleep 0.25;    # iat still inside the last revocation's second
    }
    die "no token passes the fleet\n";
}

my %revoke = (
    'user disabled' => sub {
        my ($st) = api(PATCH => "/tenants/$slug/users/$uid", token => op(), json => { enabled => JSON::PP::false });
        die "disable: HTTP $st\n" unless $st == 200;
    },
    'session logout (back-channel)' => sub {
        my ($tok) = @_;
        my $sid = (jwt_payload($tok))[0]{sid} // die "token has no sid\n";
        my ($st) = kc_admin(DELETE => "/$realm/sessions/$sid");
        die "session delete: HTTP $st\n" unless $st == 204;
    },
    'tenant-wide revocation' => sub {
        my ($st) = api(POST => "/tenants/$slug/sessions:revoke", token => op(), json => {});
        die "tenant revoke: HTTP $st\n" unless $st == 200 || $st == 204;
    },
);
my %after = (
    'user disabled' => sub {
        my ($st) = api(PATCH => "/tenants/$slug/users/$uid", token => op(), json => { enabled => JSON::PP::true });
        die "enable: HTTP $st\n" unless $st == 200;
    },
);

my @kinds = ('user disabled', 'session logout (back-channel)', 'tenant-wide revocation');
my %lat;    # kind → instance → [ms]
my $missed = 0;
for my $i (1 .. $trials) {
    for my $kind (@kinds) {
        op();
        my $tok = fresh_token();
        my $wait = watch_refusal(\@fleet, $tok, 8);
        sleep 0.05;    # the pollers are calling
        $revoke{$kind}->($tok);
        my $t0 = time;
        my @at = $wait->();
        for my $n (0 .. $#fleet) {
            if (!defined $at[$n]) { $missed++; warn "$kind trial $i: instance $n never refused\n"; next }
            my $ms = ($at[$n] - $t0) * 1000;
            push @{ $lat{$kind}[$n] }, $ms < 0 ? 0 : $ms;
        }
        $after{$kind}->() if $after{$kind};
        sleep 1.05;    # the next token's iat is past this revocation's not_before
    }
    printf STDERR "trial %d/%d\n", $i, $trials unless $i % 10;
}

sub pct {
    my ($p, @v) = @_;
    my @s = sort { $a <=> $b } @v;
    return @s ? $s[int($p / 100 * $#s + 0.5)] : 0;
}
printf "| kind | nginx | trials | p50 ms | p99 ms | max ms |\n| --- | --- | --- | --- | --- | --- |\n";
for my $kind (@kinds) {
    for my $n (0 .. $#fleet) {
        my @v = @{ $lat{$kind}[$n] // [] };
        printf "| %s | %s | %d | %.0f | %.0f | %.0f |\n", $kind, ('A', 'B')[$n], scalar @v,
            pct(50, @v), pct(99, @v), pct(100, @v);
    }
}
printf "\nnever refused within 8 s: %d\n", $missed;
delete_tenant(op(), $slug);
exit($missed ? 1 : 0);
