#!/usr/bin/perl
# 50 concurrent governed requests leave one hash chain that verifies
# (run `make up` first). Through nginx, released at the same instant (forked
# clients waiting on one pipe): user creations in tenant A by the platform
# operator (distinct user names), a few tenant creations, denied calls of
# tenant A's auditor, and reads. Then
#   - every answer has the status the built-in policy implies;
#   - every request has its own rows, in order: REQUEST, AUTHZ_DECISION
#     (allow/deny), the outcome for allowed mutations, nothing else;
#   - the ledger grew by exactly those rows, seq has no gap, every prev_hash
#     links and every row_hash recomputes (SQL), and
#     `realm-sidecar audit verify` exits 0 with "chain intact".
# The tenants it created are deleted through the API at the end.
#   prove -It/e2e/lib -It/lib t/e2e/062-concurrent-provisioning.t
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use JSON::PP;
use File::Temp qw(tempdir);
use POSIX ();
use Time::HiRes qw(time);
use E2E::Stack qw(env token random_slug require_keycloak);
use E2E::Util qw(sql_rows);
use E2E::Sidecar qw(api gateway operator_token create_tenant activate_user new_password require_sidecar
                    sidecar_cli);

require_keycloak();
require_sidecar();
my $psql = -x '/usr/bin/psql' ? '/usr/bin/psql' : `command -v psql` =~ s/\s+\z//r;
BAIL_OUT('psql not installed') unless $psql && -x $psql;
my $JSON = JSON::PP->new->utf8->canonical;


my $op = operator_token() or BAIL_OUT('no operator token');
my $A  = random_slug('cpa');
my @cleanup = ($A);
END {
    if ($op) {
        my $tok = operator_token();
        api(DELETE => "/tenants/$_", token => $tok, purpose => 'e2e 062 cleanup') for @cleanup;
    }
}
{
    my ($st, $b) = create_tenant($op, $A);
    is $st, 201, "tenant $A created" or BAIL_OUT('cannot create tenant: ' . explain $b);
}
my $aud;
{
    my ($st, $b) = api(POST => "/tenants/$A/users", token => $op, purpose => 'e2e 062 setup',
        json => { username => 'aud', email => "aud\@$A.example", first_name => 'E2E', last_name => 'Aud', roles => ['auditor'] });
    is $st, 201, 'auditor created' or BAIL_OUT(explain $b);
    my $pw = new_password();
    ok activate_user("tenant-$A", $b->{user_id}, $pw), 'auditor activated';
    $aud = token("tenant-$A", 'admin-console', user => 'aud', password => $pw) or BAIL_OUT('auditor cannot log in');
}

# The 50 requests: [method, path, token, json, status, decision, outcome event].
my $run = random_slug('r');
my @reqs;
push @reqs, map { my $s = random_slug('cpt');
                  [POST => '/tenants', $op, { slug => $s, display_name => "concurrent $s" }, 201, 'allow', 'TENANT_CREATED'] } 1 .. 3;
push @reqs, map { my $n = "u$_-$run";
                  [POST => "/tenants/$A/users", $op, { username => $n, email => "$n\@$A.example", first_name => 'C',
                    last_name => "User$_", roles => ['officer'] }, 201, 'allow', 'USER_CREATED'] } 1 .. 37;
push @reqs, map { my $n = "x$_-$run";
                  [POST => "/tenants/$A/users", $aud, { username => $n, email => "$n\@$A.example", first_name => 'X',
                    last_name => 'Denied', roles => ['officer'] }, 403, 'deny', undef] } 1 .. 4;
push @reqs, [DELETE => "/tenants/$A", $aud, undef, 403, 'deny', undef] for 1 .. 2;
push @reqs, [GET => "/tenants/$A", $aud, undef, 200, 'allow', undef] for 1 .. 2;
push @reqs, [GET => '/tenants', $op, undef, 200, 'allow', undef] for 1 .. 2;
is scalar(@reqs), 50, '50 requests prepared';
push @cleanup, map { $_->[3]{slug} } grep { $_->[1] eq '/tenants' && $_->[0] eq 'POST' } @reqs;

my ($head_before) = sql_rows('SELECT coalesce(max(seq), 0) FROM audit_ledger');

