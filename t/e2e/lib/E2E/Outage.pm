package E2E::Outage;
# Helpers for the outage suite (t/e2e/072-outages.t): what a process holds
# (open files, threads, established TCP connections), stand-ins for a
# dependency that misbehaves (a listener that accepts and never answers,
# an HTTP server answering 5xx), a private sidecar with some settings
# overridden, and a stopwatch that polls until a condition holds.
#   my $c = holdings($pid);              # { fd => 12, tasks => 9, conns => 3 }
#   my ($ok, $secs) = poll_until(30, sub { ... true when recovered ... });
use strict;
use warnings;
use Exporter 'import';
use HTTP::Tiny;
use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use POSIX ();
use Time::HiRes qw(time sleep);
use E2E::Stack qw(env root);
use E2E::Util qw(free_port spawn stop wait_http);

our @EXPORT_OK = qw(holdings pid_of children poll_until hung_listener status_stub private_sidecar
                    readyz alive wait_gone forget_if_zombie group_members);

# The pid in one of the stack's pid files (.state/<name>), or undef.
sub pid_of {
    my ($file) = @_;
    open my $fh, '<', env('STATE_DIR') . "/$file" or return undef;
    my $pid = <$fh> // '';
    $pid =~ s/\s+//g;
    return $pid =~ /^\d+$/ ? $pid : undef;
}

# Every process of a process group (Keycloak's kc.sh and its java).
sub group_members {
    my ($pgid) = @_;
    return grep { /^\d+$/ } split /\s+/, `pgrep -g $pgid` // '';
}

sub children {
    my ($pid) = @_;
    return grep { /^\d+$/ } split /\s+/, `pgrep -P $pid` // '';
}

sub alive { my ($pid) = @_; return $pid && kill(0, $pid) && !zombie($pid) }
sub zombie {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/stat" or return 1;
    my $st = <$fh> // '';
    return $st =~ /^\d+ \(.*\) Z/;
}
sub wait_gone {
    my ($secs, @pids) = @_;
    my $end = time + $secs;
    while (time < $end) { return 1 unless grep { alive($_) } @pids; sleep 0.05 }
    return 0;
}

# A killed process whose parent is gone waits for PID 1 to reap it; until
# then kill -0 still succeeds and the stack's scripts (and PostgreSQL's own
# lock file check) take it for running (issue 10 item 1). Waits up to `secs`
# for it to vanish; if it is still a zombie then, removes the pid file that
# names it so the server can be started again. True if removed.
sub forget_if_zombie {
    my ($secs, $pid, @files) = @_;
    my $end = time + $secs;
    while (time < $end) { return 0 unless kill 0, $pid; sleep 0.1 }
    return 0 unless zombie($pid);
    unlink @files;
    return 1;
}

