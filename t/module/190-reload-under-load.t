# nginx operations under load: `nginx -s reload` every second for 30 s,
# then a binary upgrade (USR2, WINCH, QUIT), while a load generator
# (RealmAuth::Load) sends a fixed mix of valid tokens of three realms and
# invalid ones (forged signature, expired, issuer outside the allowlist) and
# counts every answer.
#
# Reloads: no valid request refused, no invalid one accepted, no request
# lost (fresh-connection errors, partial answers, timeouts: none; a
# keep-alive connection an exiting worker closes under a request in flight
# is the one loss HTTP/1.1 allows, retried like any client does, bounded
# below); the zone outlives every worker generation: its counters only
# grow and match what the generator counted exactly, the verified tokens
# and keys stay cached (no valid token verified again once reused, each new worker
# parses each issuer's keys once from the zone) and the issuer sees exactly
# one JWKS fetch per realm for the whole run.
#
# Binary upgrade: the new master maps a new zone (shared memory is not
# inherited across exec), so its counters start from zero and its tokens
# are verified again, but its keys come from Redis: still no JWKS fetch at
# the issuer. Without Redis the same upgrade costs one fetch per issuer.
# docs/OPERATIONS.md, "Reloads and binary upgrades".
use strict;
use warnings;
use Test::More;
use IO::Socket::INET;
use Time::HiRes qw(time sleep);

use RealmAuth::Issuer qw(:all);
use RealmAuth::Load;
use RealmAuth::Nginx;
use RealmAuth::Redis;

RealmAuth::Nginx::require_module();

my $redis = eval { RealmAuth::Redis->start(acl => 1) };
plan skip_all => "redis-server not available: $@" unless $redis;

my $RELOADS = $ENV{REALM_AUTH_RELOADS} // 30;
my $RATE = $ENV{REALM_AUTH_LOAD_RATE} // 400;    # requests per second
my %CONNS = (keepalive => 6, close => 2);

start_issuer();
my @realms = qw(tenant-r1 tenant-r2 tenant-r3);
ensure_realm($_, algs => ['RS256', 'ES256']) for @realms;

# Under the sanitizers (scripts/test-module-asan.sh) the runtimes must
# reach the new binary of an upgrade too: nginx gives it only the
# variables `env` names.
my $main = join '', map { "env $_;\n" } grep { $ENV{$_} } qw(ASAN_OPTIONS UBSAN_OPTIONS);
$main .= qq{env "LD_PRELOAD=$ENV{REALM_AUTH_SANITIZER_PRELOAD}";\n} if $ENV{REALM_AUTH_SANITIZER_PRELOAD};

