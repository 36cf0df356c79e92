package Test::Nginx::Socket;

# A small stand-in for Test::Nginx::Socket (openresty/test-nginx), which
# Debian does not package. It runs the same test files: blocks are parsed
# by Test::Base exactly as the real runner does (filters such as `eval`
# included), and the subset of sections and functions our suites use
# behaves like the original:
#
#   use Test::Nginx::Socket 'no_plan';        # or tests => N
#   repeat_each(1); no_shuffle(); master_on(); workers(2);
#   log_level('info'); no_long_string(); env_to_nginx('FOO');
#   add_block_preprocessor(sub { my $block = shift; ... });
#   add_response_body_check(sub { my ($block, $body, $req_idx, $rep, $dry) = @_; ... });
#   run_tests();
#
# Sections: main_config http_config config request more_headers error_code
# error_code_like response_body response_body_like response_body_unlike
# response_headers response_headers_like raw_response_headers_like
# raw_response_headers_unlike error_log no_error_log access_log
# no_access_log wait timeout skip_nginx log_level.
# `request`, `more_headers`, `error_code`, `response_*` may be arrays (eval)
# for several requests against one nginx, as in the real runner.
#
# Each block gets a fresh nginx in the server root (t/servroot_<port>, so
# `prove -j` can run files side by side): the config is written, nginx is
# started, each request goes over a fresh TCP connection
# (HTTP/1.1, Host: localhost, Connection: close), the checks run as
# Test::More tests, then nginx is stopped with QUIT.
#
# Environment: TEST_NGINX_BINARY (default: nginx in PATH),
# TEST_NGINX_SERVER_PORT (default: a free port), TEST_NGINX_SERVROOT,
# TEST_NGINX_TIMEOUT (default 3 s), TEST_NGINX_LOG_LEVEL (default debug),
# TEST_NGINX_NO_SHUFFLE, TEST_NGINX_VERBOSE. Config sections may use
# $TEST_NGINX_<NAME>, replaced by the environment variable (a missing one
# stops the run, as in the real runner).

use v5.10.1;
use strict;
use warnings;

# -base (lower case): become a Test::Base subclass without Spiffy's source
# filter, so the subs below are plain Perl.
use Test::Base -base;

use Cwd qw(abs_path);
use File::Path qw(make_path remove_tree);
use HTTP::Response;
use IO::Select;
use IO::Socket::INET;
use List::Util qw(shuffle);
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);

our $VERSION = '0.01-mini';

our @EXPORT = qw(
    run_tests run_test repeat_each no_shuffle master_on master_off workers
    log_level no_long_string add_block_preprocessor add_response_body_check
    env_to_nginx timeout server_port server_root html_dir no_root_location
    worker_connections bail_out
);

our $NginxBinary = $ENV{TEST_NGINX_BINARY} || 'nginx';
our $Timeout     = $ENV{TEST_NGINX_TIMEOUT} || 3;
our $LogLevel    = $ENV{TEST_NGINX_LOG_LEVEL} || 'debug';
our $NoShuffle   = $ENV{TEST_NGINX_NO_SHUFFLE} || 0;
our $Verbose     = $ENV{TEST_NGINX_VERBOSE} || 0;
our $RepeatEach  = 1;
our $Workers     = 1;
our $MasterProcess = 'off';
our $WorkerConnections = 1024;
our $NoRootLocation = 0;
our $NoLongString = 0;
our (@BlockPreprocessors, @ResponseBodyChecks, @EnvToNginx);

sub free_port () {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Proto => 'tcp', Listen => 1, ReuseAddr => 1)
        or die "cannot find a free port: $!";
    my $port = $s->sockport;
    close $s;
    return $port;
}

our $ServerPort = $ENV{TEST_NGINX_SERVER_PORT} || free_port();
$ENV{TEST_NGINX_SERVER_PORT} = $ServerPort;

