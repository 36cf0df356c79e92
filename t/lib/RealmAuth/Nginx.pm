package RealmAuth::Nginx;

# Standalone nginx instances for the plain-Perl suites (several instances,
# concurrency, config checks), outside the block runner:
#
#   my $ngx = RealmAuth::Nginx->start(
#       http    => 'auth_realm_zone realm_auth:10m;',
#       server  => 'location /api/ { ... }',
#       workers => 2, master => 1,
#       listen  => 'http2',    # optional parameters of the listen directive
#   );
#   my $r = $ngx->get('/api/x', Authorization => "Bearer $tok");
#   my @r = $ngx->concurrent([ map { ['/api/x', Authorization => ...] } 1..50 ]);
#   $ngx->stop;
#
# Each instance lives in its own prefix t/servroot-ngx-<port> on a free port
# (removed again on stop unless TEST_NGINX_NO_CLEAN is set). The config
# texts may use $TEST_NGINX_SERVER_PORT (this instance's port) and any other
# $TEST_NGINX_* environment variable, as in block suites. The module is
# loaded unless module => 0.

use strict;
use warnings;

use Carp qw(croak);
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Path qw(make_path remove_tree);
use HTTP::Tiny;
use IO::Socket::INET;
use JSON::PP ();
use POSIX ();
use Time::HiRes qw(time sleep);

# An absolute path: a binary upgrade (USR2) makes the master exec its own
# argv[0], and execve() does not search PATH.
my $NGINX = _absolute($ENV{TEST_NGINX_BINARY} || 'nginx');
my $T_DIR = abs_path(dirname(__FILE__) . '/../..');    # t/
my %LIVE;    # port => instance, stopped at exit

sub _absolute {
    my ($bin) = @_;
    return abs_path($bin) if $bin =~ m{/};
    for my $dir (split(/:/, $ENV{PATH} // ''), '/usr/sbin') {
        return "$dir/$bin" if $dir =~ m{^/} && -x "$dir/$bin";
    }
    return $bin;
}

sub free_port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Proto => 'tcp', Listen => 1, ReuseAddr => 1)
        or croak "no free port: $!";
    my $p = $s->sockport;
    close $s;
    return $p;
}

sub module_path {
    return $ENV{TEST_NGINX_REALM_AUTH_MODULE}
        ||= abs_path("$T_DIR/..") . '/build/modules/ngx_http_realm_auth_module.so';
}

# Plain suites call this first: without the module there is nothing to test.
sub require_module {
    my $so = module_path();
    return if -f $so;
    require Test::More;
    Test::More::BAIL_OUT("realm-auth module not found at $so: run `make build` "
        . "or set TEST_NGINX_REALM_AUTH_MODULE");
}

sub _expand {
    my ($text, $port) = @_;
    $text =~ s{\$TEST_NGINX_SERVER_PORT\b}{$port}g;
    $text =~ s{\$(TEST_NGINX_[_A-Z0-9]+)}{
        defined $ENV{$1} ? $ENV{$1} : croak "no environment $1 defined"
    }ge;
    return $text;
}