sub conf {
    my (%o) = @_;
    return (
        master => 1, workers => 2, log_level => 'info', main => $main,
        http => "auth_realm_zone realm_auth:10m;\n" . ($o{redis} // ''),
        server => q{
            location /api/ {
                auth_realm on;
                auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
                # long enough that a claim left to be abandoned (after the
                # timeout + 1 s) cannot pass for a fetch landing (1.5 s)
                auth_realm_fetch_timeout 6s;
                add_header X-Worker $pid always;
                root html;
            }
            location = /realm-auth/status {
                auth_realm_status;
                add_header X-Worker $pid always;
            }
        },
    );
}

my $ngx = RealmAuth::Nginx->start(conf(redis => $redis->directive(prefix => "rl$$:")));
my $html = $ngx->prefix . '/html/api';
system('mkdir', '-p', $html) == 0 or die;
open my $fh, '>', "$html/ok.txt" or die;
print $fh "ok\n";
close $fh;

# The mix, round robin: 12 valid tokens (3 realms x 2 algorithms x 2
# users), 8 invalid ones. Forged tokens carry the realm's kid (a known key,
# so no refetch is due), signed by a stranger's key.
my (@mix, @valid);
for my $realm (@realms) {
    for my $alg (qw(RS256 ES256)) {
        for my $user (qw(ann bob)) {
            push @valid, token(realm => $realm, alg => $alg, username => $user, exp_in => 900);
        }
    }
}
my %expect = (
    forged  => 'signature invalid',
    expired => 'token expired',
    foreign => 'issuer not allowed',
);
my %refusal = (forged => 'signature_invalid', expired => 'expired', foreign => 'issuer_not_allowed');
my @invalid = (
    (map { [forged => token(realm => $_, key => (stranger_key('RS256'))[0])] } @realms),
    [expired => token(realm => 'tenant-r1', exp_in => -600)],
    [expired => token(realm => 'tenant-r2', alg => 'ES256', exp_in => -600)],
    [expired => token(realm => 'tenant-r3', exp_in => -3600)],
    [foreign => token(realm => 'tenant-r1', iss => 'https://idp.example/realms/tenant-r1')],
    [foreign => token(realm => 'tenant-r2', iss => 'http://127.0.0.1:9/realms/tenant-r2')],
);
for my $i (0 .. $#valid) {
    push @mix, [valid => $valid[$i]];
    push @mix, $invalid[ $i % @invalid ] if $i % 3 != 2;    # 8 of every 20
}

# Warm-up, one request at a time: each realm fetched once, each valid
# token verified (a cache miss) once.
for my $t (@valid) {
    my $r = $ngx->get('/api/ok.txt', Authorization => "Bearer $t");
    is($r->{status}, 200, 'warm-up: valid token accepted') or diag($r->{body});
}
is(fetch_count($_), 1, "warm-up: one JWKS fetch for $_") for @realms;
my $s0 = $ngx->status;

# ----------------------------------------------------------------- reloads

sub flat {    # the status counters that only ever grow, flattened
    my ($s) = @_;
    my %f = (verified => $s->{verified}, map { ("refused.$_" => $s->{refused}{$_}) } keys %{ $s->{refused} });
    $f{"token_cache.$_"} = $s->{token_cache}{$_} for qw(hits misses);
    $f{"jwks.$_"} = $s->{jwks}{$_} for qw(worker_hits zone_hits redis_hits http_fetches fetch_failures refetches);
    return \%f;
}

my @samples = (flat($s0));
my @entries = ($s0->{token_cache}{entries});
my $load = RealmAuth::Load->start(port => $ngx->port, path => '/api/ok.txt', mix => \@mix,
                                  rate => $RATE, %CONNS);
my $t_start = time;
my $reload_fail = '';
for my $n (1 .. $RELOADS) {
    my $due = $t_start + $n;
    while (time < $due - 0.05) {
        my $s = $ngx->status;
        if ($s->{_error}) { $reload_fail .= "status: $s->{_error}\n"; sleep 0.2; next }
        push @samples, flat($s);
        push @entries, $s->{token_cache}{entries};
        sleep 0.2;
    }
    sleep $due - time if $due > time;
    my ($ok, $out) = $ngx->cli('-s', 'reload');
    $reload_fail .= "reload $n: $out\n" unless $ok;
}
sleep 1;
my $tally = $load->stop;
sleep 0.5;    # the last generation's workers settle
my $s2 = $ngx->status;
push @samples, flat($s2);
push @entries, $s2->{token_cache}{entries};
my $elapsed = time - $t_start;

is($reload_fail, '', "$RELOADS reloads signalled");
my $log = $ngx->error_log;
my $reconfigured = () = $log =~ /received from \d+, reconfiguring/g;
is($reconfigured, $RELOADS, "the master reconfigured $RELOADS times");
my @seen_workers = grep { $_ ne 'none' } keys %{ $tally->{workers} };
cmp_ok(scalar @seen_workers, '>', $RELOADS, 'answers came from every generation of workers')
    or diag(scalar(@seen_workers) . ' workers answered');

sub check_answers {
    my ($t, $what, $races_allowed) = @_;
    my $valid = RealmAuth::Load::count($t, 'valid');
    cmp_ok($valid, '>', 0, "$what: valid requests answered");
    is(RealmAuth::Load::count($t, 'valid', 200), $valid, "$what: every valid token accepted")
        or diag(explain($t->{classes}{valid}));
    for my $class (sort keys %expect) {
        my $n = RealmAuth::Load::count($t, $class);
        cmp_ok($n, '>', 0, "$what: $class tokens sent");
        is(RealmAuth::Load::count($t, $class, 401), $n, "$what: every $class token refused with 401")
            or diag(explain($t->{classes}{$class}));
        is($t->{challenge}{$class}{ $expect{$class} } // 0, $n,
           "$what: $class refusals say \"$expect{$class}\"")
            or diag(explain($t->{challenge}{$class}));
    }
    is($t->{answered}, $t->{sent}, "$what: every request answered ($t->{sent} sent)")
        or diag(explain($t->{errors}, $t->{samples}));
    for my $kind (qw(connect fresh_closed partial timeout bad_response)) {
        is($t->{errors}{$kind}, 0, "$what: no $kind errors") or diag(explain($t->{samples}));
    }
    cmp_ok($t->{errors}{keepalive_race}, '<=', $races_allowed,
           "$what: keep-alive races ($t->{errors}{keepalive_race}) within one per "
           . "keep-alive connection per handover ($races_allowed)");
}

check_answers($tally, 'reloads', $CONNS{keepalive} * $RELOADS);

# The zone survived every reload: counters only grew ...
my %regressed;
for my $i (1 .. $#samples) {
    for my $k (keys %{ $samples[$i] }) {
        $regressed{$k}++ if ($samples[$i]{$k} // 0) < ($samples[ $i - 1 ]{$k} // 0);
    }
}
is_deeply(\%regressed, {}, scalar(@samples) . ' status samples: no counter went back')
    or diag(explain(\%regressed));
my $drops = grep { $entries[$_] < $entries[ $_ - 1 ] } 1 .. $#entries;
is($drops, 0, 'the verified-token cache never lost entries');

# ... and match the generator's count exactly (the warm-up included).
my $warm = scalar @valid;
is($s2->{verified}, $warm + RealmAuth::Load::count($tally, 'valid', 200),
   'verified = warm-up + valid answers of the generator');
for my $class (sort keys %refusal) {
    is($s2->{refused}{ $refusal{$class} }, RealmAuth::Load::count($tally, $class, 401),
       "refused.$refusal{$class} = $class answers of the generator");
}
my $invalid_sent = RealmAuth::Load::count($tally) - RealmAuth::Load::count($tally, 'valid');
# A token a worker verified enters the zone once reused there (zone
# admission, worker_token_cache.h): the warm-up's tokens were verified once
# each, so the other worker of the first generation may verify one again
# before the first worker's hit shares it, at most once per token (2
# workers); after that every generation finds them in the zone.
my $again = $s2->{token_cache}{misses} - $s0->{token_cache}{misses} - $invalid_sent;
cmp_ok($again, '>=', 0, 'cache misses during the reloads >= invalid tokens');
cmp_ok($again, '<=', scalar @valid,
   'valid tokens verified again: at most once each (before their first reuse), never per reload');
cmp_ok($s2->{token_cache}{entries}, '>=', scalar @valid, 'every valid token still cached');

# Keys: one fetch per realm for the whole run; each new worker read them
# from the zone once per issuer.
is(fetch_count($_), 1, "reloads: still one JWKS fetch for $_ at the issuer") for @realms;
is($s2->{jwks}{http_fetches}, scalar @realms, 'status: http_fetches unchanged');
is($s2->{jwks}{issuers_cached}, scalar @realms, 'status: every issuer still cached');
my $workers_started = 2 * ($RELOADS + 1);
cmp_ok($s2->{jwks}{zone_hits}, '<=', $workers_started * @realms,
       "zone_hits ($s2->{jwks}{zone_hits}) at most one per issuer per worker started ($workers_started)");

diag(sprintf('reloads: %d requests in %.1f s (%d valid, %d invalid), %d keep-alive races '
             . '(retried), %d idle connections closed by exiting workers, %d workers',
             $tally->{sent}, $elapsed, RealmAuth::Load::count($tally, 'valid'), $invalid_sent,
             $tally->{errors}{keepalive_race}, $tally->{idle_closed}, scalar @seen_workers));

sub wait_until {
    my ($secs, $cond) = @_;
    my $deadline = time + $secs;
    while (time < $deadline) { return 1 if $cond->(); sleep 0.02 }
    return $cond->();
}

# ------------------------------------ a fetch in flight when its worker exits

# A worker that shuts down lets its thread pool finish the tasks queued
# (nginx waits for them) but never runs their completions. A first fetch
# whose requests went away leaves nothing to keep the worker up: it exits
# mid-fetch. The fetched keys must still reach the zone, and the zone's
# claim must not make the next worker wait for it to be abandoned
# (fetch timeout + 1 s), nor fetch again.
ensure_realm('tenant-slow', algs => ['RS256']);
set_delay('tenant-slow', 1.5);
my $slow = token(realm => 'tenant-slow', exp_in => 900);
my $shutdowns = sub { scalar(() = $ngx->error_log =~ /gracefully shutting down/g) };
{
    my $c = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $ngx->port) or die "$!";
    print $c "GET /api/ok.txt HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer $slow\r\n\r\n";
    ok(wait_until(5, sub { fetch_count('tenant-slow') == 1 }), 'slow realm: its fetch started');
    close $c;    # the client gives up: nothing waits for the fetch in that worker
    sleep 0.1;
}
my $s_slow = $ngx->status;
my $before = $shutdowns->();
my ($reloaded) = $ngx->cli('-s', 'reload');
ok($reloaded && wait_until(5, sub { $shutdowns->() >= $before + 2 }),
   'reload while the fetch is in flight: the old workers are shutting down');
my $late = $ngx->get('/api/ok.txt', Authorization => "Bearer $slow");
is($late->{status}, 200, 'the next request for the realm is accepted by a new worker')
    or diag("$late->{status} after $late->{elapsed} s: " . ($late->{headers}{'www-authenticate'} // ''));
cmp_ok($late->{elapsed}, '<', 4, '... as soon as the exiting worker\'s fetch landed, not after '
       . 'the claim was abandoned') or diag("took $late->{elapsed} s");
is(fetch_count('tenant-slow'), 1, '... and the issuer was asked once');
my $s_late = $ngx->status;
is($s_late->{jwks}{http_fetches} - $s_slow->{jwks}{http_fetches}, 1,
   '... the exiting worker\'s fetch filled the zone (counted)');
is($s_late->{jwks}{redis_hits} - $s_slow->{jwks}{redis_hits}, 0,
   '... no second fetch (from Redis) after an abandoned claim');
diag(sprintf('fetch in flight at worker exit: next request answered %d in %.2f s', $late->{status},
             $late->{elapsed}));
set_delay('tenant-slow', 0);

# ---------------------------------------------------------- binary upgrade

# USR2: the old master execs the binary again (new master, new workers,
# both generations accept); WINCH: the old workers finish and exit; QUIT:
# the old master goes. Returns (old master, new master, old workers,
# new workers) or dies.
sub upgrade {
    my ($n, $during) = @_;
    my $old = $n->master_pid;
    my @old_workers = RealmAuth::Nginx::children($old);
    kill 'USR2', $old or die "USR2: $!";
    my $new;
    wait_until(10, sub {
        $new = $n->pid_file_pid;
        $new && $new != $old && ($n->pid_file_pid('.oldbin') // 0) == $old
            && RealmAuth::Nginx::children($new) == 2
    }) or die "no new master with two workers after USR2:\n" . $n->error_log;
    my @new_workers = RealmAuth::Nginx::children($new);
    $during->() if $during;    # both generations serve
    kill 'WINCH', $old or die "WINCH: $!";
    wait_until(10, sub { !grep { RealmAuth::Nginx::alive($_) } @old_workers })
        or die "old workers still running after WINCH";
    sleep 0.5;    # only the new workers serve
    kill 'QUIT', $old or die "QUIT: $!";
    wait_until(10, sub { !RealmAuth::Nginx::alive($old) }) or die 'old master still running';
    $n->adopt_master($new);
    return ($old, $new, \@old_workers, \@new_workers);
}

$load = RealmAuth::Load->start(port => $ngx->port, path => '/api/ok.txt', mix => \@mix,
                               rate => $RATE, %CONNS);
sleep 1;
my ($old, $new, $old_workers, $new_workers) = eval { upgrade($ngx, sub { sleep 1.5 }) };
is($@, '', 'binary upgrade: USR2, WINCH, QUIT went through');
sleep 1;
my $up = $load->stop;
my $s3 = $ngx->status;

check_answers($up, 'upgrade', $CONNS{keepalive});
my %gen = (old => $old_workers // [], new => $new_workers // []);
my %by_gen;
for my $g (keys %gen) {
    for my $pid (@{ $gen{$g} }) {
        my $w = $up->{workers}{$pid} or next;
        for my $class (keys %$w) { $by_gen{$g}{$class} += $_ for values %{ $w->{$class} } }
    }
}
for my $g (qw(old new)) {
    cmp_ok($by_gen{$g}{valid} // 0, '>', 0, "upgrade: the $g generation answered valid tokens");
}
ok(!exists $up->{workers}{none}, 'upgrade: every answer named its worker');
my @strays = grep { my $p = $_; !grep { $_ == $p } @{ $gen{old} }, @{ $gen{new} } } keys %{ $up->{workers} };
is_deeply(\@strays, [], 'upgrade: every answer came from the old or the new workers');
is(RealmAuth::Nginx::children($ngx->master_pid), 2, 'the new master runs two workers');

# The new master's zone is new: its counters hold only what its workers
# answered (counters restart on an upgrade) ...
my %new_pid = map { $_ => 1 } @{ $gen{new} };
my $new_count = sub {
    my ($class, $status) = @_;
    my $n = 0;
    $n += $up->{workers}{$_}{$class}{$status} // 0 for grep { $new_pid{$_} } keys %{ $up->{workers} };
    return $n;
};
is($s3->{verified}, $new_count->('valid', 200),
   'upgrade: the new zone counted exactly the valid answers of the new workers');
for my $class (sort keys %refusal) {
    is($s3->{refused}{ $refusal{$class} }, $new_count->($class, 401),
       "upgrade: refused.$refusal{$class} = $class answers of the new workers");
}
cmp_ok($s3->{verified}, '<', $s2->{verified}, 'upgrade: counters restarted with the new zone');
# ... and its keys came from Redis: no fetch at the issuer.
is(fetch_count($_), 1, "upgrade: still one JWKS fetch for $_ at the issuer") for @realms;
is($s3->{jwks}{http_fetches}, 0, 'upgrade: the new zone fetched nothing over HTTP');
is($s3->{jwks}{redis_hits}, scalar @realms, 'upgrade: one Redis read per issuer filled the new zone');
diag(sprintf('upgrade: %d requests (%d by the old workers, %d by the new), %d keep-alive races, '
             . '%d idle connections closed', $up->{sent},
             (map { my $g = $_; my $n = 0; $n += $_ for values %{ $by_gen{$g} // {} }; $n } qw(old new)),
             $up->{errors}{keepalive_race}, $up->{idle_closed}));

# --------------------------------------------- a reload that resizes the zone

# nginx reuses a zone only at the same name and size: a resize is a new
# zone, filled as after an upgrade (keys from Redis, counters from zero).
{
    my $conf = $ngx->prefix . '/conf/nginx.conf';
    open my $in, '<', $conf or die;
    my $text = do { local $/; <$in> };
    close $in;
    $text =~ s/auth_realm_zone realm_auth:10m;/auth_realm_zone realm_auth:12m;/ or die;
    open my $out, '>', $conf or die;
    print $out $text;
    close $out;
    my $before = $shutdowns->();
    my ($ok, $out_text) = $ngx->cli('-s', 'reload');
    ok($ok && wait_until(5, sub { $shutdowns->() >= $before + 2 }), 'reload with a larger zone')
        or diag($out_text);
    wait_until(5, sub { RealmAuth::Nginx::children($ngx->master_pid) == 2 });
    sleep 0.3;
    is($ngx->get('/api/ok.txt', Authorization => "Bearer $valid[0]")->{status}, 200,
       'resized zone: a valid token accepted');
    my $s = $ngx->status;
    is($s->{zone}{size}, 12 * 1024 * 1024, 'resized zone: the new size');
    is($s->{verified}, 1, 'resized zone: counters restarted');
    is($s->{jwks}{http_fetches} . '/' . $s->{jwks}{redis_hits}, '0/1',
       'resized zone: keys from Redis, no JWKS fetch');
    is(fetch_count('tenant-r1'), 1, 'resized zone: still one fetch at the issuer');
}

# ------------------------------------------------- upgrade without Redis

my @lone = qw(tenant-n1 tenant-n2);
ensure_realm($_, algs => ['RS256']) for @lone;
my $plain = RealmAuth::Nginx->start(conf());
system('mkdir', '-p', $plain->prefix . '/html/api') == 0 or die;
open $fh, '>', $plain->prefix . '/html/api/ok.txt' or die;
print $fh "ok\n";
close $fh;
my %lone_tok = map { $_ => token(realm => $_, exp_in => 900) } @lone;
is($plain->get('/api/ok.txt', Authorization => "Bearer $lone_tok{$_}")->{status}, 200,
   "no Redis: $_ accepted") for @lone;
eval { upgrade($plain) };
is($@, '', 'no Redis: binary upgrade went through');
is($plain->get('/api/ok.txt', Authorization => "Bearer $lone_tok{$_}")->{status}, 200,
   "no Redis: $_ accepted by the new master") for @lone;
is(fetch_count($_), 2, "no Redis: the upgrade cost one more JWKS fetch for $_") for @lone;

# --------------------------------------------------------------- error log

for my $n ([$ngx, 'with Redis'], [$plain, 'without Redis']) {
    my $text = $n->[0]->error_log;
    my @bad = grep { /\[(warn|error|crit|alert|emerg)\]/ || /exited on signal|exited with code [1-9]/ }
        split /\n/, $text;
    is_deeply(\@bad, [], "error log $n->[1]: nothing at warn or above, no worker died")
        or diag(join "\n", @bad[0 .. ($#bad < 20 ? $#bad : 19)]);
}

$ngx->stop;
$plain->stop;
$redis->stop;
done_testing();
