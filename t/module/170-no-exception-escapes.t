# No C++ exception crosses into nginx. nginx runs with the test-only
# allocation-failure library preloaded (build/test-support/
# librealm_auth_alloc_fail.so, core/tests/alloc_fail.h): writing N to the arm
# file makes the worker's (N+1)-th operator new from then on throw
# std::bad_alloc, once. Without the module's guards that exception reaches
# std::terminate and the worker dies on SIGABRT with every request it holds;
# with them the request gets a clean 500 (or 401 when the failure hit the
# key fetch) and the same worker keeps serving. The sweep moves the failure
# over every allocation of a cold request (token parse, zone, JWKS fetch in
# the thread pool, verification, cache, identity headers, variables).
use strict;
use warnings;
use Test::More;
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Temp qw(tempdir);
use IO::Select;
use IO::Socket::INET;
use JSON::PP ();

use RealmAuth::Issuer qw(:all);
use RealmAuth::Nginx;
use RealmAuth::Redis;

RealmAuth::Nginx::require_module();
plan skip_all => 'the sanitizer runtime owns operator new here: injection runs in make test-module'
    if $ENV{REALM_AUTH_SANITIZER_PRELOAD};

my $shim = $ENV{TEST_REALM_AUTH_ALLOC_FAIL}
    // abs_path(dirname(RealmAuth::Nginx::module_path()) . '/..') . '/test-support/librealm_auth_alloc_fail.so';
BAIL_OUT("allocation-failure library not found at $shim: run `make build`") unless -f $shim;

# Workers run as another user when nginx starts as root: they must be able
# to take (rename) the arm file.
my $dir = tempdir('realm-auth-oom-XXXXXX', TMPDIR => 1, CLEANUP => 1);
chmod 0777, $dir;
my $arm = "$dir/arm";

sub arm {
    my ($skip) = @_;
    open my $fh, '>', "$arm.tmp" or die "arm: $!";
    print $fh "$skip\n";
    close $fh;
    chmod 0666, "$arm.tmp";
    rename "$arm.tmp", $arm or die "arm: $!";
}
sub fired { my @l = -f "$arm.fired" ? do { open my $f, '<', "$arm.fired"; <$f> } : (); scalar @l }

start_issuer();
ensure_realm($_, algs => ['ES256']) for qw(tenant-ctl tenant-oom);

