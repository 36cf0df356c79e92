package RealmAuth::Load;

# A small load generator for the operations suites (reloads, binary
# upgrades): one child process, non-blocking sockets, a fixed mix of
# requests, every answer counted.
#
#   my $load = RealmAuth::Load->start(
#       port => $port, path => '/api/ok.txt',
#       mix => [ [valid => $token], [forged => $token2], ... ],   # round robin
#       keepalive => 6, close => 2,     # connections of each kind
#       rate => 600,                    # requests per second at most
#   );
#   ... reload nginx, upgrade it ...
#   my $r = $load->stop;    # waits for the requests in flight, returns the tally
#
# The tally ($r):
#   sent, answered         requests started / answered with a status
#   classes{class}{status} answers per class of the mix and HTTP status
#   challenge{class}{text} the WWW-Authenticate error_description of 401 answers
#   workers{pid}{class}{status}  the same per answering worker (X-Worker header)
#   errors{kind}           requests that got no answer, by kind:
#       keepalive_race   a reused keep-alive connection closed (EOF or reset)
#                        before any byte of the answer: the race every HTTP/1.1
#                        client has with a server closing an idle connection,
#                        which nginx does to each idle one when a worker shuts
#                        down gracefully. The request is retried once on a
#                        new connection (RFC 9112 9.3.1: it is idempotent), and
#                        the retry is counted like any request.
#       connect          a new connection refused or failed
#       fresh_closed     a new connection closed or reset before the answer
#       partial          closed in the middle of an answer
#       timeout          no answer within 5 s
#       bad_response     not parseable as HTTP/1.1
#   retries                keep-alive races retried
#   idle_closed            idle keep-alive connections found closed by the
#                          server before reuse (not errors: a new connection
#                          is made, as any client's pool does)
#   samples                the first errors, with time and detail
#
# Fresh-connection errors, partial answers and timeouts are never part of a
# graceful handover: the listening sockets stay open across reloads and
# upgrades, and an exiting worker finishes every request it accepted.

use strict;
use warnings;

use Carp qw(croak);
use Errno qw(EAGAIN EINPROGRESS EWOULDBLOCK EINTR);
use File::Temp qw(tempfile);
use IO::Socket::INET;
use JSON::PP ();
use POSIX ();
use Socket qw(SOL_SOCKET SO_ERROR IPPROTO_TCP TCP_NODELAY MSG_PEEK MSG_DONTWAIT);
use Time::HiRes qw(time sleep);

use constant ANSWER_TIMEOUT => 5;

sub start {
    my ($class, %o) = @_;
    croak 'port and mix needed' unless $o{port} && $o{mix} && @{ $o{mix} };
    $o{path} //= '/';
    $o{keepalive} //= 6;
    $o{close} //= 2;
    $o{rate} //= 600;
    my (undef, $out) = tempfile('realm-load-XXXXXX', TMPDIR => 1, UNLINK => 1);
    my $pid = fork // croak "fork: $!";
    if ($pid == 0) {
        my $tally = eval { _run(%o) } // { fatal => "$@" };
        open my $fh, '>', "$out.tmp" or POSIX::_exit(1);
        print $fh JSON::PP->new->canonical->encode($tally);
        close $fh;
        rename "$out.tmp", $out;
        POSIX::_exit(0);    # no END blocks: they belong to the parent
    }
    return bless { pid => $pid, out => $out, started => time }, $class;
}

# Stops sending, waits for the answers in flight, returns the tally.
sub stop {
    my ($self) = @_;
    kill 'TERM', $self->{pid};
    waitpid $self->{pid}, 0;
    open my $fh, '<', $self->{out} or croak "load generator wrote no tally";
    local $/;
    my $tally = JSON::PP->new->decode(scalar <$fh>);
    croak "load generator failed: $tally->{fatal}" if $tally->{fatal};
    return $tally;
}

