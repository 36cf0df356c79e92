#!/usr/bin/perl
# Governed endpoints are not a free ledger writer (run `make up`).
#
# One authenticated actor loops calls the policy denies (an officer asking
# to create tenants): each would write two permanent ledger rows. Then:
#   - through nginx (shipped config): 429 after the bound, the actor's
#     ledger rows bounded, another actor unaffected;
#   - a private sidecar with a small bucket (REALM_SIDECAR_RATE_BURST=5),
#     called directly: exactly 5 calls reach the ledger (10 rows), the rest
#     get 429 problem+json with Retry-After, GET /status counts every
#     refusal, another actor is unaffected.
#   prove -It/e2e/lib t/e2e/063-rate-limit.t
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use File::Temp qw(tempdir);
use Test::More;
use E2E::Stack qw(root env http_json token jwt_payload random_slug require_keycloak);
use E2E::Sidecar qw(api operator_token create_tenant delete_tenant activate_user new_password
                    require_sidecar);
use E2E::Util qw(ledger_rows free_port wait_http spawn stop);

require_keycloak();
require_sidecar();
my $op = operator_token() or BAIL_OUT('no operator token');
my $slug = random_slug('e2eq');
my ($st, $body) = create_tenant($op, $slug);
is $st, 201, 'tenant created' or BAIL_OUT(explain $body);

my %tok;
for my $name (qw(flooder bystander)) {
    ($st, $body) = api(POST => "/tenants/$slug/users", token => $op, json => {
        username => $name, email => "$name\@x.org", first_name => 'F', last_name => 'F', roles => ['officer'] });
    is $st, 201, "$name created" or BAIL_OUT(explain $body);
    my $pw = new_password();
    ok activate_user("tenant-$slug", $body->{user_id}, $pw), "$name activated";
    $tok{$name} = token("tenant-$slug", 'admin-console', user => $name, password => $pw)
        or BAIL_OUT("$name cannot log in");
}
my ($flooder_claims) = jwt_payload($tok{flooder});
my $sub = $flooder_claims->{sub};
like $sub, qr/^[0-9a-f-]{36}$/, 'flooder subject';
my $rows = sub { scalar ledger_rows("actor_id = '$sub'") };

# An officer may not create tenants: every call is a policy deny.
my $denied = sub {
    my ($base, $who, $n) = @_;
    return http_json(POST => "$base/tenants", token => $tok{$who}, purpose => "flood $n",
                     json => { slug => "q$n" . lc random_slug('x'), display_name => 'flood' });
};

subtest 'through nginx: per-actor bound, other actors unaffected' => sub {
    my $base = 'http://localhost:' . env('NGINX_PORT');
    my $before = $rows->();
    my (%codes, $first_429);
    for my $n (1 .. 300) {
        my ($cst) = $denied->($base, 'flooder', $n);
        $codes{$cst}++;
        $first_429 //= $n if $cst == 429;
    }
    diag 'status counts: ' . join ', ', map { "$_ x$codes{$_}" } sort keys %codes;
    ok $codes{429}, 'the loop gets 429 after the bound' . ($first_429 ? " (first at call $first_429)" : '');
    ok !grep({ !/^(403|429)$/ } keys %codes), 'only 403 (denied) and 429 (limited)';
    my $written = $rows->() - $before;
    cmp_ok $written, '<=', 2 * ($codes{403} // 0), 'ledger rows only for calls that were not limited';
    cmp_ok $written, '<', 2 * 300, "ledger rows bounded: $written for 300 calls";
    my ($bst) = $denied->($base, 'bystander', 0);
    is $bst, 403, 'another actor of the same tenant is not limited (403 from policy, not 429)';
    # nginx's own limit is keyed on the verified actor: its refusals are in
    # access.log (limit_req=REJECTED) under that actor, not one shared key.
    my $log = env('STATE_DIR') . '/nginx/access.log';
    open my $fh, '<', $log or return fail("cannot read $log");
    my $nginx_rejected = grep { /actor=\Q$slug:$sub\E limit_req=REJECTED/ } <$fh>;
    close $fh;
    diag "nginx rejected $nginx_rejected of the flooder's calls";
    ok $nginx_rejected > 0, 'nginx limit_req refused the flooder under its verified actor key';
};

subtest 'the sidecar: its own bucket, and a counter of refusals' => sub {
    my $root = root();
    my $bin = $ENV{REALM_SIDECAR_BIN} // "$root/build/bin/realm-sidecar";
    plan skip_all => "no sidecar binary at $bin" unless -x $bin;
    my $port = free_port();
    my $work = tempdir(CLEANUP => 1);
    my $pid = spawn("$work/sidecar.log", cmd => ["$root/scripts/stack/sidecar.sh", 'run', 'serve'],
                    REALM_SIDECAR_BIN => $bin, SIDECAR_PORT => $port, POLICY_URL => '',
                    RECONCILE_INTERVAL => 0,
                    REALM_SIDECAR_RATE_BURST => 5, REALM_SIDECAR_RATE_PER_MINUTE => 1);
    my $base = "http://127.0.0.1:$port";
    ok wait_http("$base/healthz", 15), 'private sidecar up' or do {
        diag `tail -n 20 $work/sidecar.log`;
        stop($pid);
        return;
    };
    my $before = $rows->();
    my (%codes, $last);
    for my $n (1 .. 20) {
        my ($cst, $cb, $res) = $denied->($base, 'flooder', $n);
        $codes{$cst}++;
        $last = [$cst, $cb, $res] if $cst == 429;
    }
    diag 'status counts: ' . join ', ', map { "$_ x$codes{$_}" } sort keys %codes;
    is $codes{403}, 5, 'the first 5 calls reach the policy (burst 5)';
    is $codes{429}, 15, 'the other 15 get 429';
    is $rows->() - $before, 10, 'ledger: 2 rows for each of the 5, none for the 15';
    if ($last) {
        like $last->[2]{headers}{'content-type'} // '', qr{problem\+json}, '429 is problem+json';
        like $last->[2]{headers}{'retry-after'} // '', qr/^\d+$/, 'Retry-After';
        like ref $last->[1] ? $last->[1]{detail} : '', qr/rate/i, 'detail names the rate limit';
    }
    my ($bst) = $denied->($base, 'bystander', 0);
    is $bst, 403, 'another actor is not limited';
    my ($sst, $status) = http_json(GET => "$base/status");
    is $sst, 200, 'GET /status';
    is $status->{rate_limit}{refused_total}, 15, 'refused_total counts every refusal' or diag explain $status;
    cmp_ok $status->{rate_limit}{actors_tracked}, '>=', 2, 'actors tracked';
    cmp_ok $status->{rate_limit}{actors_max}, '>=', $status->{rate_limit}{actors_tracked}, 'bounded table';
    my ($nst) = http_json(GET => 'http://localhost:' . env('NGINX_PORT') . '/status');
    is $nst, 404, 'not published through nginx';
    stop($pid);
};

is delete_tenant($op, $slug), 204, 'cleanup';
done_testing;
