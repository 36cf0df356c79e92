package RealmAuth::Redis;

# A private, throw-away redis-server for tests (no persistence, loopback,
# free port), and a minimal RESP client so tests need no Redis library.
#
#   my $redis = RealmAuth::Redis->start;      # dies if redis-server is missing
#   $redis->port;
#   my @keys = @{ $redis->cmd('KEYS', 'realm_auth:*') };
#   $redis->stop;                             # also done at exit
#
# Every server has a fleet HMAC key ($redis->hmac_key_file) and writes
# values the way realm-sidecar and the module do (docs/REDIS_TRUST.md):
#   $redis->cmd('SET', $key, $redis->seal($key, 'active'));
#   $redis->directive(prefix => 'x:')        # auth_realm_redis ... for nginx
# With acl => 1 the server runs like the local stack: the default user is
# off, users nginx and sidecar may touch only their keys and commands
# (password files $redis->password_file('nginx')), cmd() logs in as admin.
#
# Sentinel (t/module/185-redis-sentinel.t):
#   my $replica = RealmAuth::Redis->start(replica_of => $redis);  # same fleet key
#   my $s = RealmAuth::Redis->start_sentinel(master => $redis, name => 'realm-auth');
#   $redis->sentinel_directive([$s1, $s2, $s3], 'realm-auth', prefix => 'x:')
#   $redis->crash;                            # SIGKILL

use strict;
use warnings;

use Carp qw(croak);
use File::Basename qw(dirname);
use File::Spec;
use Digest::SHA qw(hmac_sha256_hex sha256_hex);
use File::Temp qw(tempdir);
use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(time sleep);

my %LIVE;

sub _random_text { join '', map { ('a' .. 'z', 'A' .. 'Z', 0 .. 9)[rand 62] } 1 .. $_[0] }

sub _write {
    my ($path, $text) = @_;
    open my $fh, '>', $path or croak "cannot write $path: $!";
    print $fh $text;
    close $fh;
    chmod 0600, $path;
}

# The ACL of the local stack (scripts/stack/redis-acl.sh), for any prefix.
my $ACL_SCRIPT = File::Spec->catfile(dirname(__FILE__), '..', '..', '..', 'scripts', 'stack',
                                     'redis-acl.sh');

sub start {
    my ($class, %o) = @_;
    my $bin = $ENV{REDIS_SERVER} || 'redis-server';
    my $dir = tempdir('realm-redis-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my $port = $o{port};
    if (!$port) {
        my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 1)
            or croak "no free port: $!";
        $port = $s->sockport;
        close $s;
    }
    my $hmac = $o{hmac} // ($o{replica_of} ? $o{replica_of}{hmac} : _random_text(43));
    _write("$dir/hmac.key", "$hmac\n");
    my (%pw, @acl);
    my $from = $o{replica_of};
    $o{acl} = 1 if $from && %{ $from->{pw} };
    if ($o{acl}) {
        # a replica has its master's users (a failover must not change them)
        %pw = $from ? %{ $from->{pw} } : map { $_ => _random_text(32) } qw(admin nginx sidecar);
        _write("$dir/redis-$_.password", "$pw{$_}\n") for keys %pw;
        my $acl = `bash $ACL_SCRIPT $dir '*'`;
        croak "redis-acl.sh failed" if $? != 0;
        _write("$dir/users.acl", $acl);
        @acl = ('--aclfile', "$dir/users.acl");
    }
    my $pid = fork // croak "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>', "$dir/redis.out";
        open STDERR, '>&', \*STDOUT;
        my @replica = $from ? ('--replicaof', '127.0.0.1', $from->{port},
                               %pw ? ('--masteruser', 'admin', '--masterauth', $pw{admin}) : ())
                            : ();
        { exec $bin, '--port', $port, '--bind', '127.0.0.1', '--save', '',
               '--appendonly', 'no', '--dir', $dir, '--daemonize', 'no', @acl, @replica }
        POSIX::_exit(127);    # exec failed
    }
    my $self = bless { pid => $pid, port => $port, dir => $dir, owner => $$, hmac => $hmac,
                       pw => \%pw }, $class;
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
sub pid  { $_[0]{pid} }