# Fork 50 clients; each blocks on the pipe until the parent closes it, then
# sends its request and writes "status request-id" to its own file.
my $dir = tempdir(CLEANUP => 1);
pipe my $gate_r, my $gate_w or die "pipe: $!";
my @pids;
for my $i (0 .. $#reqs) {
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        close $gate_w;
        my ($method, $path, $tok, $json) = @{ $reqs[$i] };
        my %h = (Accept => 'application/json', Authorization => "Bearer $tok", 'X-Purpose' => "e2e 062 $run #$i");
        my %req = (headers => \%h);
        if ($json) { $h{'Content-Type'} = 'application/json'; $req{content} = $JSON->encode($json) }
        my $ua = HTTP::Tiny->new(timeout => 180, agent => 'realm-auth-e2e/1');
        sysread $gate_r, my $x, 1;      # EOF when the parent releases everyone
        my $t0  = time;
        my $res = $ua->request($method, gateway() . $path, \%req);
        open my $fh, '>', "$dir/$i" or POSIX::_exit(2);
        print $fh join("\t", $res->{status}, $res->{headers}{'x-request-id'} // '', sprintf('%.3f', time - $t0),
                       substr($res->{content} // '', 0, 300) =~ s/\s+/ /gr), "\n";
        close $fh;
        POSIX::_exit(0);
    }
    push @pids, $pid;
}
close $gate_r;
my $t0 = time;
close $gate_w;                            # go
waitpid $_, 0 for @pids;
my $elapsed = time - $t0;
diag sprintf '50 concurrent requests done in %.1f s', $elapsed;

my (@res, %by_status);
for my $i (0 .. $#reqs) {
    open my $fh, '<', "$dir/$i" or do { push @res, [0, '', 0, 'no result']; next };
    chomp(my $l = <$fh> // '');
    push @res, [split /\t/, $l, 4];
}

subtest 'every answer as the policy implies' => sub {
    for my $i (0 .. $#reqs) {
        my ($method, $path, undef, undef, $want) = @{ $reqs[$i] };
        is $res[$i][0], $want, "#$i $method $path → $want" or diag $res[$i][3];
    }
};

subtest 'each request: its own rows, in order' => sub {
    my $expected_rows = 0;
    for my $i (0 .. $#reqs) {
        my (undef, undef, undef, undef, undef, $dec, $outcome) = @{ $reqs[$i] };
        my @rows = map { $JSON->decode($_) } sql_rows(
            "SELECT json_build_object('seq', seq, 'event_type', event_type, 'request_id', request_id,"
          . " 'decision', decision, 'details', details::json)"
          . " FROM audit_ledger WHERE purpose = 'e2e 062 $run #$i' ORDER BY seq");
        my $types = 'REQUEST AUTHZ_DECISION' . ($outcome ? " $outcome" : '');
        $expected_rows += 2 + ($outcome ? 1 : 0);
        is join(' ', map { $_->{event_type} } @rows), $types, "#$i: $types";
        is $rows[1]{decision}, $dec, "#$i: $dec";
        my %rid = map { $_->{request_id} => 1 } @rows;
        is_deeply [keys %rid], [$res[$i][1]], "#$i: one request id, the answer's X-Request-Id" if $res[$i][1];
        is $rows[2]{details}{username}, $reqs[$i][3]{username}, "#$i: USER_CREATED names its user"
            if ($outcome // '') eq 'USER_CREATED';
    }
    my ($head_after) = sql_rows('SELECT max(seq) FROM audit_ledger');
    my ($ours) = sql_rows("SELECT count(*) FROM audit_ledger WHERE purpose LIKE 'e2e 062 $run #%'");
    is $ours, $expected_rows, "$expected_rows rows for the 50 requests";
    my ($between) = sql_rows("SELECT count(*) FROM audit_ledger WHERE seq > $head_before AND seq <= $head_after");
    is $between, $head_after - $head_before, "seq $head_before+1..$head_after contiguous";
    cmp_ok $head_after - $head_before, '>=', $expected_rows, 'the ledger grew by at least those rows';
};

subtest 'the chain verifies' => sub {
    # Unkeyed rows (before migration 0006) recompute in SQL; keyed rows need
    # the key the database never holds (audit verify below checks them).
    my ($bad) = sql_rows("SELECT count(*) FROM audit_ledger a WHERE a.key_id = ''"
                       . " AND a.row_hash IS DISTINCT FROM audit_ledger_row_hash(a)");
    is $bad, 0, 'every unkeyed row_hash recomputes in SQL';
    my ($keyed) = sql_rows("SELECT count(*) FROM audit_ledger WHERE key_id <> '' AND seq > $head_before");
    ok $keyed > 0, "the rows of this run are keyed ($keyed)";
    my ($links) = sql_rows("SELECT count(*) FROM (SELECT prev_hash, lag(row_hash, 1, repeat('0', 64))"
                         . " OVER (ORDER BY seq) AS e FROM audit_ledger) c WHERE prev_hash <> e");
    is $links, 0, 'every prev_hash links to the previous row_hash';
    my ($n, $min, $max) = split /\|/, (sql_rows('SELECT count(*), min(seq), max(seq) FROM audit_ledger'))[0];
    is $min, 1, 'seq starts at 1';
    is $n, $max, "seq 1..$max without gaps";
    my ($rc, @out) = sidecar_cli('audit', 'verify');
    is $rc, 0, 'realm-sidecar audit verify exits 0';
    like join('', @out), qr/^ok: \d+ rows, chain intact/m, 'chain intact: ' . (join('', @out) =~ s/\s+\z//r);
};

subtest 'cleanup: tenants deleted through the API' => sub {
    my $tok = operator_token();
    for my $t (splice @cleanup) {
        my ($st) = api(DELETE => "/tenants/$t", token => $tok, purpose => 'e2e 062 cleanup');
        ok $st == 204, "$t deleted (HTTP $st)";
    }
};

done_testing;
