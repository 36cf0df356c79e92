#!/usr/bin/perl
# Provisioning that a crash cannot corrupt (issue 10, item 1). For each step
# of tenant creation and of user creation, a private sidecar built with the
# test-only crash switch (build/bin/realm-sidecar-fault,
# REALM_SIDECAR_CRASH_AFTER=<saga>:<step>) SIGKILLs itself right after that
# step while serving the request (the client gets no answer); the normal
# daemon is then started again on the same port, as `make up` would, and
# its start-up recovery settles what was left. Then:
#   - the tenant is complete (row active, realm with the spec's clients,
#     roles and mappers: `reconcile --check` names nothing of it) or leaves
#     no trace (no realm, no row);
#   - the user exists with its roles and a password, or does not exist;
#   - the ledger rows of that attempt (its request_id) end with exactly one
#     outcome saying which: TENANT_CREATED / USER_CREATED, or
#     PROVISIONING_FAILED;
#   - `realm-sidecar reconcile --check` exits 0 at the end.
# Also: the release daemon (build/bin/realm-sidecar) does not contain the
# switch.
#   prove -It/e2e/lib -It/lib t/e2e/073-crash-recovery.t
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use JSON::PP;
use File::Temp qw(tempdir);
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep);
use E2E::Stack qw(root env random_slug require_keycloak);
use E2E::Util qw(sql_rows ledger_rows free_port wait_http spawn stop psql_path);
use E2E::Sidecar qw(api operator_token kc_admin require_sidecar sidecar_cli delete_tenant);

require_keycloak();
require_sidecar();
BAIL_OUT('psql not installed') unless psql_path();
my $root  = root();
my $bin   = $ENV{REALM_SIDECAR_BIN} // "$root/build/bin/realm-sidecar";
my $fault = $ENV{REALM_SIDECAR_FAULT_BIN} // "$root/build/bin/realm-sidecar-fault";
plan skip_all => "no $fault (configure with -DREALM_SIDECAR_FAULT_INJECTION=ON, as `make build` does)"
    unless -x $fault;
my $JSON = JSON::PP->new->utf8->canonical;

subtest 'the switch exists only in the test build' => sub {
    my $has = sub { my ($f) = @_; open my $fh, '<:raw', $f or die "$f: $!"; local $/; index(<$fh>, 'REALM_SIDECAR_CRASH_AFTER') >= 0 };
    ok !$has->($bin), 'realm-sidecar does not contain REALM_SIDECAR_CRASH_AFTER';
    ok $has->($fault), 'realm-sidecar-fault does';
};

my $op = operator_token() or BAIL_OUT('no operator token');
my $work = tempdir(CLEANUP => 1);
my $port = free_port();
my $base = "http://127.0.0.1:$port";
my (@cleanup, $pid);
END { stop($pid) if $pid; delete_tenant($op, $_) for @cleanup }

# One life of the private sidecar; returns when /healthz answers and, for a
# normal start, once its start-up reconcile has logged its report.
sub start_sidecar {
    my ($binary, $log, %env) = @_;
    open my $fh, '>', $log or die;
    close $fh;
    $pid = spawn($log, cmd => ["$root/scripts/stack/sidecar.sh", 'run', 'serve'],
                 REALM_SIDECAR_BIN => $binary, SIDECAR_PORT => $port, %env);
    wait_http("$base/healthz", 30) or do { diag `tail -n 20 $log`; BAIL_OUT("sidecar did not start") };
    return if $env{REALM_SIDECAR_CRASH_AFTER};
    for (1 .. 300) {
        open my $in, '<', $log or die;
        return if grep { /reconcile: finished=/ } <$in>;
        sleep 0.2;
    }
    diag `tail -n 20 $log`;
    fail 'start-up reconcile reported within 60 s';
}

sub post {
    my ($path, $json) = @_;
    my $ua = HTTP::Tiny->new(timeout => 120, agent => 'realm-auth-e2e/1');
    return $ua->request(POST => "$base$path", {
        headers => { 'Content-Type' => 'application/json', Accept => 'application/json',
                     Authorization => "Bearer $op", 'X-Purpose' => 'e2e 073 crash recovery' },
        content => $JSON->encode($json) });
}

# Crash at $step while serving POST $path, restart normally; returns the
# request_id of the attempt (from its REQUEST row).
sub crash_and_restart {
    my ($step, $action, $tenant, $path, $json) = @_;
    my ($seq0) = sql_rows('SELECT coalesce(max(seq), 0) FROM audit_ledger');
    start_sidecar($fault, "$work/$step.crash.log", REALM_SIDECAR_CRASH_AFTER => $step);
    my $res = post($path, $json);
    is $res->{status}, 599, "$step: the client got no answer" or diag "$res->{status} $res->{content}";
    waitpid $pid, 0;
    is $? & 127, 9, "$step: the sidecar died of SIGKILL";
    undef $pid;
    my ($rid) = sql_rows("SELECT request_id FROM audit_ledger WHERE seq > $seq0 AND event_type = 'REQUEST'"
                       . " AND action = '$action' AND tenant_id = '$tenant' ORDER BY seq LIMIT 1");
    ok $rid, "$step: the attempt's REQUEST is in the ledger";
    start_sidecar($bin, "$work/$step.restart.log");
    stop($pid);
    undef $pid;
    return $rid // 'none';
}

