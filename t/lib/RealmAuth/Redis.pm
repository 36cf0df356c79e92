package RealmAuth::Redis;

# A private, throw-away redis-server for tests (no persistence, loopback,
# free port), and a minimal RESP client so tests need no Redis library.
#
#   my $redis = RealmAuth::Redis->start;      # dies if redis-server is missing
#   $redis->port;
#   my @keys = @{ $redis->cmd('KEYS', 'realm_auth:*') };
#   $redis->stop;                             # also done at exit

use strict;
use warnings;

use Carp qw(croak);
use File::Temp qw(tempdir);
use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(time sleep);

my %LIVE;

sub start {
    my ($class) = @_;
    my $bin = $ENV{REDIS_SERVER} || 'redis-server';
    my $dir = tempdir('realm-redis-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 1)
        or croak "no free port: $!";
    my $port = $s->sockport;
    close $s;
    my $pid = fork // croak "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>', "$dir/redis.out";
        open STDERR, '>&', \*STDOUT;
        { exec $bin, '--port', $port, '--bind', '127.0.0.1', '--save', '',
               '--appendonly', 'no', '--dir', $dir, '--daemonize', 'no' }
        POSIX::_exit(127);    # exec failed
    }
    my $self = bless { pid => $pid, port => $port, dir => $dir, owner => $$ }, $class;
    my $deadline = time + 10;
    while (time < $deadline) {
        my $pong = eval { $self->cmd('PING') };
        if (defined $pong && $pong eq 'PONG') {
            $LIVE{$pid} = $self;
            return $self;
        }
        croak "redis-server exited: " . `cat $dir/redis.out` if waitpid($pid, POSIX::WNOHANG()) > 0;
        sleep 0.05;
    }
    kill 'TERM', $pid;
    croak "redis-server did not answer on port $port";
}

sub port { $_[0]{port} }

# One command, one reply: status/int/bulk as a scalar, arrays as array refs,
# errors die.
sub cmd {
    my ($self, @args) = @_;
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $self->{port},
                                     Timeout => 2)
        or die "connect to redis: $!\n";
    print $sock '*' . @args . "\r\n" . join('', map { '$' . length($_) . "\r\n$_\r\n" } @args);
    my $reply = _read($sock);
    close $sock;
    return $reply;
}

sub _read {
    my ($sock) = @_;
    my $line = <$sock> // die "redis closed the connection\n";
    $line =~ s/\r\n\z//;
    my ($type, $rest) = (substr($line, 0, 1), substr($line, 1));
    return $rest if $type eq '+' || $type eq ':';
    die "redis error: $rest\n" if $type eq '-';
    if ($type eq '$') {
        return undef if $rest < 0;
        my $buf = '';
        read($sock, $buf, $rest + 2 - length($buf), length $buf) while length($buf) < $rest + 2;
        return substr($buf, 0, $rest);
    }
    if ($type eq '*') {
        return undef if $rest < 0;
        return [ map { _read($sock) } 1 .. $rest ];
    }
    die "unexpected redis reply: $line\n";
}

sub stop {
    my ($self) = @_;
    return unless $self->{pid} && $self->{owner} == $$;
    my $pid = delete $self->{pid};
    delete $LIVE{$pid};
    kill 'TERM', $pid;
    waitpid $pid, 0;
}

END { $_->stop for values %LIVE }

1;