# A redis-sentinel (Debian's redis-sentinel) watching `master` as `name`:
# quorum 2, down after `down_after` ms (1000), failover timeout 5 s.
# Its cmd() speaks to the sentinel.
sub start_sentinel {
    my ($class, %o) = @_;
    my $bin = $ENV{REDIS_SENTINEL} || 'redis-sentinel';
    my $dir = tempdir('realm-sentinel-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 1)
        or croak "no free port: $!";
    my $port = $s->sockport;
    close $s;
    my ($name, $m) = ($o{name}, $o{master});
    my $down = $o{down_after} // 1000;
    _write("$dir/sentinel.conf", join '', map { "$_\n" }
        "port $port", 'bind 127.0.0.1', 'daemonize no', "dir $dir",
        "sentinel monitor $name 127.0.0.1 $m->{port} 2",
        "sentinel down-after-milliseconds $name $down",
        "sentinel failover-timeout $name 5000",
        "sentinel parallel-syncs $name 1",
        ($m->{pw}{admin} ? ("sentinel auth-user $name admin",
                            "sentinel auth-pass $name $m->{pw}{admin}") : ()));
    my $pid = fork // croak "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>', "$dir/sentinel.out";
        open STDERR, '>&', \*STDOUT;
        { exec $bin, "$dir/sentinel.conf" }
        POSIX::_exit(127);
    }
    my $self = bless { pid => $pid, port => $port, dir => $dir, owner => $$, pw => {},
                       hmac => $m->{hmac} }, $class;
    my $deadline = time + 10;
    while (time < $deadline) {
        my $a = eval { $self->cmd('SENTINEL', 'get-master-addr-by-name', $name) };
        if (ref $a eq 'ARRAY') {
            $LIVE{$pid} = $self;
            return $self;
        }
        croak "redis-sentinel exited: " . `cat $dir/sentinel.out` if waitpid($pid, POSIX::WNOHANG()) > 0;
        sleep 0.05;
    }
    kill 'TERM', $pid;
    croak "redis-sentinel did not answer on port $port";
}

# The master's "host:port" as this sentinel names it now.
sub master_of {
    my ($self, $name) = @_;
    my $a = eval { $self->cmd('SENTINEL', 'get-master-addr-by-name', $name) };
    return ref $a eq 'ARRAY' ? "$a->[0]:$a->[1]" : undef;
}

# ROLE of this server: 'master', 'slave' (undef when it does not answer).
sub role {
    my ($self) = @_;
    my $r = eval { $self->cmd('ROLE') };
    return ref $r eq 'ARRAY' ? $r->[0] : undef;
}

