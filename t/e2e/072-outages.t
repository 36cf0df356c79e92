#!/usr/bin/perl
# Outages (issue 10 item 2), each against the real server: the stack's
# Redis, PostgreSQL and Keycloak are killed (SIGKILL) or frozen (SIGSTOP:
# the kernel still accepts connections, nothing answers) and started again
# with the stack's own scripts, and a private OPA is killed, frozen and made
# to answer garbage; a listener that never answers and an HTTP stub that
# answers 503 stand in for Keycloak in front of private sidecars. For each:
# what clients see through nginx and the sidecar (and its GET /readyz),
# that recovery needs no restart of nginx or the sidecar (same pids), how
# long it took (printed with note(); docs/OPERATIONS.md "Failures"), and that
# no file descriptor, thread or connection leaks: /proc/<pid>/fd,
# /proc/<pid>/task and `ss` counted for the nginx workers and the sidecars
# before and after. The stack is left as found: each server killed is
# started again and answers before the next step.
#   prove -It/e2e/lib -It/lib t/e2e/072-outages.t
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use HTTP::Tiny;
use JSON::PP;
use POSIX ();
use Test::More;
use Time::HiRes qw(time sleep);
use E2E::Stack qw(env root token http_json random_slug require_keycloak);
use E2E::Sidecar qw(api operator_token require_sidecar create_tenant delete_tenant new_active_user);
use E2E::Util qw(free_port spawn stop wait_http);
use E2E::Outage qw(holdings pid_of children poll_until hung_listener status_stub private_sidecar
                   readyz alive wait_gone forget_if_zombie group_members);

require_keycloak();
require_sidecar();
my $root = root();
my $op = operator_token() or BAIL_OUT('no operator token');
my $stack_sidecar = 'http://' . env('SIDECAR_HOST') . ':' . env('SIDECAR_PORT');
my $work = env('STATE_DIR') . '/e2e';
mkdir $work;
my (%mine, @matrix);  # private processes; fault × what clients saw × recovery
END { stop($_) for keys %mine }

sub fault { push @matrix, [@_]; note sprintf '%-28s | %-60s | %s', @_ }

# The stack's nginx and sidecar, counted now and again at the end.
my $sidecar_pid = pid_of('sidecar/sidecar.pid') or BAIL_OUT('no stack sidecar pid');
my $nginx_pid = pid_of('nginx/nginx.pid') or BAIL_OUT('no stack nginx pid');
my @workers = sort { $a <=> $b } children($nginx_pid);
ok @workers >= 1, "stack nginx workers: @workers";

# A tenant with a user whose token the stack's nginx verifies on /api/.
my $slug = random_slug('e2eo');
my ($cst, $cbody) = create_tenant($op, $slug);
is $cst, 201, "tenant $slug created" or BAIL_OUT(explain $cbody);
END { delete_tenant($op, $slug) if $op && $slug }
my ($uid, $pw) = new_active_user($op, $slug, 'outage');
my $login = sub { token("tenant-$slug", 'admin-console', user => 'outage', password => $pw) };
my $ut = $login->() or BAIL_OUT('no tenant user token');