# t/servroot_<port> when run from the checkout root (prove -r t/...).
our $ServRoot = $ENV{TEST_NGINX_SERVROOT} || do {
    my $t = -d 't' ? abs_path('t') : abs_path('.');
    "$t/servroot_$ServerPort";
};
our $HtmlDir = "$ServRoot/html";
our $LogDir  = "$ServRoot/logs";
our $ErrLogFile = "$LogDir/error.log";
our $AccLogFile = "$LogDir/access.log";
our $PidFile = "$LogDir/nginx.pid";
$ENV{TEST_NGINX_SERVER_ROOT} = $ServRoot;
$ENV{TEST_NGINX_HTML_DIR} ||= $HtmlDir;

our $OwnerPid = $$;    # forked helpers must not stop our nginx at exit
our $ErrLogPos = 0;
our $AccLogPos = 0;
our $NginxPid;

# ------------------------------------------------------------ settings ---

sub repeat_each (@) { $RepeatEach = shift if @_; $RepeatEach }
sub no_shuffle ()   { $NoShuffle = 1 }
sub master_on ()    { $MasterProcess = 'on' }
sub master_off ()   { $MasterProcess = 'off' }
sub workers (@)     { $Workers = shift if @_; $Workers }
sub log_level (@)   { $LogLevel = shift if @_; $LogLevel }
sub no_long_string () { $NoLongString = 1 }
sub timeout (@)     { $Timeout = shift if @_; $Timeout }
sub server_port (@) { $ServerPort = shift if @_; $ServerPort }
sub server_root ()  { $ServRoot }
sub html_dir ()     { $HtmlDir }
sub no_root_location () { $NoRootLocation = 1 }
sub worker_connections (@) { $WorkerConnections = shift if @_; $WorkerConnections }
sub add_block_preprocessor (&) { unshift @BlockPreprocessors, shift }
sub add_response_body_check (&) { push @ResponseBodyChecks, shift }

sub env_to_nginx (@) {
    for my $v (@_) {
        Carp::croak("env_to_nginx: bad argument value: $v") if $v !~ /^[A-Za-z_]/ || $v =~ /\n/;
        push @EnvToNginx, $v;
    }
}

sub bail_out (@) {
    stop_nginx();
    Test::More::BAIL_OUT(@_);
}


# ------------------------------------------------------------- running ---

sub run_tests () {
    my @blocks = Test::Base::blocks();
    @blocks = shuffle @blocks unless $NoShuffle;
    for my $block (@blocks) {
        for my $pre (@BlockPreprocessors) {
            $pre->($block);
        }
        $block->set_value(name => "$0 " . $block->name);
        run_test($block);
    }
    stop_nginx();
}

sub expand_env ($$) {
    my ($text, $name) = @_;
    return $text unless defined $text;
    $text =~ s{\$(TEST_NGINX_[_A-Z0-9]+)}{
        defined $ENV{$1} ? $ENV{$1} : bail_out("$name - No environment $1 defined.\n")
    }ge;
    return $text;
}

sub parse_time ($) {
    my ($t) = @_;
    return undef unless defined $t;
    return $1 / 1000 if $t =~ /^\s*(\d+(?:\.\d*)?)\s*ms\s*$/;
    return $1 if $t =~ /^\s*(\d+(?:\.\d*)?)\s*s?\s*$/;
    return undef;
}

sub nginx_version () {
    my $out = `$NginxBinary -v 2>&1`;
    return $out =~ m{nginx/(\d+)\.(\d+)\.(\d+)} ? $1 * 1000000 + $2 * 1000 + $3 : undef;
}

# "--- skip_nginx: 3: < 1.21.0" skips 3 tests on older nginx.
sub skip_count ($) {
    my ($block) = @_;
    my $spec = $block->skip_nginx;
    return unless defined $spec;
    $spec =~ /^\s*(\d+)\s*:\s*([<>]=?)\s*(\d+)\.(\d+)\.(\d+)(?:\s*:\s*(.*))?\s*$/
        or bail_out($block->name . " - Invalid --- skip_nginx spec: $spec");
    my ($n, $op, $want) = ($1, $2, $3 * 1000000 + $4 * 1000 + $5);
    my $reason = $6 || "nginx version $op $3.$4.$5";
    my $have = nginx_version() // 0;
    my $skip = eval "$have $op $want";
    return $skip ? ($n, $reason) : ();
}

