#!/usr/bin/perl
# Governance end to end, against the running local stack (`make up`):
# policy decisions and the audit ledger as the sidecar really uses them.
#   - X-Purpose reaches the decision and every ledger row of the request;
#   - platform_admin creates a tenant and a user: REQUEST, AUTHZ_DECISION
#     (allow + reason), TENANT_CREATED / USER_CREATED, no password stored;
#   - a tenant auditor (real tenant-realm token) is denied user.create (403,
#     reason in the ledger), may read its tenant, and lists only its own;
#   - the same through a second sidecar asking a real OPA serving
#     conf/policy/realm_auth.rego (identical decisions), then OPA stopped:
#     fail closed, the reason recorded;
#   - the chain verifies (SQL re-implementation and `realm-sidecar audit verify`).
#   prove -It/e2e/lib t/e2e/060-governance.t
# The OPA part needs the sidecar binary (REALM_SIDECAR_BIN or
# build/bin/realm-sidecar) and OPA (OPA or scripts/install-opa.sh).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use IO::Socket::INET;
use JSON::PP;
use POSIX ':sys_wait_h';
use E2E::Stack qw(root env secret http_json token random_slug require_keycloak);
use E2E::Util qw(sql_rows ledger_rows free_port wait_http spawn stop);

require_keycloak();
my $psql = -x '/usr/bin/psql' ? '/usr/bin/psql' : `command -v psql` =~ s/\s+\z//r;
plan skip_all => 'psql not installed' unless $psql && -x $psql;

my $JSON = JSON::PP->new->utf8->canonical;
my $kc   = env('KEYCLOAK_URL');
my $root = root();