# auth_realm_redis through sentinels for the master `name` (this server's
# fleet key and, with acl, the nginx user).
sub sentinel_directive {
    my ($self, $sentinels, $name, %o) = @_;
    my $list = join ',', map { "127.0.0.1:" . $_->port } @$sentinels;
    my $d = "auth_realm_redis sentinel=$list master=$name prefix=" . ($o{prefix} // 'realm_auth:')
          . ' timeout=' . ($o{timeout} // '500ms') . ' hmac_key_file=' . $self->hmac_key_file;
    $d .= " user=nginx password_file=" . $self->password_file('nginx') if %{ $self->{pw} };
    $d .= " $o{extra}" if $o{extra};
    return "$d;";
}

# SIGKILL: the server dies at once, connections are cut (a crash).
sub crash {
    my ($self) = @_;
    return unless $self->{pid} && $self->{owner} == $$;
    my $pid = delete $self->{pid};
    delete $LIVE{$pid};
    kill 'KILL', $pid;
    waitpid $pid, 0;
}

# A client of a server someone else runs (the local stack's, for e2e
# tests): port, pw => { user => password }, hmac => the fleet key.
sub attach {
    my ($class, %o) = @_;
    return bless { port => $o{port}, pw => $o{pw} // {}, hmac => $o{hmac}, owner => 0 }, $class;
}

# A fleet key file without a server (configs that name a Redis nobody runs).
sub scratch_key_file {
    my $dir = tempdir('realm-key-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    _write("$dir/hmac.key", _random_text(43) . "\n");
    return "$dir/hmac.key";
}

# What realm-sidecar publishes for a tenant (core/tenant_registry.h).
sub publish_tenant {
    my ($self, $prefix, $slug, $state, %o) = @_;
    my $key = "${prefix}tenant:$slug";
    return $self->cmd('SET', $key, $self->seal($key, $state, %o));
}
sub hmac_key      { $_[0]{hmac} }
sub hmac_key_file { "$_[0]{dir}/hmac.key" }
sub password_file { "$_[0]{dir}/redis-$_[1].password" }

# auth_realm_redis for nginx: this server, the fleet key, and with acl the
# nginx user. Extra words (timeout=1s) are appended.
sub directive {
    my ($self, %o) = @_;
    my $d = "auth_realm_redis 127.0.0.1:$self->{port} prefix=" . ($o{prefix} // 'realm_auth:')
          . ' timeout=' . ($o{timeout} // '500ms') . ' hmac_key_file=' . $self->hmac_key_file;
    $d .= " user=nginx password_file=" . $self->password_file('nginx') if %{ $self->{pw} };
    $d .= " $o{extra}" if $o{extra};
    return "$d;";
}

# The authenticated form of a value stored under the full key `key`
# (core/redis_seal.h): ra1.<kid>.<issued ms>.<expires ms>.<hmac>.<payload>.
# Options: issued, expires (ms since the epoch; expires 0 = none), secret.
sub seal {
    my ($self, $key, $payload, %o) = @_;
    my $secret = $o{secret} // $self->{hmac};
    my $kid = substr(sha256_hex($secret), 0, 8);
    my $issued = $o{issued} // int(time * 1000);
    my $expires = $o{expires} // 0;
    my $msg = join "\n", 'ra1', length($key), $key, $kid, $issued, $expires, $payload;
    return join '.', 'ra1', $kid, $issued, $expires, hmac_sha256_hex($msg, $secret), $payload;
}

# The payload of `value` stored under `key` if it is sealed with this
# fleet key (what the module would accept, expiry aside), else undef.
sub open_sealed {
    my ($self, $key, $value) = @_;
    return undef unless defined $value;
    my @f = split /\./, $value, 6;
    return undef unless @f == 6 && $f[0] eq 'ra1';
    my $again = $self->seal($key, $f[5], issued => $f[2], expires => $f[3]);
    return $again eq $value ? $f[5] : undef;
}

# The payload of a sealed value (no check: tests read what they wrote).
sub payload {
    my ($self, $value) = @_;
    return undef unless defined $value;
    my @f = split /\./, $value, 6;
    return @f == 6 && $f[0] eq 'ra1' ? $f[5] : undef;
}

# One command, one reply: status/int/bulk as a scalar, arrays as array refs,
# errors die.
sub cmd { my $self = shift; $self->cmd_as('admin', @_) }

# The same as another ACL user (acl => 1): what that user may not do dies.
sub cmd_as {
    my ($self, $user, @args) = @_;
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $self->{port},
                                     Timeout => 2)
        or die "connect to redis: $!\n";
    my $enc = sub { '*' . @_ . "\r\n" . join('', map { '$' . length($_) . "\r\n$_\r\n" } @_) };
    if (my $pw = $self->{pw}{$user}) {
        print $sock $enc->('AUTH', $user, $pw);
        _read($sock);
    }
    print $sock $enc->(@args);
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

# Kills the server and starts an empty one on the same port with the same
# fleet key: Redis lost its data (a restart without persistence).
sub restart {
    my ($self) = @_;
    $self->stop;
    my $fresh = ref($self)->start(port => $self->{port}, hmac => $self->{hmac});
    %$self = %$fresh;
    $fresh->{pid} = undef;    # $self owns the process now
    $LIVE{ $self->{pid} } = $self;
    return $self;
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
