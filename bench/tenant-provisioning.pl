#!/usr/bin/perl
# Provisioning time of tenants (realms) through nginx → realm-sidecar →
# Keycloak, first to Nth, on the running local stack (`make up`):
#
#   perl bench/tenant-provisioning.pl [N=50]        # KEEP=1 keeps the tenants
#
# Each POST /tenants is timed alone (wall clock, client side): realm import,
# secret read, sealed store, audit rows. Realm-per-tenant is known to slow
# down as realms accumulate, so the Nth number matters as much as the 1st.
# Tenants are deleted afterwards (also timed) unless KEEP=1.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/e2e/lib";
use Time::HiRes qw(time);
use E2E::Stack qw(random_slug);
use E2E::Sidecar qw(api operator_token);

my $n = shift // 50;
my $run = random_slug('bench');
my (@create, @delete, @slugs);
# One operator login per 4 minutes (tokens live 5): fewer logins, and the
# platform realm's brute-force detector never sees a burst.
my ($tok, $tok_at) = (undef, 0);
sub fresh_token {
    ($tok, $tok_at) = (operator_token(), time) if !$tok || time - $tok_at > 240;
    return $tok // die "no operator token\n";
}
for my $i (1 .. $n) {
    fresh_token();
    my $slug = sprintf '%s-%03d', $run, $i;
    my $t0 = time;
    my ($st, $b) = api(POST => '/tenants', token => $tok, purpose => 'benchmark',
                       json => { slug => $slug, display_name => "Bench $i", departments => ['ops'] });
    my $dt = time - $t0;
    die "tenant $i: HTTP $st " . (ref $b ? $b->{detail} : $b) . "\n" unless $st == 201;
    push @create, $dt;
    push @slugs, $slug;
    printf "create %3d %6.2fs\n", $i, $dt;
}
unless ($ENV{KEEP}) {
    for my $slug (@slugs) {
        fresh_token();
        my $t0 = time;
        my ($st) = api(DELETE => "/tenants/$slug", token => $tok, purpose => 'benchmark cleanup');
        push @delete, time - $t0;
        warn "delete $slug: HTTP $st\n" unless $st == 204;
    }
}

sub median { my @s = sort { $a <=> $b } @_; return @s ? $s[$#s / 2] : 0 }
printf "\ntenants: %d\n", $n;
printf "create: 1st %.2fs, %dth %.2fs, median %.2fs, max %.2fs\n", $create[0], $n, $create[-1],
    median(@create), (sort { $b <=> $a } @create)[0];
printf "delete: 1st %.2fs, last %.2fs, median %.2fs\n", $delete[0], $delete[-1], median(@delete) if @delete;