# Sums of a tally: status counts of one class, or of every class.
sub count {
    my ($tally, $class, $status) = @_;
    my $n = 0;
    for my $c ($class ? ($class) : keys %{ $tally->{classes} }) {
        my $by = $tally->{classes}{$c} or next;
        for my $s (keys %$by) {
            $n += $by->{$s} if !defined $status || $s eq $status;
        }
    }
    return $n;
}

# ------------------------------------------------------------- child ---

my ($T, %O, @MIX, $NEXT, @RETRY, $STOP, $T0);

sub _note {
    my ($kind, $detail) = @_;
    $T->{errors}{$kind}++;
    push @{ $T->{samples} }, sprintf('%.3f %s %s', time - $T0, $kind, $detail)
        if @{ $T->{samples} } < 20;
}

sub _run {
    %O = @_;
    @MIX = @{ $O{mix} };
    $NEXT = 0;
    @RETRY = ();
    $STOP = 0;
    $T0 = time;
    $T = { sent => 0, answered => 0, retries => 0, idle_closed => 0, classes => {}, workers => {},
           challenge => {}, errors => {}, samples => [] };
    $T->{errors}{$_} = 0 for qw(keepalive_race connect fresh_closed partial timeout bad_response);
    local $SIG{PIPE} = 'IGNORE';
    local $SIG{TERM} = sub { $STOP = 1 };

    my @conns = ((map { { keep => 1 } } 1 .. $O{keepalive}), (map { { keep => 0 } } 1 .. $O{close}));
    my $budget_start = time;
    while (1) {
        my $now = time;
        my $allowed = $STOP ? 0 : int(($now - $budget_start) * $O{rate}) - $T->{sent};
        my $busy = 0;
        for my $c (@conns) {
            if (!$c->{req} && ($allowed > 0 || @RETRY)) {
                my $req = shift(@RETRY);
                if (!$req) {
                    next if $allowed <= 0;
                    my $m = $MIX[ $NEXT++ % @MIX ];
                    $req = { class => $m->[0], token => $m->[1], attempt => 0 };
                    $allowed--;
                    $T->{sent}++;
                }
                _begin($c, $req) or next;
            }
            $busy++ if $c->{req};
        }
        last if $STOP && !$busy && !@RETRY;

        my ($rin, $win) = ('', '');
        for my $c (@conns) {
            next unless $c->{req};
            my $fd = fileno $c->{sock};
            vec($c->{state} eq 'read' ? $rin : $win, $fd, 1) = 1;
        }
        my $wait = $busy ? 0.005 : 0.002;
        my $n = select(my $rout = $rin, my $wout = $win, undef, $wait);
        $now = time;
        for my $c (@conns) {
            next unless $c->{req};
            my $fd = fileno $c->{sock};
            if ($n > 0 && $c->{state} eq 'read' && vec($rout, $fd, 1)) {
                _read($c);
            } elsif ($n > 0 && $c->{state} ne 'read' && vec($wout, $fd, 1)) {
                _write($c);
            }
            if ($c->{req} && $now - $c->{req}{at} > ANSWER_TIMEOUT) {
                _note(timeout => "$c->{req}{class} reused=$c->{reused}");
                _drop($c);
            }
        }
    }
    $T->{elapsed} = time - $T0;
    return $T;
}

sub _connect {
    my ($c) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $O{port},
                                  Proto => 'tcp', Blocking => 0);
    if (!$s) {
        _note(connect => "$!");
        return 0;
    }
    setsockopt($s, IPPROTO_TCP, TCP_NODELAY, 1);
    $c->{sock} = $s;
    $c->{reused} = 0;
    $c->{state} = 'connect';
    return 1;
}

