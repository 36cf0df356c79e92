package Soak::Memory;
# Memory of the stack's nginx workers and realm-sidecar during the soak:
# a sampler process reads /proc/<pid>/status every few seconds, and the
# slope of each series is fitted by least squares (KB per minute).
#
# VmRSS of a worker includes the pages of the shared zone it has touched
# (RssShmem), which grows until the zone's pages are all in use, whatever
# the traffic, and file pages (code paged in on first use); a leak is
# private memory (RssAnon). All three are reported; bench/soak.pl bounds
# the slope of RssAnon after the warm-up.
use strict;
use warnings;
use Exporter 'import';
use Time::HiRes qw(time sleep);

our @EXPORT_OK = qw(processes sample_loop read_samples slope);

sub _read_pid {
    my ($file) = @_;
    open my $fh, '<', $file or return;
    my $p = <$fh>;
    return $p && $p =~ /(\d+)/ ? $1 : undef;
}

# processes(STATE_DIR) → ([role, pid], ...): nginx workers (children of the
# master named in .state/nginx/nginx.pid) and the sidecar.
sub processes {
    my ($state) = @_;
    my @p;
    if (my $master = _read_pid("$state/nginx/nginx.pid")) {
        opendir my $d, '/proc' or die "/proc: $!";
        for my $pid (grep { /^\d+$/ } readdir $d) {
            open my $fh, '<', "/proc/$pid/stat" or next;
            my $s = <$fh> // next;
            my ($cmd, $ppid) = $s =~ /\((.*)\)\s+\S+\s+(\d+)/ or next;
            next unless $ppid == $master && $cmd eq 'nginx';
            open my $c, '<', "/proc/$pid/cmdline" or next;
            my $cl = <$c> // '';
            push @p, ['nginx worker', $pid] if $cl =~ /worker process/;
        }
    }
    if (my $sc = _read_pid("$state/sidecar/sidecar.pid")) { push @p, ['realm-sidecar', $sc] if -d "/proc/$sc" }
    return sort { $a->[0] cmp $b->[0] || $a->[1] <=> $b->[1] } @p;
}

sub _status {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/status" or return;
    my %v;
    while (<$fh>) { $v{$1} = $2 if /^(VmRSS|RssAnon|RssShmem):\s+(\d+)/ }
    return \%v;
}

# Appends "epoch role pid VmRSS RssAnon RssShmem" lines to OUT every
# `every` seconds until STOP exists.
sub sample_loop {
    my ($state, $out, $stop, $every) = @_;
    open my $fh, '>>', $out or die "$out: $!";
    $fh->autoflush(1);
    while (!-e $stop) {
        my $t = time;
        for my $p (processes($state)) {
            my $v = _status($p->[1]) or next;
            printf $fh "%.3f\t%s\t%d\t%d\t%d\t%d\n", $t, $p->[0], $p->[1], $v->{VmRSS} // 0, $v->{RssAnon} // 0,
                $v->{RssShmem} // 0;
        }
        my $d = $t + $every - time;
        while ($d > 0 && !-e $stop) { sleep($d > 0.5 ? 0.5 : $d); $d = $t + $every - time }
    }
}

# read_samples(FILE) → { "role pid" => [[t, rss, anon, shmem], ...] }
sub read_samples {
    my ($file) = @_;
    my %s;
    open my $fh, '<', $file or return \%s;
    while (<$fh>) {
        chomp;
        my ($t, $role, $pid, $rss, $anon, $shm) = split /\t/;
        push @{ $s{"$role $pid"} }, [$t, $rss, $anon, $shm];
    }
    return \%s;
}

# Least-squares slope of y over t, in y-units per minute.
sub slope {
    my (@pts) = @_;    # [t, y]
    my $n = @pts;
    return 0 if $n < 2;
    my ($st, $sy) = (0, 0);
    $st += $_->[0], $sy += $_->[1] for @pts;
    my ($mt, $my) = ($st / $n, $sy / $n);
    my ($num, $den) = (0, 0);
    for (@pts) { $num += ($_->[0] - $mt) * ($_->[1] - $my); $den += ($_->[0] - $mt)**2 }
    return $den ? $num / $den * 60 : 0;
}

1;