sub outcomes {
    my ($rid) = @_;
    return grep { $_->{event_type} !~ /^(REQUEST|AUTHZ_DECISION)$/ } ledger_rows("request_id = '$rid'");
}

my ($rc, @drift);
sub drift_of {
    my ($name) = @_;
    ($rc, @drift) = sidecar_cli('reconcile', '--check');
    return grep { /\b\Q$name\E\b/ } grep { /^(drift|error):/ } @drift;
}

my %tally;
for my $step (qw(tenant:row_inserted tenant:realm_created tenant:active)) {
    subtest "crash after $step" => sub {
        my $slug = random_slug('e2ecr');
        push @cleanup, $slug;
        my $rid = crash_and_restart($step, 'tenant.create', $slug, '/tenants',
                                    { slug => $slug, display_name => "crash $slug" });
        my @row = sql_rows("SELECT status FROM tenants WHERE tenant_id = '$slug'");
        my ($kst) = kc_admin(GET => "/tenant-$slug");
        my @out = outcomes($rid);
        my @events = map { $_->{event_type} } @out;
        my $state = @row && $row[0] eq 'active' && $kst == 200 ? 'complete'
                  : !@row && $kst == 404                        ? 'no trace'
                  :                                              'half-made';
        $tally{$step} = $state;
        diag "$step: row=" . (@row ? $row[0] : 'none') . " realm=HTTP $kst ledger outcome=[@events] → $state";
        ok $state ne 'half-made', "$step: complete or no trace";
        is_deeply [drift_of("tenant-$slug"), drift_of($slug)], [], "$step: reconcile --check names nothing of $slug";
        is scalar(@out), 1, "$step: the ledger has one outcome for the attempt";
        my $want = $state eq 'complete' ? 'TENANT_CREATED' : 'PROVISIONING_FAILED';
        is $events[0] // '', $want, "$step: the outcome says $want";
    };
}

my $tenant = random_slug('e2ecu');
push @cleanup, $tenant;
{
    my ($st, $b) = api(POST => '/tenants', token => $op, json => { slug => $tenant, display_name => "crash users" });
    is $st, 201, "tenant $tenant for the user steps" or BAIL_OUT(explain $b);
}
my $n = 0;
for my $step (qw(user:user_created user:roles_assigned user:password_set)) {
    subtest "crash after $step" => sub {
        my $name = 'crash' . ++$n;
        my $rid = crash_and_restart($step, 'user.create', $tenant, "/tenants/$tenant/users",
            { username => $name, email => "$name\@$tenant.localhost", first_name => 'Crash',
              last_name => 'Test', roles => ['officer', 'auditor'] });
        my ($ust, $found) = kc_admin(GET => "/tenant-$tenant/users?exact=true&briefRepresentation=true&username=$name");
        is $ust, 200, "$step: users listed";
        my @users = ref $found eq 'ARRAY' ? @$found : ();
        my $state = 'no trace';
        if (@users) {
            my $id = $users[0]{id};
            my (undef, $rm) = kc_admin(GET => "/tenant-$tenant/users/$id/role-mappings/realm");
            my %roles = map { $_->{name} => 1 } @{ ref $rm eq 'ARRAY' ? $rm : [] };
            my (undef, $cred) = kc_admin(GET => "/tenant-$tenant/users/$id/credentials");
            my $pw = grep { $_->{type} eq 'password' } @{ ref $cred eq 'ARRAY' ? $cred : [] };
            $state = $roles{officer} && $roles{auditor} && $pw ? 'complete' : 'half-made';
        }
        my @out = outcomes($rid);
        my @events = map { $_->{event_type} } @out;
        $tally{$step} = $state;
        diag "$step: user=" . (@users ? 'exists' : 'none') . " ledger outcome=[@events] → $state";
        ok $state ne 'half-made', "$step: the user is complete or does not exist";
        is scalar(@out), 1, "$step: the ledger has one outcome for the attempt";
        my $want = $state eq 'complete' ? 'USER_CREATED' : 'PROVISIONING_FAILED';
        is $events[0] // '', $want, "$step: the outcome says $want";
    };
}

drift_of('');
is $rc, 0, 'reconcile --check exits 0 at the end' or diag @drift;
diag join ', ', map { "$_ → $tally{$_}" } sort keys %tally;

done_testing;