# The whole nginx.conf for these options (also used by config_test).
sub _conf {
    my (%o) = @_;
    my $p = $o{prefix};
    my $level = $o{log_level} // 'info';
    my $load = ($o{module} // 1) ? 'load_module ' . module_path() . ";\n" : '';
    my $workers = $o{workers} // 1;
    my $master = $o{master} ? 'on' : 'off';
    my $temp = join ' ', map { "${_}_temp_path $p/${_}_temp;" } qw(client_body proxy fastcgi scgi uwsgi);
    my $conf = <<"_EOC_";
worker_processes $workers;
daemon on;
master_process $master;
error_log $p/logs/error.log $level;
pid $p/logs/nginx.pid;
$load
@{[ $o{main} // '' ]}

events {
    accept_mutex off;
    worker_connections 1024;
}

http {
    access_log $p/logs/access.log;
    $temp
    default_type text/plain;

@{[ $o{http} // '' ]}

    server {
        listen 127.0.0.1:$o{port}@{[ $o{listen} ? " $o{listen}" : '' ]};
        server_name localhost;

@{[ $o{server} // '' ]}
    }
}
_EOC_
    return _expand($conf, $o{port});
}

sub _prepare {
    my ($class, %o) = @_;
    $o{port} //= free_port();
    $o{prefix} //= "$T_DIR/servroot-ngx-$o{port}";
    remove_tree($o{prefix});
    make_path("$o{prefix}/conf", "$o{prefix}/logs");
    my $self = bless { %o }, $class;
    $self->{conf_text} = _conf(%o);
    open my $fh, '>', "$o{prefix}/conf/nginx.conf" or croak "write conf: $!";
    print $fh $self->{conf_text};
    close $fh;
    return $self;
}

sub _cmd { my $s = shift; "$NGINX -p $s->{prefix}/ -c $s->{prefix}/conf/nginx.conf" }

# nginx -t on a config. Returns (exit ok?, nginx's output).
sub config_test {
    my ($class, %o) = @_;
    my $self = $class->_prepare(%o);
    my $out = `@{[ $self->_cmd ]} -t 2>&1`;
    my $ok = $? == 0;
    remove_tree($self->{prefix}) unless $ENV{TEST_NGINX_NO_CLEAN};
    return ($ok, $out);
}

sub start {
    my ($class, %o) = @_;
    my $self = $class->_prepare(%o);
    my $out = `@{[ $self->_cmd ]} 2>&1`;
    croak "nginx failed to start:\n$out" if $? != 0;
    my $deadline = time + 10;
    while (time < $deadline) {
        if (!$self->{pid} && open my $fh, '<', "$self->{prefix}/logs/nginx.pid") {
            ($self->{pid}) = (<$fh> // '') =~ /(\d+)/;
        }
        if ($self->{pid} && IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                                 PeerPort => $self->{port}, Timeout => 1)) {
            $LIVE{ $self->{port} } = $self;
            $self->{owner} = $$;
            return $self;
        }
        sleep 0.02;
    }
    croak "nginx did not answer on port $self->{port}:\n" . $self->error_log;
}

# Runs the nginx binary on this instance's prefix and configuration with
# more arguments (`$ngx->cli('-s', 'reload')`). Returns (exit ok?, output).
sub cli {
    my ($self, @args) = @_;
    my $out = `@{[ $self->_cmd ]} @args 2>&1`;
    return ($? == 0, $out);
}

# The master's pid as its pid file says now (a binary upgrade changes it).
sub pid_file_pid {
    my ($self, $suffix) = @_;
    open my $fh, '<', "$self->{prefix}/logs/nginx.pid" . ($suffix // '') or return undef;
    my ($pid) = (<$fh> // '') =~ /(\d+)/;
    return $pid;
}

# The pid stop() signals: after a binary upgrade, the new master's.
sub master_pid { $_[0]{pid} }
sub adopt_master { $_[0]{pid} = $_[1] }

# Live child processes of `pid` (a master's workers), from /proc.
sub children {
    my ($pid) = @_;
    my @kids;
    for my $stat (glob '/proc/[0-9]*/stat') {
        open my $fh, '<', $stat or next;
        my ($kid, $state, $ppid) = (<$fh> // '') =~ /^(\d+) \(.*\) (\S) (\d+) /s or next;
        push @kids, $kid if $ppid == $pid && $state ne 'Z';
    }
    @kids = sort { $a <=> $b } @kids;
    return @kids;    # a count in scalar context
}

sub alive { !_gone($_[0]) }

sub port   { $_[0]{port} }
sub prefix { $_[0]{prefix} }
sub url    { "http://127.0.0.1:$_[0]{port}$_[1]" }

sub error_log {
    my ($self) = @_;
    open my $fh, '<', "$self->{prefix}/logs/error.log" or return '';
    local $/;
    return <$fh>;
}

sub _gone {
    my ($pid) = @_;
    return 1 unless kill 0, $pid;
    open my $fh, '<', "/proc/$pid/stat" or return 1;
    return ((<$fh> // '') =~ /^\d+ \(.*?\) Z/) ? 1 : 0;    # unreaped zombie
}

sub stop {
    my ($self) = @_;
    return unless $self->{pid} && $self->{owner} == $$;
    my $pid = delete $self->{pid};
    delete $LIVE{ $self->{port} };
    kill 'QUIT', $pid;
    my $deadline = time + 5;
    sleep 0.02 while !_gone($pid) && time < $deadline;
    kill 'KILL', $pid unless _gone($pid);
    remove_tree($self->{prefix}) unless $ENV{TEST_NGINX_NO_CLEAN} || $self->{keep};
}

END { $_->stop for values %LIVE }

# One GET. Headers as a list of name => value. Returns
# { status, body, headers (lower-case names), start, end, elapsed }.
sub get {
    my ($self, $path, @headers) = @_;
    my $ua = HTTP::Tiny->new(timeout => $self->{timeout} // 15, keep_alive => 0);
    my $t0 = time;
    my $r = $ua->get($self->url($path), { headers => { @headers } });
    my $t1 = time;
    return { status => $r->{status}, body => $r->{content}, headers => $r->{headers},
             start => $t0, end => $t1, elapsed => $t1 - $t0 };
}

# GET the auth_realm_status location and decode it.
sub status {
    my ($self, $path) = @_;
    my $r = $self->get($path // '/realm-auth/status');
    my $doc = eval { JSON::PP->new->decode($r->{body} // '') };
    return $doc // { _error => "status $r->{status}: " . ($r->{body} // '') };
}

# Starts a GET in a child process; collect it with ->wait_all.
# `at` (epoch seconds) delays the request until then, so many children can
# fire at once.
sub async {
    my ($self, $path, @headers) = @_;
    my %opt;
    %opt = %{ shift @headers } if ref $headers[0] eq 'HASH';
    pipe my $rd, my $wr or croak "pipe: $!";
    my $pid = fork // croak "fork: $!";
    if ($pid == 0) {
        close $rd;
        if ($opt{at}) { my $d = $opt{at} - time; sleep $d if $d > 0 }
        my $r = $self->get($path, @headers);
        print $wr JSON::PP->new->encode($r);
        close $wr;
        POSIX::_exit(0);    # no END blocks in the child: they belong to the parent
    }
    close $wr;
    return { pid => $pid, fh => $rd };
}

sub wait_all {
    my ($self, @handles) = @_;
    my @out;
    for my $h (@handles) {
        my $fh = $h->{fh};
        local $/;
        my $json = <$fh>;
        close $fh;
        waitpid $h->{pid}, 0;
        push @out, eval { JSON::PP->new->decode($json) } // { status => 'child failed' };
    }
    return @out;
}

# Fires every request at the same moment (0.3 s from now) and waits for all.
# Each request is [path, header => value, ...].
sub concurrent {
    my ($self, $reqs) = @_;
    my $at = time + 0.3;
    my @h = map { my ($p, @hd) = @$_; $self->async($p, { at => $at }, @hd) } @$reqs;
    return $self->wait_all(@h);
}

1;