# Open file descriptors, threads, established TCP connections and sockets
# left in CLOSE_WAIT of a process.
# `pooled`: connections to the given peer ports (a keepalive pool with its
# own bound), counted apart from `conns` and `fd`.
sub holdings {
    my ($pid, @pool_ports) = @_;
    opendir my $fd, "/proc/$pid/fd" or return undef;
    my $fds = grep { !/^\./ } readdir $fd;
    opendir my $t, "/proc/$pid/task" or return undef;
    my $tasks = grep { !/^\./ } readdir $t;
    my @est = grep { /pid=$pid,/ } `ss -Htnp state established 2>/dev/null`;
    my %pool = map { $_ => 1 } @pool_ports;
    my $pooled = grep { my @f = split ' '; ($f[3] // '') =~ /:(\d+)$/ && $pool{$1} } @est;
    my $conns = @est - $pooled;
    $fds -= $pooled;
    # A socket whose peer has closed and this process has not: the shape of
    # a leaked connection.
    my $close_wait = grep { /pid=$pid,/ } `ss -Htnp state close-wait 2>/dev/null`;
    return { fd => $fds, tasks => $tasks, conns => $conns, close_wait => $close_wait, pooled => $pooled };
}

# Calls `cond` every 50 ms until it is true or `secs` pass: (ok, seconds).
sub poll_until {
    my ($secs, $cond) = @_;
    my $t0 = time;
    while (time - $t0 < $secs) {
        return (1, time - $t0) if $cond->();
        sleep 0.05;
    }
    return ($cond->() ? 1 : 0, time - $t0);
}

# A TCP listener that accepts every connection, reads the request line,
# writes it to `log` (one line per connection) and never answers nor
# closes: a hung server. Returns (pid, port).
sub hung_listener {
    my ($log) = @_;
    my $srv = IO::Socket::INET->new(Listen => 128, LocalAddr => '127.0.0.1', LocalPort => 0,
                                    ReuseAddr => 1) or die "listen: $!";
    my $port = $srv->sockport;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        POSIX::setsid();
        my $sel = IO::Select->new($srv);
        my (%held, %line);
        while (1) {
            for my $s ($sel->can_read(1)) {
                if ($s == $srv) {
                    my $c = $srv->accept or next;
                    $sel->add($c);
                    $held{$c} = $c;
                    $line{$c} = '';
                    next;
                }
                my $n = sysread $s, my $buf, 4096;
                if (!$n) { $sel->remove($s); delete $held{$s}; close $s; next }
                next unless defined $line{$s};
                $line{$s} .= $buf;
                if ($line{$s} =~ /^([^\r\n]*)\r?\n/) {
                    open my $fh, '>>', $log;
                    print $fh "$1\n";
                    close $fh;
                    delete $line{$s};
                }
            }
        }
    }
    close $srv;
    return ($pid, $port);
}

# An HTTP server answering every request with `status` and an HTML body
# (a Keycloak behind a broken proxy or failing on its database). (pid, port)
sub status_stub {
    my ($status) = @_;
    my $srv = IO::Socket::INET->new(Listen => 128, LocalAddr => '127.0.0.1', LocalPort => 0,
                                    ReuseAddr => 1) or die "listen: $!";
    my $port = $srv->sockport;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        POSIX::setsid();
        while (my $c = $srv->accept) {
            my $req = '';
            while ($req !~ /\r\n\r\n/) {
                my $n = sysread $c, my $buf, 4096;
                last unless $n;
                $req .= $buf;
            }
            my ($len) = $req =~ /^Content-Length:\s*(\d+)/mi;
            my $have = length($req) - (index($req, "\r\n\r\n") + 4);
            while ($len && $have < $len) { my $n = sysread $c, my $b, 4096; last unless $n; $have += $n }
            my $body = "<html><body>$status Service Unavailable</body></html>";
            print $c "HTTP/1.1 $status Service Unavailable\r\nContent-Type: text/html\r\n"
                   . "Content-Length: " . length($body) . "\r\nConnection: close\r\n\r\n$body";
            close $c;
        }
        POSIX::_exit(0);
    }
    close $srv;
    return ($pid, $port);
}

# A sidecar with the stack's configuration plus %env overrides, on a free
# port, called directly. Returns (pid, url); the caller stops it.
sub private_sidecar {
    my ($log, %env) = @_;
    my $kc = env('KEYCLOAK_URL');
    my $port = free_port();
    my $pid = spawn($log, cmd => [root() . '/scripts/stack/sidecar.sh', 'run', 'serve'],
                    SIDECAR_PORT => $port, RECONCILE_INTERVAL => 0,
                    ALLOWED_ISSUERS => "$kc/realms/platform $kc/realms/tenant-*", %env);
    my $url = "http://127.0.0.1:$port";
    return ($pid, $url) if wait_http("$url/healthz", 20);
    stop($pid);
    return (undef, $url);
}

# GET /readyz: (status, decoded body, seconds it took).
sub readyz {
    my ($url) = @_;
    my $t0 = time;
    my $r = HTTP::Tiny->new(timeout => 10)->get("$url/readyz");
    my $b = eval { JSON::PP->new->decode($r->{content}) } // {};
    return ($r->{status}, $b, time - $t0);
}

1;