# call(METHOD, BASE, PATH, token => T, purpose => P, json => REF)
# → (status, decoded body, request id)
sub call {
    my ($method, $base, $path, %o) = @_;
    my ($st, $body, $res) = http_json($method, "$base$path", %o);
    return ($st, $body, $res->{headers}{'x-request-id'} // '');
}

sub ledger_for {
    my ($request_id) = @_;
    die "bad request id" unless $request_id =~ /\A[A-Za-z0-9._-]+\z/;
    return ledger_rows("request_id = '$request_id'");
}
sub types { join ' ', map { $_->{event_type} } @_ }


my $bin  = $ENV{REALM_SIDECAR_BIN} // "$root/build/bin/realm-sidecar";
my $work = env('STATE_DIR') . '/e2e';
mkdir $work;

# The stack's sidecar when it runs, else a private one on a free port (same
# configuration, scripts/stack/sidecar.sh run serve), stopped at the end.
my ($sidecar, $own_pid) = ('http://' . env('SIDECAR_HOST') . ':' . env('SIDECAR_PORT'));
unless (HTTP::Tiny->new(timeout => 5)->get("$sidecar/healthz")->{status} == 200) {
    plan skip_all => "sidecar not running at $sidecar and no binary at $bin" unless -x $bin;
    my $port = free_port();
    $own_pid = spawn("$work/060-sidecar.log", cmd => ["$root/scripts/stack/sidecar.sh", 'run', 'serve'],
                     REALM_SIDECAR_BIN => $bin, SIDECAR_PORT => $port, POLICY_URL => '');
    $sidecar = "http://127.0.0.1:$port";
    plan skip_all => "private sidecar did not start (see $work/060-sidecar.log)" unless wait_http("$sidecar/healthz", 30);
}
END { stop($own_pid) if $own_pid }


my $op = token(env('PLATFORM_REALM'), env('PLATFORM_CLI_CLIENT_ID'),
               user => env('PLATFORM_OPERATOR_USER'), password => secret('operator.password'));
ok $op, 'operator token' or BAIL_OUT('no operator token');

my $slug    = random_slug('gov');
my $purpose = "e2e governance $slug";

subtest 'tenant.create: purpose and decision in the ledger' => sub {
    my ($st, $b, $rid) = call(POST => $sidecar, '/tenants', token => $op, purpose => $purpose,
                              json => { slug => $slug, display_name => "Governance $slug" });
    is $st, 201, 'tenant created' or diag explain $b;
    ok $rid, "request id $rid";
    my @rows = ledger_for($rid);
    is types(@rows), 'REQUEST AUTHZ_DECISION TENANT_CREATED', 'events in order';
    is_deeply [map { $_->{purpose} } @rows], [($purpose) x 3], 'X-Purpose on every row';
    is $rows[0]{details}{purpose}, $purpose, 'REQUEST details: the AuthorizeRequest with the purpose';
    is $rows[0]{details}{action}, 'tenant.create', 'REQUEST details: action';
    is $rows[1]{decision}, 'allow', 'decision allow';
    is $rows[1]{reason}, 'platform_admin of realm platform', 'reason';
    is $rows[2]{tenant_id}, $slug, 'outcome names the tenant';
    is $rows[2]{details}{realm}, "tenant-$slug", 'outcome details: realm';
};

subtest 'no X-Purpose: 400 and no work' => sub {
    my ($st, $b, $rid) = call(POST => $sidecar, '/tenants', token => $op,
                              json => { slug => random_slug('gov'), display_name => 'x' });
    is $st, 400, 'HTTP 400';
    ok $rid, 'the refusal carries its request id' or return;
    is scalar(ledger_for($rid)), 0, 'nothing in the ledger for that request';
};

my ($user_id, $pw);
subtest 'user.create by platform_admin: roles recorded, password never' => sub {
    my ($st, $b, $rid) = call(POST => $sidecar, "/tenants/$slug/users", token => $op, purpose => $purpose,
                              json => { username => 'aud1', email => "aud1\@$slug.example",
                                        first_name => 'Au', last_name => 'Ditor', roles => ['auditor'] });
    is $st, 201, 'user created' or diag explain $b;
    ($user_id, $pw) = ($b->{user_id}, $b->{temporary_password});
    ok $pw, 'temporary password returned once';
    my @rows = ledger_for($rid);
    is types(@rows), 'REQUEST AUTHZ_DECISION USER_CREATED', 'events';
    is_deeply $rows[2]{details}{roles}, ['auditor'], 'roles recorded';
    is $rows[2]{details}{user_id}, $user_id, 'user id recorded';
    my $dump = $JSON->encode(\@rows);
    unlike $dump, qr/\Q$pw\E/, 'the password is in no row';
};

# Log in as the auditor: a permanent password and no pending action
# (set through the Admin API with the provisioning identity).
my $aud;
subtest 'auditor token from tenant realm' => sub {
    my $prov = token('master', env('PROVISIONER_CLIENT_ID'), secret => secret('provisioner.secret'));
    ok $prov, 'provisioner token' or return;
    my $pass = 'E2e-' . random_slug('pw');
    my ($st) = http_json(PUT => "$kc/admin/realms/tenant-$slug/users/$user_id/reset-password", token => $prov,
                         json => { type => 'password', value => $pass, temporary => JSON::PP::false });
    is $st, 204, 'permanent password set';
    ($st) = http_json(PUT => "$kc/admin/realms/tenant-$slug/users/$user_id", token => $prov,
                      json => { requiredActions => [], emailVerified => JSON::PP::true });
    is $st, 204, 'required actions cleared';
    $aud = token("tenant-$slug", 'admin-console', user => 'aud1', password => $pass);
    ok $aud, 'auditor logs in';
};

# The decisions every policy implementation must give; reasons included.
my @cases = (
    [ 'auditor user.create → deny', sub { $aud }, POST => "/tenants/$slug/users",
      { username => 'xuser1', email => "xuser1\@$slug.example", first_name => 'X', last_name => 'Y', roles => ['officer'] },
      403, 'deny', 'user.create requires platform_admin of realm platform or tenant_admin of the same tenant' ],
    [ 'auditor tenant.read → allow', sub { $aud }, GET => "/tenants/$slug", undef,
      200, 'allow', "auditor of tenant $slug" ],
    [ 'auditor tenant.list → own tenant only', sub { $aud }, GET => '/tenants', undef,
      200, 'allow', "scoped to own tenant $slug (auditor)" ],
    [ 'auditor tenant.delete → deny', sub { $aud }, DELETE => "/tenants/$slug", undef,
      403, 'deny', 'tenant.delete requires platform_admin of realm platform' ],
    [ 'platform_admin tenant.read → allow', sub { $op }, GET => "/tenants/$slug", undef,
      200, 'allow', 'platform_admin of realm platform' ],
);

sub run_cases {
    my ($base, $label) = @_;
    for my $c (@cases) {
        my ($name, $tok, $method, $path, $json, $want_st, $want_dec, $want_reason) = @$c;
        subtest "$label: $name" => sub {
            plan skip_all => 'no auditor token' unless $tok->();
            my ($st, $b, $rid) = call($method => $base, $path, token => $tok->(), purpose => "$purpose ($label)",
                                      $json ? (json => $json) : ());
            is $st, $want_st, "HTTP $want_st" or diag explain $b;
            like $b->{detail}, qr/\Q$want_reason\E/, '403 detail carries the reason' if $st == 403;
            if ($path eq '/tenants' && $st == 200) {
                my @items = @{ ref $b eq 'HASH' ? ($b->{tenants} // $b->{items} // []) : $b };
                is_deeply [map { $_->{tenant_id} // $_->{slug} } @items], [$slug], 'only its own tenant listed';
            }
            my @rows = ledger_for($rid);
            my ($dec) = grep { $_->{event_type} eq 'AUTHZ_DECISION' } @rows;
            ok $dec, 'decision recorded' or return;
            is $dec->{decision}, $want_dec, "decision $want_dec";
            is $dec->{reason}, $want_reason, 'reason recorded';
            is $dec->{purpose}, "$purpose ($label)", 'purpose recorded';
            ok !(grep { $_->{event_type} =~ /_CREATED|_DELETED/ } @rows), 'no outcome for a denial' if $want_dec eq 'deny';
        };
    }
}

run_cases($sidecar, 'built-in');

# --- the same through OPA -----------------------------------------------------

my ($opa_pid, $sc_pid);
SKIP: {
    skip "no sidecar binary at $bin (REALM_SIDECAR_BIN)", 1 unless -x $bin;
    my $opa = $ENV{OPA} // `$root/scripts/install-opa.sh 2>/dev/null` =~ s/\s+\z//r;
    skip 'OPA not available (scripts/install-opa.sh needs Go)', 1 unless $opa && -x $opa;

    my $opa_port = free_port();
    $opa_pid = spawn("$work/060-opa.log", cmd => [$opa, 'run', '--server', '--addr', "127.0.0.1:$opa_port",
                     '--log-level', 'error', '--skip-version-check', "$root/conf/policy/realm_auth.rego"]);
    ok wait_http("http://127.0.0.1:$opa_port/health", 30), "OPA serving realm_auth.rego on :$opa_port" or skip 'OPA did not start', 1;

    my $sc_port = free_port();
    $sc_pid = spawn("$work/060-sidecar-opa.log",
                    cmd => ["$root/scripts/stack/sidecar.sh", 'run', 'serve'],
                    REALM_SIDECAR_BIN => $bin, SIDECAR_PORT => $sc_port, POLICY_TIMEOUT_MS => 1500,
                    POLICY_URL => "http://127.0.0.1:$opa_port/v1/data/realm_auth/decision");
    my $sc2 = "http://127.0.0.1:$sc_port";
    ok wait_http("$sc2/healthz", 30), "second sidecar with POLICY_URL on :$sc_port" or skip 'sidecar did not start', 1;

    run_cases($sc2, 'OPA');

    stop($opa_pid);
    undef $opa_pid;
    subtest 'OPA stopped: fail closed, reason recorded' => sub {
        my ($st, $b, $rid) = call(GET => $sc2, "/tenants/$slug", token => $op, purpose => "$purpose (OPA down)");
        is $st, 403, 'platform_admin denied while the policy service is down';
        like $b->{detail}, qr/policy service: unreachable/, 'detail says why';
        my ($dec) = grep { $_->{event_type} eq 'AUTHZ_DECISION' } ledger_for($rid);
        is $dec->{decision}, 'deny', 'deny recorded';
        like $dec->{reason}, qr/^policy service: unreachable/, 'reason recorded';
    };
}
stop($sc_pid);
stop($opa_pid);

subtest 'cleanup: tenant.delete recorded' => sub {
    my ($st, $b, $rid) = call(DELETE => $sidecar, "/tenants/$slug", token => $op, purpose => $purpose);
    ok $st == 200 || $st == 204, "deleted (HTTP $st)" or diag explain $b;
    is types(ledger_for($rid)), 'REQUEST AUTHZ_DECISION TENANT_DELETED', 'events';
};

subtest 'the chain verifies' => sub {
    # Only unkeyed rows (before migration 0006) recompute in SQL; keyed rows
    # need the key, which the database never holds (audit verify below).
    my ($bad) = sql_rows("SELECT count(*) FROM audit_ledger a WHERE a.key_id = ''"
                       . " AND a.row_hash IS DISTINCT FROM audit_ledger_row_hash(a)");
    is $bad, 0, 'every unkeyed row_hash recomputes in SQL';
    my ($sqlkeyed) = sql_rows("SELECT count(*) FROM audit_ledger a WHERE a.key_id <> ''"
                            . " AND audit_ledger_row_hash(a) IS NOT NULL");
    is $sqlkeyed, 0, 'the database cannot compute a keyed row_hash';
    my ($links) = sql_rows("SELECT count(*) FROM (SELECT prev_hash, lag(row_hash, 1, repeat('0', 64))"
                         . " OVER (ORDER BY seq) AS e FROM audit_ledger) c WHERE prev_hash <> e");
    is $links, 0, 'every prev_hash links';
    my ($n, $max) = split /\|/, (sql_rows('SELECT count(*), max(seq) FROM audit_ledger'))[0];
    is $n, $max, "seq 1..$max without gaps";
    SKIP: {
        skip "no sidecar binary at $bin", 1 unless -x $bin;
        local $ENV{REALM_SIDECAR_BIN} = $bin;
        my $out = `$root/scripts/stack/sidecar.sh run audit verify 2>&1`;
        like $out, qr/^ok: \d+ rows, chain intact/, "realm-sidecar audit verify: $out";
    }
};

done_testing;
