#!/usr/bin/perl
# Backup and restore, as docs/OPERATIONS.md "Backup and restore" tells an
# operator to do it (issue 10 item 8; run `make up` first):
#   - the head published before a pg_dump is reached by the chain restored
#     from that dump (`audit verify` against the backup's head: exit 0);
#   - against the live head, published after more rows were written, the
#     restored ledger is reported as cut (exit 1, "ends at seq"): a restore
#     looks exactly like a truncation, by design;
#   - the documented way on (keep the old head aside, `audit publish`,
#     `audit verify`) gives an intact chain, and the kept head still names
#     the last lost row;
#   - `reconcile --check` on the restored database names the tenant created
#     after the dump as a realm without a row (drift, exit 1).
# The dump is restored into a scratch database (realm_auth_075), so the
# stack's own database and head are never touched.
#   prove -It/e2e/lib -It/lib t/e2e/075-backup-restore.t
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use File::Copy qw(copy move);
use File::Temp qw(tempdir);
use Test::More;
use E2E::Stack qw(env random_slug);
use E2E::Util qw(sql_rows);
use E2E::Sidecar qw(api operator_token require_sidecar sidecar_cli create_tenant delete_tenant);

require_sidecar();
my $op = operator_token() or BAIL_OUT('no operator token');
my $root = E2E::Stack::root();
my $work = tempdir('e2e075-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $scratch = 'realm_auth_075';
my $owner = env('POSTGRES_USER');

sub pg_tool {
    my ($tool, @args) = @_;
    my $bin = -x "/usr/bin/$tool" ? "/usr/bin/$tool" : $tool;
    local $ENV{PGPASSFILE} = env('SECRETS_DIR') . '/pgpass';
    my $out = `'$bin' -h 127.0.0.1 -p @{[env('POSTGRES_PORT')]} -U $owner @args 2>&1`;
    return ($? >> 8, $out);
}
# A sidecar sub-command against the scratch database and a given head file.
sub cli_on {
    my ($head, @args) = @_;
    local $ENV{POSTGRES_DB} = $scratch;
    local $ENV{AUDIT_HEAD_FILE} = $head;
    my ($rc, @out) = sidecar_cli(@args);
    return ($rc, join '', @out);
}
sub governed_reads { api(GET => '/audit?limit=1', token => $op, purpose => 'e2e 075') for 1 .. $_[0] }

system("$root/scripts/stack/postgres.sh", 'drop-db', $scratch);

# 1. Backing up: publish, keep the head, dump.
governed_reads(2);
my ($rc, @out) = sidecar_cli('audit', 'publish');
is $rc, 0, 'audit publish before the backup' or diag @out;
my $live_head = env('STATE_DIR') . '/sidecar/ledger-head';
ok copy($live_head, "$work/ledger-head.before"), 'the head kept with the backup';
my ($dump_rc, $dump_out) = pg_tool('pg_dump', '-Fc', '-d', env('POSTGRES_DB'), '-f', "$work/realm_auth.dump");
is $dump_rc, 0, 'pg_dump of realm_auth' or diag $dump_out;
my ($seq_at_dump) = sql_rows('SELECT max(seq) FROM audit_ledger');

# 2. Life goes on after the backup: a tenant, more ledger rows, a newer head.
my $slug = random_slug('e2e075');
my ($st) = create_tenant($op, $slug);
is $st, 201, "tenant $slug created after the dump";
governed_reads(2);
($rc, @out) = sidecar_cli('audit', 'publish');
is $rc, 0, 'audit publish after it' or diag @out;
ok copy($live_head, "$work/ledger-head.live"), 'a copy of the live head';
my ($seq_live) = sql_rows('SELECT max(seq) FROM audit_ledger');
cmp_ok $seq_live, '>', $seq_at_dump, "the live ledger went on ($seq_at_dump -> $seq_live)";

# 3. Restoring into a scratch database.
ok system("$root/scripts/stack/postgres.sh", 'ensure-db', $scratch, $owner, 'postgres.password') == 0,
    "scratch database $scratch";
my ($res_rc, $res_out) = pg_tool('pg_restore', '--no-owner', '-d', $scratch, "$work/realm_auth.dump");
is $res_rc, 0, 'pg_restore' or diag $res_out;
{
    local $ENV{POSTGRES_DB} = $scratch;
    is system("$root/scripts/stack/sidecar.sh", 'migrate') >> 8, 0, 'migrate on the restored database (nothing to do)';
}

subtest 'the restored chain reaches the head kept with the backup' => sub {
    my ($vrc, $vout) = cli_on("$work/ledger-head.before", 'audit', 'verify');
    is $vrc, 0, 'audit verify: exit 0' or diag $vout;
    like $vout, qr/reaches the published head seq \d+/,
        'names the head it reached';
};

subtest 'against the live head the restore looks like a cut tail' => sub {
    copy("$work/ledger-head.live", "$work/ledger-head") or die "copy: $!";
    my ($vrc, $vout) = cli_on("$work/ledger-head", 'audit', 'verify');
    is $vrc, 1, 'audit verify: exit 1';
    like $vout, qr/ends at seq \d+.*seq $seq_live/s, "names the lost rows (up to seq $seq_live)" or diag $vout;
    my ($prc, $pout) = cli_on("$work/ledger-head", 'audit', 'publish');
    isnt $prc, 0, 'audit publish refuses to move the head back';
    like $pout, qr/TAMPERING/, 'and says why' or diag $pout;
};

subtest 'the documented way on' => sub {
    ok move("$work/ledger-head", "$work/ledger-head.lost"), 'the old head kept aside';
    my ($prc, $pout) = cli_on("$work/ledger-head", 'audit', 'publish');
    is $prc, 0, 'audit publish' or diag $pout;
    my ($vrc, $vout) = cli_on("$work/ledger-head", 'audit', 'verify');
    is $vrc, 0, 'audit verify: exit 0' or diag $vout;
    my ($lrc, $lout) = cli_on("$work/ledger-head.lost", 'audit', 'verify');
    like $lout, qr/seq $seq_live/, 'the kept head still names the last lost row';
};

subtest 'reconcile --check names what the restore lost' => sub {
    my ($crc, $cout) = cli_on("$work/ledger-head", 'reconcile', '--check');
    is $crc, 1, 'drift: exit 1' or diag $cout;
    like $cout, qr/^drift:.*tenant-\Q$slug\E\b/m, "the realm of $slug has no row" or diag $cout;
    unlike $cout, qr/^drift:.*tenant-demo\b.*without/m, 'tenants older than the dump are not drift';
};

delete_tenant($op, $slug);
system("$root/scripts/stack/postgres.sh", 'drop-db', $scratch);
done_testing;