sub _begin {
    my ($c, $req) = @_;
    if ($c->{sock} && $c->{reused}) {
        # As a client's connection pool does: an idle connection the server
        # has closed meanwhile (EOF waiting) is not reused.
        my $r = recv($c->{sock}, my $peek, 1, MSG_PEEK | MSG_DONTWAIT);
        if (defined $r && ($peek // '') eq '' || !defined $r && $! != EAGAIN && $! != EWOULDBLOCK) {
            $T->{idle_closed}++;
            _close($c);
        }
    }
    if (!$c->{sock} && !_connect($c)) {
        return 0;    # counted: the request is lost (a connect error fails the suite)
    }
    $req->{at} = time;
    $c->{req} = $req;
    $c->{buf} = '';
    $c->{out} = "GET $O{path}?c=$req->{class} HTTP/1.1\r\nHost: localhost\r\n"
        . "Authorization: Bearer $req->{token}\r\n"
        . ($c->{keep} ? '' : "Connection: close\r\n") . "\r\n";
    $c->{state} = $c->{state} && $c->{state} eq 'connect' ? 'connect' : 'write';
    _write($c) if $c->{state} eq 'write';
    return 1;
}

sub _close { my ($c) = @_; close $c->{sock} if $c->{sock}; delete $c->{sock}; $c->{state} = '' }

# The connection failed before an answer: a keep-alive race is retried.
sub _failed {
    my ($c, $how) = @_;
    my $req = $c->{req};
    if ($c->{reused} && $c->{buf} eq '' && $req->{attempt} == 0) {
        $T->{errors}{keepalive_race}++;
        $T->{retries}++;
        unshift @RETRY, { %$req, attempt => 1 };
    } elsif ($c->{buf} ne '') {
        _note(partial => "$req->{class} $how after " . length($c->{buf}) . ' bytes');
    } else {
        _note(fresh_closed => "$req->{class} $how reused=$c->{reused} attempt=$req->{attempt}");
    }
    _drop($c);
}

sub _drop { my ($c) = @_; delete $c->{req}; _close($c) }

sub _write {
    my ($c) = @_;
    if ($c->{state} eq 'connect') {
        my $err = unpack('i', getsockopt($c->{sock}, SOL_SOCKET, SO_ERROR) // pack('i', 0));
        if ($err) {
            local $! = $err;
            _note(connect => "$!");
            return _drop($c);
        }
        $c->{state} = 'write';
    }
    my $n = syswrite($c->{sock}, $c->{out});
    if (!defined $n) {
        return if $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR || $! == EINPROGRESS;
        return _failed($c, "write: $!");
    }
    substr($c->{out}, 0, $n) = '';
    $c->{state} = 'read' if $c->{out} eq '';
}

sub _read {
    my ($c) = @_;
    my $n = sysread($c->{sock}, $c->{buf}, 65536, length $c->{buf});
    if (!defined $n) {
        return if $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR;
        return _failed($c, "read: $!");
    }
    return _failed($c, 'EOF') if $n == 0;
    my $end = index($c->{buf}, "\r\n\r\n");
    return if $end < 0;
    my $head = substr($c->{buf}, 0, $end);
    my ($status) = $head =~ m{^HTTP/1\.[01] (\d{3}) };
    my ($len) = $head =~ m{\r\ncontent-length:\s*(\d+)}i;
    if (!$status || !defined $len) {
        _note(bad_response => substr($head, 0, 80));
        return _drop($c);
    }
    return if length($c->{buf}) < $end + 4 + $len;
    my $req = delete $c->{req};
    my ($worker) = $head =~ m{\r\nx-worker:\s*(\d+)}i;
    my ($error) = $head =~ m{\r\nwww-authenticate:[^\r]*error_description="([^"]*)"}i;
    $T->{answered}++;
    $T->{classes}{ $req->{class} }{$status}++;
    $T->{workers}{ $worker // 'none' }{ $req->{class} }{$status}++;
    $T->{challenge}{ $req->{class} }{$error}++ if defined $error;
    my $close = !$c->{keep} || $head =~ m{\r\nconnection:\s*close}i;
    if ($close) {
        _close($c);
    } else {
        $c->{buf} = substr($c->{buf}, $end + 4 + $len);
        $c->{reused} = 1;
        $c->{state} = 'write';
    }
}

1;
