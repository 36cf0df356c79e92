#!/usr/bin/perl
# Two sidecar processes against one PostgreSQL (issue 10): 20 concurrent
# `POST /tenants` for the same slug, spread over the stack's sidecar and a
# private second one, released at the same instant, give exactly one 201
# and 19 × 409, one realm in Keycloak, one tenant row, one TENANT_CREATED
# ledger row, and one hash chain (seq without gaps, every prev_hash linking,
# `realm-sidecar audit verify` intact). Three rounds, fresh slugs.
#   prove -It/e2e/lib -It/lib t/e2e/071-two-sidecars.t
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use JSON::PP;
use File::Temp qw(tempdir);
use POSIX ();
use E2E::Stack qw(root env random_slug require_keycloak);
use E2E::Util qw(sql_rows free_port wait_http spawn stop psql_path);
use E2E::Sidecar qw(api operator_token kc_admin require_sidecar sidecar_cli delete_tenant);

require_keycloak();
require_sidecar();
BAIL_OUT('psql not installed') unless psql_path();
my $JSON = JSON::PP->new->utf8->canonical;
my $root = root();
my $bin  = $ENV{REALM_SIDECAR_BIN} // "$root/build/bin/realm-sidecar";
plan skip_all => "no sidecar binary at $bin" unless -x $bin;

my $op = operator_token() or BAIL_OUT('no operator token');
my @cleanup;
my $work = tempdir(CLEANUP => 1);
my $port = free_port();
my $second = spawn("$work/sidecar.log", cmd => ["$root/scripts/stack/sidecar.sh", 'run', 'serve'],
                   REALM_SIDECAR_BIN => $bin, SIDECAR_PORT => $port);
END {
    stop($second) if $second;
    delete_tenant($op, $_) for @cleanup;
}
ok wait_http("http://127.0.0.1:$port/healthz", 20), "second sidecar up on :$port"
    or do { diag `tail -n 20 $work/sidecar.log`; BAIL_OUT('second sidecar did not start') };
my @bases = ('http://' . env('SIDECAR_HOST') . ':' . env('SIDECAR_PORT'), "http://127.0.0.1:$port");

for my $round (1 .. 3) {
    subtest "round $round: 20 concurrent creations of one slug over two sidecars" => sub {
        my $slug = random_slug('e2e2s');
        push @cleanup, $slug;
        my ($seq0) = sql_rows('SELECT coalesce(max(seq), 0) FROM audit_ledger');
        pipe my $gate_r, my $gate_w or die "pipe: $!";
        my @pids;
        for my $i (0 .. 19) {
            my $pid = fork // die "fork: $!";
            if (!$pid) {
                close $gate_w;
                my $ua = HTTP::Tiny->new(timeout => 180, agent => 'realm-auth-e2e/1');
                my $req = { headers => { 'Content-Type' => 'application/json', Accept => 'application/json',
                                         Authorization => "Bearer $op", 'X-Purpose' => "e2e 071 #$i" },
                            content => $JSON->encode({ slug => $slug, display_name => "two sidecars $slug" }) };
                sysread $gate_r, my $x, 1;    # EOF: go
                my $res = $ua->request(POST => $bases[$i % 2] . '/tenants', $req);
                open my $fh, '>', "$work/$round.$i" or POSIX::_exit(2);
                print $fh join("\t", $res->{status}, substr($res->{content} // '', 0, 300) =~ s/\s+/ /gr), "\n";
                close $fh;
                POSIX::_exit(0);
            }
            push @pids, $pid;
        }
        close $gate_r;
        close $gate_w;
        waitpid $_, 0 for @pids;
        my (%codes, %by_sidecar, @odd);
        for my $i (0 .. 19) {
            open my $fh, '<', "$work/$round.$i" or do { push @odd, "#$i: no answer"; next };
            my ($st, $body) = split /\t/, scalar(<$fh>) // '', 2;
            $codes{$st}++;
            $by_sidecar{$i % 2}{$st}++;
            push @odd, "#$i ($bases[$i % 2]): $st $body" if $st != 201 && $st != 409;
        }
        diag 'answers: ' . join(', ', map { "$_ x$codes{$_}" } sort keys %codes)
           . '; per sidecar: ' . join(' | ', map { my $s = $_; join ',', map { "$_ x$by_sidecar{$s}{$_}" } sort keys %{ $by_sidecar{$s} } } 0, 1);
        is $codes{201}, 1, 'exactly one 201' or diag join "\n", @odd;
        is $codes{409}, 19, '19 × 409' or diag join "\n", @odd;
        ok $by_sidecar{0}{409} && $by_sidecar{1}{409}, 'both sidecars answered 409s';

        my ($kst, $realms) = kc_admin(GET => '?briefRepresentation=true');
        is $kst, 200, 'realms listed';
        is scalar(grep { $_->{realm} eq "tenant-$slug" } @{ ref $realms eq 'ARRAY' ? $realms : [] }), 1,
            'one realm in Keycloak';
        is_deeply [sql_rows("SELECT status FROM tenants WHERE tenant_id = '$slug'")], ['active'], 'one tenant row, active';
        my ($created) = sql_rows("SELECT count(*) FROM audit_ledger WHERE seq > $seq0 AND event_type = 'TENANT_CREATED'"
                               . " AND tenant_id = '$slug'");
        is $created, 1, 'one TENANT_CREATED row';
        my ($n, $lo, $hi) = split /\|/, (sql_rows("SELECT count(*), min(seq), max(seq) FROM audit_ledger WHERE seq > $seq0"))[0];
        is $hi - $lo + 1, $n, "ledger rows $lo..$hi without a gap";
        my ($links) = sql_rows("SELECT count(*) FROM (SELECT seq, prev_hash, lag(row_hash, 1, repeat('0', 64))"
                             . " OVER (ORDER BY seq) AS e FROM audit_ledger) c WHERE prev_hash <> e");
        is $links, 0, 'every prev_hash links to the previous row_hash: one chain';
    };
}

my ($rc, @out) = sidecar_cli('audit', 'verify');
is $rc, 0, 'realm-sidecar audit verify exits 0' or diag @out;
like "@out", qr/chain intact/, 'chain intact';

done_testing;
