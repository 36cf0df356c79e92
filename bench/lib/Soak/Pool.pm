package Soak::Pool;
# The token pool the soak controller shares with its load clients, as two
# plain-text files in the run directory (JSON::PP would take too long to
# re-read on every change):
#   tokens  "<id> <jwt>" lines, only ever appended (read from an offset)
#   pool    the current entries and tenant timelines, replaced by rename:
#             E <id> <exp> <tenant> <forged 0|1> <phases>
#             T <tenant> <phases>
#           phases: "-" or "<epoch>=<spec>;<epoch>=<spec>…" (Soak::Expect)
use strict;
use warnings;
use Exporter 'import';
use Time::HiRes ();
use Soak::Expect qw(LEEWAY);

our @EXPORT_OK = qw(write_pool add_tokens Reader category);

sub _phases { my ($p) = @_; return @{ $p // [] } ? join(';', map { sprintf '%.3f=%s', @$_ } @$p) : '-' }

# write_pool(DIR, [entries], {tenant => [phases]})
sub write_pool {
    my ($dir, $entries, $tenants) = @_;
    open my $fh, '>', "$dir/pool.tmp" or die "$dir/pool.tmp: $!";
    for my $e (@$entries) {
        printf $fh "E %s %d %s %d %s\n", $e->{id}, $e->{exp}, $e->{tenant}, $e->{forged} ? 1 : 0, _phases($e->{phases});
    }
    printf $fh "T %s %s\n", $_, _phases($tenants->{$_}) for sort keys %$tenants;
    close $fh or die "pool: $!";
    rename "$dir/pool.tmp", "$dir/pool" or die "rename pool: $!";
}

sub add_tokens {
    my ($dir, @entries) = @_;
    open my $fh, '>>', "$dir/tokens" or die "$dir/tokens: $!";
    print $fh "$_->{id} $_->{tok}\n" for @entries;
    close $fh or die "tokens: $!";
}

# What the token is now, for drawing it (not for judging it): forged,
# expired, deleted, disabled, revoked or valid. Announced changes still
# under way count as the state before them.
sub category {
    my ($e, $tphases, $t) = @_;
    return 'forged' if $e->{forged};
    return 'expired' if $t > $e->{exp} + LEEWAY + 2;
    my $cur = sub {
        my $s = 'ok';
        for (@{ $_[0] // [] }) { $s = $_->[1] if $_->[0] <= $t && $_->[1] !~ /^either/ }
        return $s;
    };
    my $tn = $cur->($tphases);
    return 'deleted'  if $tn =~ /tenant_deleted/ && $tn =~ /^refuse/;
    return 'disabled' if $tn =~ /tenant_disabled/ && $tn =~ /^refuse/;
    return 'revoked'  if $cur->($e->{phases}) =~ /^refuse/;
    return 'valid';
}

package Soak::Pool::Reader;
# A client's view: refresh() re-reads what changed; draw(cat) picks an entry.

sub new {
    my ($class, $dir) = @_;
    return bless { dir => $dir, off => 0, tok => {}, mtime => '', entries => [], tenants => {}, bucket => {}, at => 0 },
        $class;
}

sub _parse_phases {
    my ($s) = @_;
    return [] if $s eq '-';
    return [map { [split /=/, $_, 2] } split /;/, $s];
}

sub refresh {
    my ($self) = @_;
    my $now = Time::HiRes::time();
    my $m = sprintf '%.6f', (Time::HiRes::stat("$self->{dir}/pool"))[9] // 0;
    if ($m ne $self->{mtime}) {
        if (open my $t, '<', "$self->{dir}/tokens") {
            seek $t, $self->{off}, 0;
            while (my $l = <$t>) {
                last unless $l =~ /\n\z/;    # a line still being written
                $self->{off} += length $l;
                chomp $l;
                my ($id, $jwt) = split / /, $l, 2;
                $self->{tok}{$id} = $jwt;
            }
        }
        open my $fh, '<', "$self->{dir}/pool" or return;
        my (@e, %t);
        while (my $l = <$fh>) {
            chomp $l;
            my @f = split / /, $l;
            if ($f[0] eq 'E') {
                my $jwt = $self->{tok}{ $f[1] } // next;
                push @e, { id => $f[1], exp => $f[2], tenant => $f[3], forged => $f[4], phases => _parse_phases($f[5]),
                           tok => $jwt };
            } elsif ($f[0] eq 'T') {
                $t{ $f[1] } = _parse_phases($f[2]);
            }
        }
        @$self{qw(entries tenants mtime)} = (\@e, \%t, $m);
        $self->{at} = 0;
    }
    if ($now - $self->{at} >= 1) {    # categories move with time (expiry)
        my %b;
        push @{ $b{ Soak::Pool::category($_, $self->{tenants}{ $_->{tenant} }, $now) } }, $_ for @{ $self->{entries} };
        @$self{qw(bucket at)} = (\%b, $now);
    }
    return scalar @{ $self->{entries} };
}

sub draw {
    my ($self, $cat) = @_;
    my $l = $self->{bucket}{$cat};
    return $l && @$l ? $l->[rand @$l] : undef;
}

sub tenant_phases { $_[0]{tenants}{ $_[1] } }

1;