# One request on a new connection (spread over the workers).
sub api_x {
    my ($tok) = @_;
    my $r = HTTP::Tiny->new(timeout => 10, keep_alive => 0)
        ->get('http://localhost:' . env('NGINX_PORT') . '/api/x', { headers => { Authorization => "Bearer $tok", "X-Purpose" => "e2e outage" } });
    my ($err) = ($r->{headers}{'www-authenticate'} // '') =~ /error_description="([^"]*)"/;
    return wantarray ? ($r->{status}, $err // '') : $r->{status};
}
sub all_pass { my ($tok, $n) = @_; !grep { api_x($tok) != 200 } 1 .. ($n // 8) }
sub tenant_read { (api(GET => "/tenants/$slug", token => $op))[0] }
sub users_read { (api(GET => "/tenants/$slug/users", token => $op))[0] }

# The same calls before each count, so pools and keep-alive connections are
# as full before as after.
sub warm {
    api_x($ut) for 1 .. 8;
    tenant_read() for 1 .. 4;
    users_read();
    readyz($stack_sidecar);
}
# /readyz until it answers `want` (its report is up to 1 s old): (status, body).
sub readyz_becomes {
    my ($url, $want) = @_;
    my @r;
    poll_until(3, sub { @r = readyz($url); $r[0] == $want });
    return @r;
}
# nginx's keepalive pools to the sidecar and the sample backend (keepalive 8
# each) are counted apart and checked against that bound.
my @POOLS = (env('SIDECAR_PORT'), env('BACKEND_PORT'));
my $KEEPALIVE = 8;
sub counts { my %c = map { $_ => holdings($_, @POOLS) } @_; \%c }
# Pools that fill lazily may hold a connection more after than before
# without leaking (one Redis connection per nginx thread-pool thread, the
# sidecar's PostgreSQL pool): up to $POOL_SLACK more open files and
# connections are allowed (nginx's upstream keepalive apart, at most 8 per
# upstream); threads may not grow at all, and
# no socket may be left in CLOSE_WAIT (peer gone, never closed here).
my $POOL_SLACK = 2;
sub no_leak {
    my ($what, $before, @pids) = @_;
    # Connections being closed settle within a moment: count again a few times.
    my $after;
    for (1 .. 20) {
        warm() if $_ == 1;
        $after = counts(@pids);
        last unless grep { $after->{$_}{fd} > $before->{$_}{fd} || $after->{$_}{conns} > $before->{$_}{conns}
                           || $after->{$_}{close_wait} } @pids;
        sleep 0.25;
    }
    for my $p (@pids) {
        my ($x, $y) = ($before->{$p}, $after->{$p});
        ok $y, "$what pid $p still there" or next;
        cmp_ok $y->{fd}, '<=', $x->{fd} + $POOL_SLACK, "$what pid $p: open files $x->{fd} → $y->{fd}";
        cmp_ok $y->{tasks}, '<=', $x->{tasks}, "$what pid $p: threads $x->{tasks} → $y->{tasks}";
        cmp_ok $y->{conns}, '<=', $x->{conns} + $POOL_SLACK,
            "$what pid $p: TCP connections $x->{conns} → $y->{conns}";
        is $y->{close_wait}, 0, "$what pid $p: no socket left in CLOSE_WAIT";
        cmp_ok $y->{pooled}, '<=', 2 * $KEEPALIVE, "$what pid $p: upstream keepalive $x->{pooled} → $y->{pooled}";
    }
}

ok all_pass($ut), 'the tenant user passes nginx /api/';
my ($rst, $rb) = readyz($stack_sidecar);
is $rst, 200, 'stack sidecar /readyz 200 with everything up' or diag explain $rb;
is_deeply [sort keys %{ $rb->{dependencies} // {} }], [qw(keycloak postgresql redis)],
    '/readyz names PostgreSQL, Keycloak and Redis (built-in policy: none)';
is ((HTTP::Tiny->new->get("$stack_sidecar/healthz"))->{status}, 200, '/healthz 200');
warm();
my $stack_before = counts($sidecar_pid, @workers);

# --- Redis ---------------------------------------------------------------------
subtest 'Redis killed and started again' => sub {
    my $redis = pid_of('redis/redis.pid') or return fail('no redis pid');
    kill 'KILL', $redis;
    ok wait_gone(5, $redis), 'redis-server killed';
    note 'redis-server left a zombie; its pid file removed'
        if forget_if_zombie(2, $redis, env('STATE_DIR') . '/redis/redis.pid');
    my $t_down = time;
    ok all_pass($ut, 12), 'nginx keeps verifying the tenant token (zone tier)';
    is tenant_read(), 200, 'sidecar reads through nginx still work';
    my ($s, $r, $secs) = readyz($stack_sidecar);
    is $s, 503, '/readyz 503';
    is $r->{dependencies}{redis}{state}, 'down', '… redis down: ' . ($r->{dependencies}{redis}{detail} // '');
    is $r->{dependencies}{postgresql}{state}, 'up', '… postgresql up';
    cmp_ok $secs, '<', 2, "… answered in ${\ sprintf '%.2f', $secs} s";
    is ((HTTP::Tiny->new->get("$stack_sidecar/healthz"))->{status}, 200, '/healthz still 200 (liveness)');
    is system("$root/scripts/stack/redis.sh start >>$work/070-stack.log 2>&1"), 0, 'redis started again';
    my $t_up = time;
    my ($ok, $ready) = poll_until(10, sub { (readyz($stack_sidecar))[0] == 200 });
    ok $ok, sprintf '/readyz 200 again %.2f s after Redis answered', $ready;
    # Tenant state and revocations resume through the new (empty) Redis.
    ($s) = api(PATCH => "/tenants/$slug", token => $op, json => { enabled => JSON::PP::false });
    is $s, 200, 'tenant disabled';
    my ($refused, $t_ref) = poll_until(15, sub { my ($c, $e) = api_x($ut); $c == 401 });
    ok $refused, sprintf 'nginx refuses the disabled tenant within %.2f s', $t_ref;
    ($s) = api(PATCH => "/tenants/$slug", token => $op, json => { enabled => JSON::PP::true });
    is $s, 200, 'tenant enabled';
    my ($back, $t_back) = poll_until(15, sub { all_pass($ut, 4) });
    ok $back, sprintf 'and accepts it again within %.2f s', $t_back;
    ($s) = api(POST => "/tenants/$slug/users/$uid/sessions:revoke", token => $op, json => {});
    ok $s == 200 || $s == 204, 'user sessions revoked';
    my ($rev, $t_rev) = poll_until(10, sub { my ($c, $e) = api_x($ut); $c == 401 && $e =~ /revoked/ });
    ok $rev, sprintf 'the revoked token is refused within %.2f s', $t_rev;
    sleep 1.1;
    $ut = $login->() or return fail('no new token');
    ok all_pass($ut), 'a new login passes';
    fault('Redis killed', 'nginx /api/ 200 (zone); sidecar 200; /readyz 503 redis down',
          sprintf('readyz %.1f s after start; tenant state %.1f s, revocation %.1f s', $ready, $t_ref, $t_rev));
};

# --- PostgreSQL ------------------------------------------------------------------
subtest 'PostgreSQL killed and started again' => sub {
    my $pm = pid_of('postgres/postgres.pid') or return fail('no postmaster pid');
    my @all = ($pm, children($pm));
    kill 'KILL', @all;
    ok wait_gone(10, @all), 'postmaster and its ' . (@all - 1) . ' processes killed';
    my $sd = env('STATE_DIR') . '/postgres';
    note 'the postmaster left a zombie; its lock file removed'
        if forget_if_zombie(2, $pm, "$sd/data/postmaster.pid", "$sd/postgres.pid");
    my ($s, $body) = api(GET => "/tenants/$slug", token => $op);
    is $s, 503, 'GET /tenants/{id} through nginx: 503';
    like ref $body ? $body->{detail} : $body, qr/unavailable/i, '… detail: ' . (ref $body ? $body->{detail} : '');
    ok all_pass($ut), 'nginx keeps verifying tenant tokens (no database in the path)';
    my ($rs, $r, $secs) = readyz($stack_sidecar);
    is $rs, 503, '/readyz 503';
    is $r->{dependencies}{postgresql}{state}, 'down',
        '… postgresql down: ' . ($r->{dependencies}{postgresql}{detail} // '');
    cmp_ok $secs, '<', 3, sprintf '… answered in %.2f s', $secs;
    my $t0 = time;
    is system("$root/scripts/stack/postgres.sh start >>$work/070-stack.log 2>&1"), 0, 'postgres started again';
    my $pg_up = time - $t0;
    my ($ok, $t_first) = poll_until(15, sub { tenant_read() == 200 });
    ok $ok, sprintf 'first 200 %.2f s after PostgreSQL answered', $t_first;
    my @after = map { tenant_read() } 1 .. 10;
    is_deeply \@after, [(200) x 10], 'then every request succeeds (no stale pooled connection)';
    my ($ready, $t_ready) = poll_until(5, sub { (readyz($stack_sidecar))[0] == 200 });
    ok $ready, sprintf '/readyz 200 again after %.2f s', $t_ready;
    fault('PostgreSQL killed', 'sidecar 503 "unavailable"; nginx /api/ 200; /readyz 503 postgresql down',
          sprintf('PostgreSQL start + recovery %.1f s; first 200 %.1f s after', $pg_up, $t_first));
};

# --- OPA -------------------------------------------------------------------------
SKIP: {
    my $opa = $ENV{OPA} // `$root/scripts/install-opa.sh 2>/dev/null` =~ s/\s+\z//r;
    skip 'OPA not available (make deps-stack)', 1 unless $opa && -x $opa;
    my $opa_port = free_port();
    my $opa_url = "http://127.0.0.1:$opa_port";
    my $rego = do { local (@ARGV, $/) = "$root/conf/policy/realm_auth.rego"; <> };
    my $put_policy = sub {
        HTTP::Tiny->new(timeout => 10)->request(PUT => "$opa_url/v1/policies/realm_auth",
            { content => $_[0], headers => { 'Content-Type' => 'text/plain' } })->{status};
    };
    my $start_opa = sub {
        my $pid = spawn("$work/070-opa.log", cmd => [$opa, 'run', '--server', '--addr', "127.0.0.1:$opa_port"]);
        $mine{$pid} = 1;
        wait_http("$opa_url/health", 30) or return undef;
        return $put_policy->($rego) == 200 ? $pid : undef;
    };
    my $opa_pid = $start_opa->() or BAIL_OUT('OPA did not start');
    my ($sc, $url) = private_sidecar("$work/070-sidecar-opa.log",
                                     POLICY_URL => "$opa_url/v1/data/realm_auth/decision", POLICY_TIMEOUT_MS => 500);
    $mine{$sc} = 1 if $sc;
    ok $sc, "private sidecar asking OPA ($url)" or BAIL_OUT('sidecar did not start');
    my $read = sub { my @r = http_json(GET => "$url/tenants/$slug", token => $op, purpose => 'e2e outage'); @r[0, 1] };
    my ($s) = $read->();
    is $s, 200, 'a governed read passes through OPA';
    my ($rs, $r) = readyz($url);
    is $rs, 200, '/readyz 200';
    is $r->{dependencies}{policy}{state}, 'up', '… policy up';
    $read->() for 1 .. 3;
    my $before = counts($sc);

    subtest 'OPA killed' => sub {
        kill 'KILL', $opa_pid;
        waitpid $opa_pid, 0;
        delete $mine{$opa_pid};
        my ($s, $b) = $read->();
        is $s, 403, 'denied (fail closed)';
        like $b->{detail}, qr/policy service: unreachable/, "… $b->{detail}";
        my ($rs, $r) = readyz_becomes($url, 503);
        is $rs, 503, '/readyz 503 (within its 1 s cache)';
        like $r->{dependencies}{policy}{detail} // '', qr/unreachable/, '… policy down: unreachable';
        my $t0 = time;
        $opa_pid = $start_opa->() or return fail('OPA did not start again');
        my $opa_up = time - $t0;
        my ($ok, $t) = poll_until(5, sub { ($read->())[0] == 200 });
        ok $ok, sprintf 'allowed again %.2f s after OPA answered (no sidecar restart)', $t;
        fault('OPA killed', '403 "policy service: unreachable"; /readyz 503 policy down',
              sprintf('OPA start %.1f s; first 200 %.2f s after', $opa_up, $t));
    };
    subtest 'OPA slow (frozen with SIGSTOP)' => sub {
        kill 'STOP', $opa_pid;
        my $t0 = time;
        my ($s, $b) = $read->();
        my $took = time - $t0;
        is $s, 403, 'denied (fail closed)';
        like $b->{detail}, qr/no answer from .* within 500 ms/, "… $b->{detail}";
        cmp_ok $took, '<', 2, sprintf '… after %.2f s (timeout 500 ms)', $took;
        sleep 1.05;  # past the cached report
        my ($rs, $r, $secs) = readyz($url);
        is $rs, 503, sprintf '/readyz 503 in %.2f s', $secs;
        like $r->{dependencies}{policy}{detail} // '', qr/no answer/, '… policy down: no answer';
        cmp_ok $secs, '<', 2, '… bounded (policy timeout 500 ms)';
        kill 'CONT', $opa_pid;
        my ($ok, $t) = poll_until(5, sub { ($read->())[0] == 200 });
        ok $ok, sprintf 'allowed again %.2f s after SIGCONT', $t;
        fault('OPA slow (SIGSTOP)', sprintf('403 "no answer within 500 ms" after %.2f s; /readyz 503', $took),
              sprintf('%.2f s after it answers again', $t));
    };
    subtest 'OPA answering garbage' => sub {
        my $ps = $put_policy->("package realm_auth\n\ndecision := \"garbage\"\n");
        is $ps, 200, 'OPA now answers {"result":"garbage"}';
        my ($s, $b) = $read->();
        is $s, 403, 'denied (fail closed)';
        like $b->{detail}, qr/"result" is not an object/, "… $b->{detail}";
        sleep 1.05;  # past the report cached while OPA was frozen
        my ($rs, $r) = readyz($url);
        is $rs, 503, '/readyz 503 (within its 1 s cache)';
        like $r->{dependencies}{policy}{detail} // '', qr/not an object/, '… policy down: the shape named';
        is $put_policy->($rego), 200, 'the real policy is back';
        my ($ok, $t) = poll_until(5, sub { ($read->())[0] == 200 });
        ok $ok, sprintf 'allowed again %.2f s after the policy is restored', $t;
        fault('OPA answering garbage', '403 "\"result\" is not an object"; /readyz 503 policy down',
              sprintf('%.2f s after the policy is back', $t));
    };
    no_leak('OPA sidecar', $before, $sc);
    stop($sc);
    stop($opa_pid);
    delete @mine{ $sc, $opa_pid };
}

# --- Keycloak answering 5xx, and hung ----------------------------------------------
subtest 'Keycloak answering 503 (stub in front of a private sidecar)' => sub {
    my ($stub, $port) = status_stub(503);
    $mine{$stub} = 1;
    my ($sc, $url) = private_sidecar("$work/070-sidecar-kc503.log", KEYCLOAK_URL => "http://127.0.0.1:$port");
    $mine{$sc} = 1 if $sc;
    ok $sc, 'private sidecar' or return;
    my $new = random_slug('e2eo');
    my ($s, $b) = http_json(POST => "$url/tenants", token => $op, purpose => 'e2e outage',
                            json => { slug => $new, display_name => 'x' });
    is $s, 503, 'POST /tenants 503';
    like $b->{detail} // '', qr/Keycloak/, "… $b->{detail}";
    ($s) = api(GET => "/tenants/$new", token => $op);
    is $s, 404, 'no tenant row left behind';
    my ($rs, $r) = readyz($url);
    is $rs, 503, '/readyz 503';
    like $r->{dependencies}{keycloak}{detail} // '', qr/HTTP status 503/, "… keycloak down: HTTP status 503";
    fault('Keycloak answering 503', 'POST /tenants 503 naming Keycloak, nothing created; /readyz 503', 'n/a (stub)');
    stop($sc);
    stop($stub);
    delete @mine{ $sc, $stub };
};

subtest 'Keycloak hung (accepts, never answers)' => sub {
    my $log = "$work/070-hung.log";
    unlink $log;
    my ($hung, $port) = hung_listener($log);
    $mine{$hung} = 1;
    my ($sc, $url) = private_sidecar("$work/070-sidecar-hung.log", KEYCLOAK_URL => "http://127.0.0.1:$port",
                                     KEYCLOAK_TIMEOUT_MS => 2000);
    $mine{$sc} = 1 if $sc;
    ok $sc, 'private sidecar' or return;
    # Once each before counting, so its pools are as full as they get.
    http_json(POST => "$url/tenants", token => $op, purpose => 'e2e outage',
              json => { slug => random_slug('e2eo'), display_name => 'x' });
    readyz($url);
    sleep 1.1;
    my $before = counts($sc);
    unlink $log;
    # 20 callers at once: one round of probes, everyone answered in about
    # the probe's timeout (1 s).
    my $t0 = time;
    my @kids;
    for (1 .. 20) {
        pipe my $rd, my $wr or die;
        my $pid = fork // die;
        if (!$pid) { close $rd; my ($s) = readyz($url); print $wr $s; close $wr; POSIX::_exit(0) }
        close $wr;
        push @kids, [$pid, $rd];
    }
    my @st = map { my $v = readline $_->[1]; waitpid $_->[0], 0; $v } @kids;
    my $took = time - $t0;
    is_deeply [sort @st], [(503) x 20], '20 concurrent /readyz: all 503';
    cmp_ok $took, '<', 3, sprintf '… all answered within %.2f s', $took;
    my $probes = () = do { open my $fh, '<', $log; grep { m{^GET /realms/master } } <$fh> };
    cmp_ok $probes, '<=', 2, "… $probes probe(s) reached the hung Keycloak (no pile-up)";
    my ($rs, $r) = readyz($url);
    like $r->{dependencies}{keycloak}{detail} // '', qr/no answer .* within 1000 ms/, "… keycloak down: no answer within 1000 ms";
    my $new = random_slug('e2eo');
    $t0 = time;
    my ($s, $b) = http_json(POST => "$url/tenants", token => $op, purpose => 'e2e outage',
                            json => { slug => $new, display_name => 'x' });
    my $post = time - $t0;
    is $s, 503, sprintf 'POST /tenants 503 after %.2f s (timeout 2 s)', $post;
    like $b->{detail} // '', qr/Keycloak/, "… $b->{detail}";
    ($s) = api(GET => "/tenants/$new", token => $op);
    is $s, 404, 'no tenant row left behind';
    stop($hung);
    delete $mine{$hung};
    no_leak('hung-Keycloak sidecar', $before, $sc);
    stop($sc);
    delete $mine{$sc};

    # The real Keycloak frozen: the stack's nginx keeps verifying known
    # keys; the stack sidecar's /readyz says so within its bound.
    # kc.sh runs java as its child: the pid file names the process group.
    my $kc = pid_of('keycloak/keycloak.pid') or return fail('no keycloak pid');
    kill 'STOP', -$kc;
    my $ok = all_pass($ut);
    sleep 1.05;  # past the cached report
    my ($ks, $kb, $ksecs) = readyz($stack_sidecar);
    kill 'CONT', -$kc;
    ok $ok, 'real Keycloak frozen: nginx /api/ still 200';
    is $ks, 503, sprintf 'stack /readyz 503 in %.2f s', $ksecs;
    is $kb->{dependencies}{keycloak}{state}, 'down', '… keycloak down';
    my ($back, $t) = poll_until(30, sub { (readyz($stack_sidecar))[0] == 200 });
    ok $back, sprintf 'ready again %.2f s after SIGCONT', $t;
    fault('Keycloak hung', sprintf('POST /tenants 503 after %.1f s; 20 x /readyz 503 within %.1f s, %d probe; nginx /api/ 200', $post, $took, $probes),
          sprintf('%.1f s after it answers (SIGCONT)', $t));
};

# --- Keycloak killed (the real one, last: its start is the slowest) ---------------
subtest 'Keycloak killed and started again' => sub {
    my $kc = pid_of('keycloak/keycloak.pid') or return fail('no keycloak pid');
    my @kc = group_members($kc);
    ok @kc >= 1, "Keycloak's processes: @kc";
    kill 'KILL', -$kc;
    ok wait_gone(15, @kc), 'Keycloak killed';
    note 'Keycloak left a zombie; its pid file removed'
        if forget_if_zombie(2, $kc, env('STATE_DIR') . '/keycloak/keycloak.pid');
    ok all_pass($ut), 'nginx keeps verifying the tenant token (keys in the zone)';
    is tenant_read(), 200, 'sidecar reads from PostgreSQL still work';
    my ($s, $b) = api(GET => "/tenants/$slug/users", token => $op);
    is $s, 503, 'GET /tenants/{id}/users (Keycloak) 503';
    like ref $b ? $b->{detail} : '', qr/Keycloak/, '… ' . (ref $b ? $b->{detail} : '');
    my ($rs, $r) = readyz_becomes($stack_sidecar, 503);
    is $rs, 503, '/readyz 503';
    is $r->{dependencies}{keycloak}{state}, 'down', '… keycloak down: ' . ($r->{dependencies}{keycloak}{detail} // '');
    my $t0 = time;
    is system("$root/scripts/stack/keycloak.sh start >>$work/070-stack.log 2>&1"), 0, 'Keycloak started again';
    my $kc_up = time - $t0;
    my ($ok, $t) = poll_until(30, sub { users_read() == 200 });
    ok $ok, sprintf 'GET …/users 200 %.2f s after Keycloak was ready (no sidecar restart)', $t;
    ok all_pass($ut), 'nginx still verifies';
    my $fresh = $login->();
    ok $fresh && all_pass($fresh), 'a new login passes';
    $ut = $fresh if $fresh;
    fault('Keycloak killed', 'nginx /api/ 200 (cached keys); sidecar Keycloak calls 503; reads 200; /readyz 503',
          sprintf('Keycloak start %.0f s; first 200 %.2f s after', $kc_up, $t));
};

# --- nothing leaked, nothing restarted -----------------------------------------------
is pid_of('sidecar/sidecar.pid'), $sidecar_pid, 'the stack sidecar was never restarted';
is_deeply [sort { $a <=> $b } children($nginx_pid)], \@workers, 'the nginx workers were never restarted';
no_leak('stack', $stack_before, $sidecar_pid, @workers);

diag sprintf "%-28s | %-60s | %s", @$_ for @matrix;
done_testing;
