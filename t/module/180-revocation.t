# Fleet-wide revocation (issue 9 item 2): realm-sidecar appends sealed
# revocation records to the stream `<prefix>revocations` (core
# revocation_feed.h); one poller per nginx reads it into the zone's
# revocation table and every worker refuses the tokens they name
# (token_revoked, 401), verified-token cache hits included, within 2 s.
# Two nginx instances with two workers each share one Redis:
#   user record      → that user's tokens issued before it refused, others pass
#   session record   → only tokens carrying that sid
#   tenant record    → the whole tenant, not the others
#   re-enable        → a token issued at or after not_before passes
#   service account  → no sid, revoked by sub
#   forged/unsealed  → ignored and counted
#   poller killed    → another worker takes the claim, records keep arriving
#   Redis restarted empty, stream recreated with lower ids → reread from 0-0,
#                      known records keep applying, new ones arrive
#   table full       → a tenant-wide record for the tenant (fail closed)
#   configuration    → nginx -t names the directive
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(sleep time);

use RealmAuth::Issuer qw(:all);
use RealmAuth::Nginx;
use RealmAuth::Prometheus qw(parse_prometheus);
use RealmAuth::Redis;

RealmAuth::Nginx::require_module();

my $redis = eval { RealmAuth::Redis->start };
plan skip_all => "redis-server not available: $@" unless $redis;

start_issuer();
ensure_realm($_, algs => ['RS256']) for qw(tenant-acme tenant-other tenant-full);

my $prefix = "rv$$:";
my $stream = "${prefix}revocations";
my $life = 3600;    # a record outlives every token it names