my $LOCATIONS = q{
        location /api/ {
            auth_realm on;
            auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
            auth_realm_identity_headers on;
            auth_realm_fetch_timeout 2s;
            add_header X-Worker-Pid $pid always;
            add_header X-Auth-Error $realm_auth_error always;
            add_header X-User $jwt_claim_preferred_username always;
            add_header X-Tenant $realm_tenant_id always;
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
        location = /realm-auth/status {
            auth_realm_status;
            add_header X-Worker-Pid $pid always;
        }
};

my $ngx;
{
    local $ENV{LD_PRELOAD} = $shim;
    local $ENV{REALM_AUTH_ALLOC_FAIL_FILE} = $arm;
    $ngx = RealmAuth::Nginx->start(master => 1, workers => 1,
        http => 'auth_realm_zone realm_auth:1m;', server => $LOCATIONS);
}

# One HTTP/1.0 request on its own connection. Not HTTP::Tiny: it retries a
# GET whose connection broke, which would hide a worker that died on it.
# A reset or empty answer is status 0.
sub raw_get {
    my ($path, @headers) = @_;
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $ngx->port, Timeout => 6)
        or return { status => 0, headers => {}, body => "connect: $!" };
    my $req = "GET $path HTTP/1.0\r\nHost: localhost\r\n";
    while (my ($k, $v) = splice @headers, 0, 2) { $req .= "$k: $v\r\n" }
    print $sock "$req\r\n";
    my $raw = '';
    my $sel = IO::Select->new($sock);
    while ($sel->can_read(6)) {
        my $got = sysread $sock, my $buf, 65536;
        last unless $got;
        $raw .= $buf;
    }
    close $sock;
    my ($head, $body) = split /\r\n\r\n/, $raw, 2;
    my ($status) = ($head // '') =~ m{^HTTP/1\.\d (\d{3})};
    my %h;
    for (split /\r\n/, $head // '') { $h{ lc $1 } = $2 if /^([^:]+):\s*(.*)$/ }
    return { status => $status // 0, headers => \%h, body => $body // '' };
}

sub call {
    my ($realm, %o) = @_;
    my $tok = $o{token} // token(realm => $realm, alg => 'ES256', username => $o{user} // 'alice');
    return raw_get('/api/x', Authorization => "Bearer $tok");
}
sub pid_of { $_[0]{headers}{'x-worker-pid'} // 'none' }
sub outcome { my $r = shift; "$r->{status} " . ($r->{headers}{'x-auth-error'} // '') }

my $ctl = token(realm => 'tenant-ctl', alg => 'ES256', username => 'ctl');
my $r = call(undef, token => $ctl);
is($r->{status}, 200, 'control token verifies') or diag explain $r;
my $worker = pid_of($r);
like($worker, qr/^\d+$/, "worker pid $worker");

# --- one bad_alloc on the first allocation of a cold request --------------
my $oom_token = token(realm => 'tenant-oom', alg => 'ES256', username => 'bob');
arm(0);
$r = call(undef, token => $oom_token);
is(fired(), 1, 'one bad_alloc injected');
is($r->{status}, 500, 'the request gets a clean 500') or diag outcome($r), "\n", $r->{body};
is(pid_of($r), $worker, 'answered by the same worker');
is($r->{headers}{'x-auth-error'}, 'internal_error', '$realm_auth_error says internal_error');
ok(!defined $r->{headers}{'x-tenant'}, 'no identity variable on the failed request');

$r = call(undef, token => $oom_token);
is($r->{status}, 200, 'the same token verifies on the next request');
is(pid_of($r), $worker, 'same worker still serving');
is($r->{headers}{'x-user'}, 'bob', 'its variables work');

# --- the status handler ------------------------------------------------------
arm(0);
my $s = raw_get('/realm-auth/status');
is($s->{status}, 500, 'status handler: clean 500 on bad_alloc');
is(pid_of($s), $worker, 'same worker');
$s = raw_get('/realm-auth/status');
is($s->{status}, 200, 'status answers again');
my $json = eval { JSON::PP->new->decode($s->{body}) } // {};
cmp_ok($json->{refused}{internal_error} // 0, '>=', 1, 'internal_error counted in auth_realm_status');

# --- the sweep ---------------------------------------------------------------
# Request n fails its (n+1)-th allocation, each with a realm nginx has not
# seen, until a request needs fewer allocations than that.
my (%seen, @bad, $n);
my $before = fired();
for ($n = 0; $n < 2000; $n++) {
    my $realm = sprintf 'tenant-sw%04d', $n;
    ensure_realm($realm, algs => ['ES256']);
    arm($n);
    my $res = call($realm);
    my $hit = fired() > $before;
    $before = fired();
    $seen{ $res->{status} }++;
    push @bad, "n=$n: " . outcome($res) . ' pid ' . pid_of($res)
        if pid_of($res) ne $worker || $res->{status} !~ /^(200|401|500)$/;
    arm(-1) unless $hit;    # the request was done before its (n+1)-th allocation
    my $c = call(undef, token => $ctl);
    push @bad, "n=$n: control then " . outcome($c) . ' pid ' . pid_of($c)
        if $c->{status} != 200 || pid_of($c) ne $worker;
    last if !$hit || @bad > 5;
}
diag "sweep: $n allocation points, statuses " . join ', ', map {"$_ × $seen{$_}"} sort keys %seen;
cmp_ok($n, '>', 20, 'the sweep walked the whole cold path');
is_deeply(\@bad, [], 'every request answered 200/401/500 by the same worker, control always 200');
cmp_ok($seen{500} // 0, '>', 0, 'some failures answered 500');

# No lasting damage: every swept realm verifies now (a failed fetch backs
# off for a second, a lost fetch claim for the fetch timeout).
sleep 3.5;
my @still = grep { call($_)->{status} != 200 } map { sprintf 'tenant-sw%04d', $_ } 0 .. $n;
is_deeply(\@still, [], 'every swept tenant verifies afterwards');

# --- the shared zone's copies ------------------------------------------------
# A fresh worker (after a reload) finds the token and the JWKS in the zone
# and copies them out under the zone's lock. A bad_alloc there must release
# the lock, or every worker of this nginx waits on it forever.
my ($reloads, @zone_bad, %zone_seen) = (0);
my $warm = token(realm => 'tenant-oom', alg => 'ES256', username => 'carol');
is(call(undef, token => $warm)->{status}, 200, 'token cached in the zone');
for (my $z = 0; $z < 200; $z++) {
    my $old = pid_of(raw_get('/realm-auth/status'));
    if ($old !~ /^\d+$/) {
        push @zone_bad, "z=$z: nginx stopped answering (zone lock left held?)";
        last;
    }
    kill 'HUP', $ngx->{pid};
    my ($new, $deadline) = ($old, time + 10);
    while ($new eq $old && time < $deadline) {    # the status handler touches no cache
        select undef, undef, undef, 0.05;
        $new = pid_of(raw_get('/realm-auth/status'));
    }
    select undef, undef, undef, 0.02 while kill(0, $old) && time < $deadline;    # old one gone
    $reloads++;
    my $fired = fired();
    arm($z);
    my $res = call(undef, token => $warm);
    my $hit = fired() > $fired;
    arm(-1) unless $hit;
    $zone_seen{ $res->{status} }++;
    push @zone_bad, "z=$z: " . outcome($res) . " pid " . pid_of($res) . " (worker $new)"
        if $res->{status} !~ /^(200|500)$/ || pid_of($res) ne $new;
    my $again = call(undef, token => $warm);
    push @zone_bad, "z=$z: then " . outcome($again) if $again->{status} != 200;
    last if !$hit || @zone_bad > 3;
}
diag "zone sweep: $reloads reloads, statuses " . join ', ', map {"$_ × $zone_seen{$_}"} sort keys %zone_seen;
is_deeply(\@zone_bad, [], 'a failed copy out of the zone is a 500, and the zone stays usable');

my $log = $ngx->error_log;
unlike($log, qr/exited on signal|terminate called/, 'no worker died');
like($log, qr/\[alert\].*realm_auth: access handler failed: out of memory/, 'the failure is logged at alert');
$ngx->stop;

# --- the tenant state refresh: timer, thread pool task, completion ---------
# An idle worker allocates only in its periodic tenant state refresh. A
# bad_alloc at each of those allocations in turn is logged; the worker keeps
# serving and the refresh keeps running (a disabled tenant is still refused).
SKIP: {
    my $redis = eval { RealmAuth::Redis->start };
    skip "redis-server not available: $@", 5 unless $redis;
    my $prefix = "oom$$:";
    {
        local $ENV{LD_PRELOAD} = $shim;
        local $ENV{REALM_AUTH_ALLOC_FAIL_FILE} = $arm;
        $ngx = RealmAuth::Nginx->start(master => 1, workers => 1,
            http => "auth_realm_zone realm_auth:1m;\n"
                  . $redis->directive(prefix => $prefix) . "\n"
                  . 'auth_realm_tenant_state_interval 50ms;',
            server => $LOCATIONS);
    }
    ensure_realm('tenant-oomts', algs => ['ES256']);
    my $tok = token(realm => 'tenant-oomts', alg => 'ES256');
    my $first = call(undef, token => $tok);
    is($first->{status}, 200, 'tenant token verifies (its state is now refreshed)');
    my $pid = pid_of($first);
    my @ts_bad;
    for my $k (0 .. 30) {
        my $f = fired();
        arm($k);
        my $deadline = time + 3;
        select undef, undef, undef, 0.02 while fired() == $f && time < $deadline;
        arm(-1) if fired() == $f;
        my $c = call(undef, token => $tok);
        push @ts_bad, "k=$k: " . outcome($c) . ' pid ' . pid_of($c)
            if $c->{status} != 200 || pid_of($c) ne $pid;
        last if @ts_bad > 3;
    }
    is_deeply(\@ts_bad, [], 'the worker serves on through failed refreshes');
    $redis->publish_tenant($prefix, 'oomts', 'disabled');
    my $refused;
    for (1 .. 60) {
        $refused = call(undef, token => $tok);
        last if $refused->{status} == 401;
        select undef, undef, undef, 0.05;
    }
    is($refused->{status}, 401, 'the refresh still runs: the disabled tenant is refused');
    my $tlog = $ngx->error_log;
    like($tlog, qr/realm_auth: (tenant state task|event handler) failed: out of memory/,
        'failures in the refresh task and its events were caught and logged');
    unlike($tlog, qr/exited on signal|terminate called/, 'no worker died');
    $ngx->stop;
    $redis->stop;
}

# --- configuration time: nginx -t fails cleanly -----------------------------
# The master parses the configuration: a bad_alloc in a directive handler,
# create or merge function makes nginx -t fail (with an [emerg] naming the
# file and line, or silently where a nothrow allocation returned NULL), and
# never abort.
my (@config_bad, $emerg, $skip);
for ($skip = 0; $skip < 200; $skip++) {
    arm($skip);
    my ($ok, $out, $status);
    {
        local $ENV{LD_PRELOAD} = $shim;
        local $ENV{REALM_AUTH_ALLOC_FAIL_FILE} = $arm;
        ($ok, $out) = RealmAuth::Nginx->config_test(
            http => 'auth_realm_zone realm_auth:1m; auth_realm_redis 127.0.0.1:6379 prefix=x: '
                  . 'hmac_key_file=' . RealmAuth::Redis::scratch_key_file() . ';',
            server => $LOCATIONS);
        $status = $?;
    }
    unlink $arm;
    my $hit = -f "$arm.fired";
    unlink "$arm.fired";
    last if !$hit;    # nginx -t needed fewer allocations than that
    $emerg++ if $out =~ /\[emerg\].*realm_auth: .* failed: out of memory/;
    push @config_bad, "skip=$skip: " . ($ok ? 'passed' : "status $status: $out")
        if $ok || ($status >> 8) != 1;    # 1: "test failed"; 134 from sh: aborted
}
diag "nginx -t: $skip allocation points, $emerg with an [emerg] from the guard";
cmp_ok($skip, '>', 5, 'the sweep walked the configuration');
is_deeply(\@config_bad, [], 'nginx -t fails cleanly at every allocation, never aborts');
cmp_ok($emerg // 0, '>', 0, 'the guard names the failure');

done_testing();