sub run_test ($) {
    my ($block) = @_;
    my $name = $block->name;
    return if defined $block->SKIP;

    if (my ($n, $reason) = skip_count($block)) {
        SKIP: { Test::More::skip("$name - $reason", $n) }
        return;
    }

    my $config = $block->config;
    bail_out("$name - No '--- config' section specified") unless defined $config;

    stop_nginx();
    setup_server_root();
    write_config($block);
    my $err = start_nginx();
    if (defined $err) {
        Test::More::fail("$name - nginx started");
        Test::More::diag($err);
        return;
    }

    for my $rep (0 .. $RepeatEach - 1) {
        run_requests($block, $rep);
    }
    stop_nginx();
}

sub setup_server_root () {
    remove_tree("$ServRoot/conf", $LogDir, $HtmlDir, glob("$ServRoot/*_temp"));
    make_path("$ServRoot/conf", $LogDir, $HtmlDir);
    $ErrLogPos = $AccLogPos = 0;
}

sub write_config ($) {
    my ($block) = @_;
    my $name = $block->name;
    my $main_config = expand_env($block->main_config // '', $name);
    my $http_config = expand_env($block->http_config // '', $name);
    my $config      = expand_env($block->config // '', $name);
    my $level = $block->log_level // $LogLevel;
    my $env = join '', map { "env $_;\n" } @EnvToNginx;
    my $root_location = $NoRootLocation ? '' : <<"_EOC_";
        location / {
            root $HtmlDir;
            index index.html index.htm;
        }
_EOC_
    my $temp = join ' ', map { "${_}_temp_path $ServRoot/${_}_temp;" }
        qw(client_body proxy fastcgi scgi uwsgi);

    open my $out, '>', "$ServRoot/conf/nginx.conf" or bail_out("cannot write nginx.conf: $!");
    print $out <<"_EOC_";
worker_processes  $Workers;
daemon on;
master_process $MasterProcess;
error_log $ErrLogFile $level;
pid       $PidFile;
$env
$main_config

http {
    access_log $AccLogFile;
    $temp

    default_type text/plain;
    keepalive_timeout  68000ms;

$http_config

    server {
        listen          127.0.0.1:$ServerPort;
        server_name     'localhost';
        client_max_body_size 30M;

        # Begin test case config...
$config
        # End test case config.

$root_location
    }
}

events {
    accept_mutex off;
    worker_connections  $WorkerConnections;
}
_EOC_
    close $out;
}

# Returns undef on success, or a text explaining why nginx did not start.
sub start_nginx () {
    my $cmd = "$NginxBinary -p $ServRoot/ -c $ServRoot/conf/nginx.conf";
    my $out = `$cmd 2>&1`;
    if ($? != 0) {
        return "nginx failed to start ($cmd):\n$out";
    }
    # wait for the pid file and for the port to answer
    my $deadline = time + 10;
    while (time < $deadline) {
        if (!$NginxPid && open my $fh, '<', $PidFile) {
            my $pid = <$fh>;
            $NginxPid = $1 if defined $pid && $pid =~ /(\d+)/;
        }
        if ($NginxPid) {
            my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $ServerPort,
                                          Proto => 'tcp', Timeout => 1);
            if ($s) { close $s; return undef }
        }
        sleep 0.01;
    }
    my $log = slurp($ErrLogFile) // '';
    return "nginx did not answer on port $ServerPort:\n$out$log";
}

sub process_gone ($) {
    my ($pid) = @_;
    return 1 unless kill 0, $pid;
    # nginx daemonized away from us: if no one reaps it, it stays a zombie
    my $stat = slurp("/proc/$pid/stat") // '';
    return $stat =~ /^\d+ \(.*?\) Z/ ? 1 : 0;
}

sub stop_nginx () {
    return unless $NginxPid;
    my $pid = $NginxPid;
    undef $NginxPid;
    kill 'QUIT', $pid;
    my $deadline = time + 5;
    while (time < $deadline) {
        return if process_gone($pid);
        sleep 0.02;
    }
    warn "WARNING: nginx $pid did not quit in 5 s, killing it\n";
    kill 'KILL', $pid;
    # workers are killed by the kernel once the master is gone only with
    # master off; with master on, take them down too
    if (open my $ps, '-|', 'ps', '-o', 'pid=', '--ppid', $pid) {
        kill 'KILL', map { /(\d+)/ ? $1 : () } <$ps>;
    }
}

sub slurp ($) {
    my ($file) = @_;
    open my $fh, '<', $file or return undef;
    local $/;
    return scalar <$fh>;
}

# ------------------------------------------------------------ requests ---

# The request list of a block: [[raw request text, ...]]; a string request
# is one request, an array of strings is several requests in a row.
sub requests_of ($) {
    my ($block) = @_;
    my $request = $block->request;
    bail_out($block->name . " - request empty") unless defined $request;
    my $more = $block->more_headers // '';
    my @reqs = ref $request eq 'ARRAY' ? @$request : ($request);
    my @out;
    for my $i (0 .. $#reqs) {
        my $hdr = ref $more eq 'ARRAY' ? $more->[$i] : $more;
        bail_out($block->name . " - --- more_headers lacks data for the ${i}th request")
            unless defined $hdr;
        push @out, build_request($block->name, $reqs[$i], $hdr);
    }
    return @out;
}

sub build_request ($$$) {
    my ($name, $req, $more) = @_;
    $req =~ s/^\s*(?:#[^\n]*\n\s*)*//;
    my ($first, $body) = split /\n/, $req, 2;
    my ($meth, $url, $ver) = split ' ', $first // '';
    bail_out("$name - Request line should be non-empty") unless defined $meth;
    $url //= '/';
    $ver //= 'HTTP/1.1';

    my $headers = '';
    for my $line (split /\n+/, $more) {
        next if $line =~ /^\s*#/;
        my ($k, $v) = split /:\s*/, $line, 2;
        $headers .= "$k: " . ($v // '') . "\r\n";
    }
    $headers = "Host: localhost\r\n$headers" if $headers !~ /(?:^|\n)Host:/i;
    $headers = "Connection: close\r\n$headers" if $headers !~ /(?:^|\n)Connection/i;
    if (defined $body && $body =~ /\S/) {
        $body =~ s/^\s+|\s+$//g;
        $headers .= "Content-Length: " . length($body) . "\r\n"
            unless $headers =~ /(?:^|\n)Content-Length:/i;
    } else {
        $body = '';
    }
    return "$meth $url $ver\r\n$headers\r\n$body";
}

# Sends one raw request on a new connection, reads until the server closes.
# Returns (raw response, error text).
sub send_request ($$) {
    my ($raw, $timeout) = @_;
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $ServerPort,
                                     Proto => 'tcp', Timeout => $timeout)
        or return ('', "cannot connect to 127.0.0.1:$ServerPort: $!");
    $sock->autoflush(1);
    print $sock $raw;
    my $sel = IO::Select->new($sock);
    my $resp = '';
    my $deadline = time + $timeout;
    while (1) {
        my $left = $deadline - time;
        return ($resp, "timeout after $timeout s") if $left <= 0;
        next unless $sel->can_read($left);
        my $n = sysread $sock, my $buf, 65536;
        return ($resp, "read error: $!") unless defined $n;
        last if $n == 0;
        $resp .= $buf;
    }
    close $sock;
    return ($resp, undef);
}

# Returns (HTTP::Response or undef, raw header text).
sub parse_response ($) {
    my ($raw) = @_;
    return (undef, '') unless length $raw;
    my ($head, $body) = split /\r\n\r\n/, $raw, 2;
    $body //= '';
    my $res = HTTP::Response->parse("$head\r\n\r\n");
    # HTTP::Response->parse keeps the HTTP version in ->protocol
    if (lc($res->header('Transfer-Encoding') // '') eq 'chunked') {
        my $decoded = '';
        while ($body =~ s/\A([0-9a-fA-F]+)[^\r\n]*\r\n//) {
            my $len = hex $1;
            last if $len == 0;
            $decoded .= substr($body, 0, $len, '');
            $body =~ s/\A\r\n//;
        }
        $body = $decoded;
    }
    $res->content($body);
    return ($res, "$head\r\n");
}

# For multi-request blocks each expected value must be an array indexed by
# request (the real runner bails out otherwise, so we do too).
our $CurrentBlockName = '';
sub indexed ($$$) {
    my ($value, $i, $multi) = @_;
    return $value if !defined $value;
    if ($multi && ref $value ne 'ARRAY') {
        bail_out("$CurrentBlockName - You asked for many requests, the expected results should be arrays as well.");
    }
    return $value unless ref $value eq 'ARRAY';
    return $value->[$multi ? $i : 0];
}

sub run_requests ($$) {
    my ($block, $rep) = @_;
    my $name = $block->name;
    my $timeout = parse_time($block->timeout) // $Timeout;
    my @reqs = requests_of($block);
    my $multi = @reqs > 1;
    $CurrentBlockName = $name;

    for my $i (0 .. $#reqs) {
        warn "# request: $reqs[$i]\n" if $Verbose;
        my ($raw, $err) = send_request($reqs[$i], $timeout);
        warn "# response: $raw\n" if $Verbose;
        Test::More::diag("$name - $err (req $i)") if $err;
        my ($res, $raw_headers) = parse_response($raw);
        check_response($block, $res, $raw_headers, $i, $multi, $rep);
        if ($i < $#reqs) {    # as the real runner: logs after each request
            sleep $block->wait if $block->wait;
            check_logs($block, $rep);
        }
    }
    sleep $block->wait if $block->wait;
    check_logs($block, $rep);
}

sub check_response ($$$$$$) {
    my ($block, $res, $raw_headers, $i, $multi, $rep) = @_;
    my $name = $block->name;
    my $code = $res ? $res->code : '';

    if (defined $block->error_code_like) {
        my $pat = indexed($block->error_code_like, $i, $multi);
        Test::More::like($code, qr/$pat/sm, "$name - status code ok");
    } else {
        my $want = defined $block->error_code ? indexed($block->error_code, $i, $multi) : 200;
        Test::More::is($code, $want, "$name - status code ok");
    }

    if (defined(my $pat = indexed($block->raw_response_headers_like, $i, $multi))) {
        Test::More::like($raw_headers, qr/$pat/s, "$name - raw resp headers like");
    }
    if (defined(my $pat = indexed($block->raw_response_headers_unlike, $i, $multi))) {
        Test::More::unlike($raw_headers, qr/$pat/s, "$name - raw resp headers unlike");
    }

    if (defined(my $spec = indexed($block->response_headers, $i, $multi))) {
        my $want = parse_headers($spec);
        for my $key (sort keys %$want) {
            my $val = $want->{$key};
            if (!defined $val) {
                Test::More::unlike($raw_headers, qr/^\s*\Q$key\E\s*:/ms,
                    "$name - header $key not present in the raw headers");
                next;
            }
            $val =~ s/\$ServerPort\b/$ServerPort/g;
            my $got = $res ? $res->header($key) : undef;
            Test::More::is($got // '', $val, "$name - header $key ok");
        }
    } elsif (defined(my $spec2 = indexed($block->response_headers_like, $i, $multi))) {
        my $want = parse_headers($spec2);
        for my $key (sort keys %$want) {
            my $got = $res ? $res->header($key) : undef;
            Test::More::like($got // '', qr/^$want->{$key}$/, "$name - header $key like ok");
        }
    }

    my $content = $res ? $res->content : undef;
    if (defined $block->response_body) {
        my $want = indexed($block->response_body, $i, $multi);
        if (defined $want && !ref $want) {
            $want =~ s/\$ServerPort\b/$ServerPort/g;
            $want = expand_env($want, $name);
        }
        my $desc = "$name - response_body - response is expected (repeated req $rep, req $i)";
        if (ref $want) { Test::More::like($content, $want, $desc) }
        else           { Test::More::is($content, $want, $desc) }
    } elsif (defined $block->response_body_like || defined $block->response_body_unlike) {
        my $like = defined $block->response_body_like;
        my $pat = indexed($like ? $block->response_body_like : $block->response_body_unlike,
                          $i, $multi);
        $pat =~ s/\$ServerPort\b/$ServerPort/g unless ref $pat;
        my $summary = $content // '';
        $summary =~ s/^\s+|\s+$//g;
        my $type = $like ? 'like' : 'unlike';
        my $desc = "$name - response_body_$type - response is expected ($summary)";
        if ($like) { Test::More::like($content, qr/$pat/s, $desc) }
        else       { Test::More::unlike($content, qr/$pat/s, $desc) }
    }

    for my $check (@ResponseBodyChecks) {
        $check->($block, $content, $i, $rep, 0);
    }
}

sub parse_headers ($) {
    my ($s) = @_;
    my %h;
    for my $line (split /\n/, $s) {
        $line =~ s/^\s+|\s+$//g;
        next unless length $line;
        if ($line =~ s/^!\s*//) { $h{$line} = undef; next }
        my ($k, $v) = split /\s*:\s*/, $line, 2;
        $h{$k} = $v;
    }
    return \%h;
}

# ----------------------------------------------------------------- logs ---

# New lines of a log since the last read (the real runner does the same).
sub log_lines ($$) {
    my ($file, $pos_ref) = @_;
    sleep 0.045;    # let log-phase writes land after the connection closed
    open my $in, '<', $file or return [];
    seek $in, $$pos_ref, 0;
    my @lines = <$in>;
    $$pos_ref = tell $in;
    close $in;
    return \@lines;
}

sub patterns ($) {
    my ($pats) = @_;
    return [] unless defined $pats;
    return [$pats] if ref $pats eq 'Regexp';
    return [@$pats] if ref $pats eq 'ARRAY';
    chomp $pats;
    return [grep { length } split /\n+/, $pats];
}

sub line_matches ($$) {
    my ($line, $pat) = @_;
    return ref $pat ? $line =~ $pat : index($line, $pat) >= 0;
}

sub fmt ($) { my $s = shift; chomp $s; $s =~ s/"/\\"/g; $s =~ s/\r/\\r/g; $s =~ s/\n/\\n/g; $s }

sub check_log_patterns ($$$$$) {
    my ($name, $lines, $must, $must_not, $label) = @_;
    for my $pat (@{ patterns($must) }) {
        my $hit = grep { line_matches($_, $pat) } @$lines;
        if ($hit) {
            Test::More::pass("$name - pattern \"$pat\" matches a line in $label");
        } else {
            Test::More::fail("$name - pattern \"$pat\" should match a line in $label");
            Test::More::diag("$label lines of this request:\n" . join('', map {"  $_"} @$lines))
                if $Verbose || @$lines <= 40;
        }
    }
    for my $pat (@{ patterns($must_not) }) {
        my ($hit) = grep { line_matches($_, $pat) } @$lines;
        if (defined $hit) {
            Test::More::fail("$name - pattern \"" . fmt($pat)
                . "\" should not match any line in $label but matches line \"" . fmt($hit) . "\"");
        } else {
            Test::More::pass("$name - pattern \"" . fmt($pat) . "\" does not match a line in $label");
        }
    }
}

sub check_logs ($$) {
    my ($block, $rep) = @_;
    my $name = $block->name;
    my $lines = log_lines($ErrLogFile, \$ErrLogPos);
    check_log_patterns($name, $lines, $block->error_log, $block->no_error_log, 'error.log');

    # like the real runner: alert/crit/emerg lines are worth a warning
    # (a crashed worker shows up here), unless the block expects them
    my $expected = join ' ', map { ref $_ ? "$_" : $_ }
        @{ patterns($block->error_log) }, @{ patterns($block->no_error_log) };
    for my $level (qw(alert crit emerg)) {
        next if $expected =~ /\[\Q$level\E/;
        warn "WARNING: $name - " . fmt($_) . "\n" for grep { /\[$level\]/ } @$lines;
    }

    if (defined $block->access_log || defined $block->no_access_log) {
        my $acc = log_lines($AccLogFile, \$AccLogPos);
        check_log_patterns($name, $acc, $block->access_log, $block->no_access_log, 'access.log');
    }
}

END {
    if ($$ == $OwnerPid) {
        stop_nginx();
        # per-run server roots would pile up: keep one only when it can
        # help (a failure, or TEST_NGINX_NO_CLEAN)
        remove_tree($ServRoot)
            if !$ENV{TEST_NGINX_NO_CLEAN} && !$ENV{TEST_NGINX_SERVROOT}
               && Test::More->builder->is_passing;
    }
}

1;