# What realm-sidecar appends (core revocation_feed.cc): one field "r", the
# record's text sealed for the stream's full key, expiring with the record.
sub entry {
    my (%o) = @_;
    my $kind = $o{kind} // 'user';
    my $nbf = $o{nbf} // int(time) + 1;
    my $exp = $o{exp} // $nbf + $life;
    my $text = join ' ', $kind, $o{tenant} // 'acme', $o{subject} // '-', $nbf, $exp;
    my $key = $o{stream} // $stream;
    return $o{raw} // $redis->seal($key, $text, expires => $exp * 1000, %{ $o{seal} // {} });
}
sub publish {
    my (%o) = @_;
    return $redis->cmd('XADD', $o{stream} // $stream, $o{id} // '*', 'r', entry(%o));
}

my %conf = (
    workers => 2, master => 1,
    http => "auth_realm_zone realm_auth:16m;\n" . $redis->directive(prefix => $prefix),
    server => q{
        location /api/ {
            auth_realm on;
            auth_realm_issuer $TEST_NGINX_ISSUER/realms/tenant-*;
            add_header X-Worker $pid always;
            add_header X-Auth-Error $realm_auth_error always;
            # not `return`: it answers in the rewrite phase, before access
            proxy_pass http://127.0.0.1:$TEST_NGINX_ISSUER_PORT/echo/;
        }
        location = /realm-auth/status { auth_realm_status; }
    },
);
my $na = RealmAuth::Nginx->start(%conf);
my $nb = RealmAuth::Nginx->start(%conf);
my @fleet = ([$na, 'A'], [$nb, 'B']);

sub tok {
    my ($user, %o) = @_;
    my $realm = $o{realm} // 'tenant-acme';
    my %claims = %{ $o{claims} // {} };
    return token(realm => $realm, username => $user, claims => \%claims);
}
sub sub_of { user_id($_[1] // 'tenant-acme', $_[0]) }

# Calls until both workers of the instance answered; returns
# { pid => [status, auth error, www-authenticate] } (at most 40 calls).
sub per_worker {
    my ($ngx, $token) = @_;
    my %seen;
    for (1 .. 40) {
        my $r = $ngx->get('/api/x', Authorization => "Bearer $token");
        $seen{ $r->{headers}{'x-worker'} // '?' } //=
            [$r->{status}, $r->{headers}{'x-auth-error'} // '', $r->{headers}{'www-authenticate'} // ''];
        last if keys %seen >= 2;
    }
    return \%seen;
}
# Whether every worker of every instance answers `want` for the token.
# A refusal counts only as token_revoked (not, say, a key that could not be
# fetched while a worker restarts).
sub everywhere {
    my ($token, $want) = @_;
    for my $n (@fleet) {
        my $seen = per_worker($n->[0], $token);
        return 0 unless keys %$seen >= 2;
        return 0 if grep { $_->[0] != $want || ($want == 401 && $_->[1] ne 'token_revoked') }
                    values %$seen;
    }
    return 1;
}
sub revoked_answer {
    my ($ngx, $token) = @_;
    my $r = $ngx->get('/api/x', Authorization => "Bearer $token");
    return $r->{status} == 401 && ($r->{headers}{'x-auth-error'} // '') eq 'token_revoked';
}
# Seconds until every worker of every instance refuses the token (undef
# when that took longer than `secs`).
sub refused_within {
    my ($token, $secs, $t0) = @_;
    $t0 //= time;
    my @pending = @fleet;
    while (@pending) {
        @pending = grep { !revoked_answer($_->[0], $token) } @pending;
        last unless @pending;
        return undef if time - $t0 > $secs;
        sleep 0.02;
    }
    my $took = time - $t0;
    return everywhere($token, 401) ? $took : undef;
}
sub status_of { my ($ngx, $token) = @_; $ngx->get('/api/x', Authorization => "Bearer $token")->{status} }
sub rev { my ($ngx) = @_; $ngx->status->{revocation} // {} }
# Sleeps until a token minted now has iat >= nbf (the issuer's iat is
# CORE::time, whose coarse clock may lag Time::HiRes's by a tick).
sub after { my ($nbf) = @_; sleep 0.05 while CORE::time() < $nbf }

# --- every token passes before any revocation (and is cached) -------------
my %t = (
    alice   => tok('alice', claims => { sid => 'sid-alice-1' }),
    alice2  => tok('alice', claims => { sid => 'sid-alice-2' }),
    bob1    => tok('bob', claims => { sid => 'sid-bob-1' }),
    bob2    => tok('bob', claims => { sid => 'sid-bob-2' }),
    svc     => tok('service-account-reports', claims => { sid => undef }),
    dave    => tok('dave'),
    carol   => tok('carol', realm => 'tenant-other'),
    noiat   => tok('nina', claims => { iat => undef }),
);
for my $name (sort keys %t) {
    ok(everywhere($t{$name}, 200), "$name passes on every worker of A and B (then cached)");
}
my $s0 = rev($na);
ok(defined $s0->{capacity} && $s0->{capacity} > 0, 'status: revocation capacity')
    or diag explain $na->status;

# --- a user record ----------------------------------------------------------
my $t0 = time;
publish(kind => 'user', subject => sub_of('alice'));
my $took = refused_within($t{alice}, 2, $t0);
ok(defined $took, sprintf 'user record: alice refused on every worker of A and B within 2 s (%.2f s)',
   $took // -1);
ok(everywhere($t{alice2}, 401), "alice's other session refused too (cached)");
my $seen = per_worker($na, $t{alice});
my ($one) = values %$seen;
is($one->[1], 'token_revoked', '$realm_auth_error is token_revoked');
like($one->[2], qr/error="invalid_token", error_description="token revoked"/,
     'WWW-Authenticate names it');
ok(everywhere($t{bob1}, 200), 'bob still passes');
ok(everywhere($t{carol}, 200), 'carol (other tenant) still passes');
ok(everywhere(tok('alice', claims => { iat => int(time) - 10 }), 401), "a fresh alice token issued before the record: refused");
like($na->error_log, qr/\[info\].*token refused: token_revoked/, 'refusal logged at info');
ok(($na->status->{refused}{token_revoked} // 0) > 0, 'status: refused.token_revoked counted');

# --- a token without iat that a record names is refused ---------------------
publish(kind => 'user', subject => sub_of('nina'));
ok(defined refused_within($t{noiat}, 2), 'a token without iat named by a record: refused');

# --- re-enable: a token issued at or after not_before passes ---------------
my $nbf = int(time) + 1;
publish(kind => 'user', subject => sub_of('alice'), nbf => $nbf);
after($nbf);
my $fresh = tok('alice', claims => { sid => 'sid-alice-3' });
sleep 0.6;    # the record has been applied by now
ok(everywhere($fresh, 200), 'alice re-enabled: her token issued after not_before passes');
ok(everywhere($t{alice}, 401), 'her old token stays refused');

# --- a session record -------------------------------------------------------
publish(kind => 'session', subject => 'sid-bob-1');
ok(defined refused_within($t{bob1}, 2), "session record: bob's session 1 refused everywhere");
ok(everywhere($t{bob2}, 200), "bob's session 2 passes");
ok(everywhere($t{alice2}, 401), 'alice still refused');

# --- a service-account token (no sid) is revoked by sub --------------------
publish(kind => 'user', subject => sub_of('service-account-reports'));
ok(defined refused_within($t{svc}, 2), 'service account (no sid) revoked by sub')
    or diag explain [per_worker($na, $t{svc}), per_worker($nb, $t{svc}), rev($na)];

# --- forged and unsealed records are ignored and counted -------------------
my $rejected = rev($na)->{rejected} // 0;
publish(kind => 'user', subject => sub_of('dave'), seal => { secret => 'x' x 43 });
publish(kind => 'user', subject => sub_of('dave'), raw => 'user acme ' . sub_of('dave') . ' 1 9999999999');
$redis->cmd('XADD', $stream, '*', 'r',    # sealed for another key
            entry(kind => 'user', subject => sub_of('dave'), stream => "${prefix}elsewhere"));
sleep 1;
ok(everywhere($t{dave}, 200), 'forged, unsealed and moved records change nothing: dave passes');
my $r1 = rev($na);
ok(($r1->{rejected} // 0) >= $rejected + 3, "rejected records counted ($r1->{rejected})")
    or diag explain $r1;

# --- a tenant record ---------------------------------------------------------
$nbf = int(time) + 1;
publish(kind => 'tenant', tenant => 'acme', nbf => $nbf);
ok(defined refused_within($t{dave}, 2), 'tenant record: every acme token refused (dave)');
ok(everywhere($t{bob2}, 401), 'bob too');
ok(everywhere($t{carol}, 200), 'another tenant passes');
after($nbf);
ok(everywhere(tok('erin'), 200), 'an acme token issued after the tenant record passes');

# --- one poller per nginx, counters -----------------------------------------
my $p0 = rev($na);
sleep 2;
my $p1 = rev($na);
my $polls = ($p1->{polls} // 0) - ($p0->{polls} // 0);
ok($polls >= 3 && $polls <= 12, "one poller for A's two workers: $polls polls in 2 s (interval 250 ms)");
ok(($p1->{records} // 0) >= 5, "status: records ($p1->{records})");
ok(defined $p1->{cursor} && $p1->{cursor} =~ /^\d+-\d+$/, "status: cursor ($p1->{cursor})");
ok(defined $p1->{last_poll_age_ms} && $p1->{last_poll_age_ms} < 1000,
   "status: last poll age ($p1->{last_poll_age_ms} ms)");
is($p1->{poll_errors} // -1, 0, 'no poll errors while Redis is up');

# --- the polling worker dies: another takes the claim ----------------------
# (tenant-other from here on: acme's tenant record would refuse its tokens
# issued before it, whatever the record under test says)
my $poller = $p1->{poller_pid};
ok($poller && kill(0, $poller), "status names the polling worker ($poller)");
kill 'KILL', $poller if $poller;
$t0 = time;
publish(kind => 'user', tenant => 'other', subject => sub_of('frank', 'tenant-other'));
$took = refused_within(tok('frank', realm => 'tenant-other', claims => { iat => int(time) - 1 }), 3, $t0);
ok(defined $took, sprintf 'polling worker killed: a new record still arrives (%.2f s)', $took // -1);

# --- a record past its expires is dropped ----------------------------------
my $deadline;
my $dropped = rev($na)->{dropped} // 0;
my $ivan = tok('ivan');
$nbf = int(time) + 1;
publish(kind => 'user', subject => sub_of('ivan'), nbf => $nbf, exp => $nbf + 2);
ok(defined refused_within($ivan, 2), 'a short-lived record refuses ivan');
$deadline = time + 8;
sleep 0.25 while (rev($na)->{dropped} // 0) == $dropped && time < $deadline;
ok((rev($na)->{dropped} // 0) > $dropped, 'and is dropped once expired (revocation.dropped)');

# --- the same numbers in the Prometheus text format -------------------------
{
    my $before = rev($na);
    my $r = $na->get('/realm-auth/status?format=prometheus');
    my $after = rev($na);
    my ($m, $err) = parse_prometheus($r->{body});
    ok($m, 'status parses as Prometheus text') or diag "$err\n$r->{body}";
    $m //= {};
    is($m->{realm_auth_revocation_capacity}, $after->{capacity}, 'realm_auth_revocation_capacity');
    ok(($m->{realm_auth_revocation_records} // -1) >= 1, 'realm_auth_revocation_records');
    for my $c (['polls', 'realm_auth_revocation_polls_total{result="ok"}'],
               ['poll_errors', 'realm_auth_revocation_polls_total{result="error"}'],
               ['rejected', 'realm_auth_revocation_rejected_total'],
               ['dropped', 'realm_auth_revocation_dropped_total']) {
        my ($k, $series) = @$c;
        my $v = $m->{$series};
        ok(defined $v && $v >= $before->{$k} && $v <= $after->{$k},
           "$series between the JSON before and after ($before->{$k} <= " . ($v // 'absent')
           . " <= $after->{$k})");
    }
    ok(($m->{realm_auth_revocation_rejected_total} // 0) >= 1, 'forged records counted as rejected');
    ok(defined $m->{realm_auth_revocation_last_poll_age_seconds}, 'last poll age');
    ok(($m->{'realm_auth_requests_total{reason="token_revoked",result="refused"}'} // 0) >= 1,
       'token_revoked refusals');
}

# --- a new nginx reads the stream before it serves a tenant token ----------
my $nc = RealmAuth::Nginx->start(%conf);
ok(revoked_answer($nc, $t{alice}), 'a new nginx refuses a revoked token on its very first request');
is(status_of($nc, $t{carol}), 200, 'and serves the others');
$nc->stop;

# --- Redis down: known records keep applying; back empty: new ones arrive --
$redis->stop;
sleep 1;
ok(everywhere($t{alice}, 401), 'Redis down: alice stays refused');
ok(everywhere($t{bob1}, 401), 'Redis down: the session record stays');
ok(everywhere($t{carol}, 200), 'Redis down: carol passes');
ok((rev($na)->{poll_errors} // 0) > 0, 'status: poll errors counted');
$redis->restart;    # empty: the stream is gone
# Rebuilt with ids below every instance's cursor (a lagging replica, an old
# snapshot): only a reader that notices the rebuild rereads from 0-0.
$t0 = time;
publish(kind => 'user', tenant => 'other', subject => sub_of('grace', 'tenant-other'), id => '1-1');
$took = refused_within(tok('grace', realm => 'tenant-other', claims => { iat => int(time) - 1 }), 2.5, $t0);
ok(defined $took, sprintf 'Redis back empty, stream rebuilt with lower ids: reread, grace refused (%.2f s)',
   $took // -1);
ok(everywhere($t{alice}, 401), 'records from before the outage still apply');
ok(everywhere($t{carol}, 200), 'carol passes');
# deleted and recreated (ids below the cursor, now 1-1: a recreated
# stream's ids are otherwise newer than any cursor, and read as new entries)
$redis->cmd('DEL', $stream);
publish(kind => 'user', tenant => 'other', subject => sub_of('heidi', 'tenant-other'), id => '1-0');
ok(defined refused_within(tok('heidi', realm => 'tenant-other', claims => { iat => int(time) - 1 }), 2.5),
   'stream deleted and recreated: reread, heidi refused');

# --- table full: the tenant of a record that did not fit is revoked --------
my $small = RealmAuth::Nginx->start(%conf,
    http => "auth_realm_zone realm_auth:16m;\n" . $redis->directive(prefix => "small$$:")
          . "\nauth_realm_revocation_records 4;");
my $small_stream = "small$$:revocations";
my $kept = tok('kept', realm => 'tenant-full');
my $other = tok('carol', realm => 'tenant-other');
my %u = map { ($_ => tok($_, realm => 'tenant-full')) } qw(u1 u5);
is(status_of($small, $kept), 200, 'table of 4: a tenant-full token passes');
$nbf = int(time) + 1;
# short-lived, so that they are dropped afterwards from a crowded table
publish(stream => $small_stream, tenant => 'full', subject => sub_of("u$_", 'tenant-full'), nbf => $nbf,
        exp => $nbf + 8) for 1 .. 5;
$deadline = time + 2;
sleep 0.05 while !revoked_answer($small, $kept) && time < $deadline;
ok(revoked_answer($small, $kept),
   'the fifth record did not fit: every tenant-full token from before it is refused (fail closed)');
ok(revoked_answer($small, $u{u5}), 'the user whose record did not fit is refused');
ok(revoked_answer($small, $u{u1}), 'the users whose records fit are refused');
is(status_of($small, $other), 200, 'another tenant passes');
my $rs = rev($small);
is($rs->{capacity}, 4, 'status: capacity 4');
ok(($rs->{overflowed} // 0) >= 1, "status: overflowed records counted ($rs->{overflowed})")
    or diag explain $rs;
like($small->error_log, qr/\[(warn|error)\].*revocation table.*full/, 'a full table is logged');
after($nbf);
is(status_of($small, tok('kept', realm => 'tenant-full')), 200,
   'a tenant-full token issued after the records passes');
$deadline = time + 15;
sleep 0.25 while (rev($small)->{records} // -1) != 0 && time < $deadline;
$rs = rev($small);
is($rs->{records}, 0, "every record of the full table dropped once expired ($rs->{dropped} dropped)");

# --- configuration ---------------------------------------------------------
my ($ok, $out) = RealmAuth::Nginx->config_test(
    http => "auth_realm_zone realm_auth:1m;\nauth_realm_revocation_records 4;",
    server => 'location / { auth_realm on; auth_realm_issuer http://x/realms/tenant-*; }');
ok(!$ok && $out =~ /"auth_realm_revocation_records" needs "auth_realm_redis"/,
   'nginx -t: revocation records without Redis named') or diag $out;
($ok, $out) = RealmAuth::Nginx->config_test(
    http => "auth_realm_zone realm_auth:1m;\n" . $redis->directive(prefix => 'x:')
          . "\nauth_realm_revocation_records 1000000;",
    server => 'location / { auth_realm on; auth_realm_issuer http://x/realms/tenant-*; }');
ok(!$ok && $out =~ /"auth_realm_revocation_records 1000000" needs .* "auth_realm_zone"/,
   'nginx -t: a table larger than the zone allows is named') or diag $out;
($ok, $out) = RealmAuth::Nginx->config_test(
    http => "auth_realm_zone realm_auth:1m;\n" . $redis->directive(prefix => 'x:')
          . "\nauth_realm_revocation_interval 5s;",
    server => 'location / { auth_realm on; auth_realm_issuer http://x/realms/tenant-*; }');
ok(!$ok && $out =~ /"auth_realm_revocation_interval"/, 'nginx -t: an interval beyond 1 s is refused')
    or diag $out;

for my $n (@fleet, [$small, 'small']) {
    my $log = $n->[0]->error_log;
    $log =~ s/.*worker process \d+ exited on signal 9.*\n//g;    # the one we killed
    unlike($log, qr/\[(alert|crit|emerg)\]/, "no alerts in $n->[1]'s error log")
        or diag join "\n", grep { /\[(alert|crit|emerg)\]/ } split /\n/, $log;
}
$_->[0]->stop for @fleet;
$small->stop;
$redis->stop;
done_testing();
