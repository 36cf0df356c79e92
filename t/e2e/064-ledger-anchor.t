#!/usr/bin/perl
# The audit ledger proves what it claims to someone who does not trust the
# database (issue 10 item 7; run `make up` first):
#   - the sidecar connects as POSTGRES_APP_USER, which cannot UPDATE,
#     DELETE, TRUNCATE or disable the ledger's triggers;
#   - rows are keyed (key_id set, no hash the database can compute);
#   - the owner (POSTGRES_USER), trigger disabled, cuts rows off the tail:
#     `realm-sidecar audit verify` names the missing rows against the head
#     published in .state/sidecar/ledger-head, and the sidecar's publisher
#     reports TAMPERING instead of moving the head back;
#   - the owner re-hashes a suffix with the database's own function:
#     verify names the first re-hashed row;
#   - with the exact rows put back, the chain verifies again (so the suites
#     after this one see an intact ledger).
#   prove -It/e2e/lib -It/lib t/e2e/064-ledger-anchor.t
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use E2E::Stack qw(env);
use E2E::Util qw(sql_rows psql_path);
use E2E::Sidecar qw(api operator_token require_sidecar sidecar_cli);

require_sidecar();
my $psql = psql_path() or BAIL_OUT('psql not installed');
my $op = operator_token() or BAIL_OUT('no operator token');

# (exit code, output with stderr) of SQL run as `user`.
sub psql_err {
    my ($user, $sql) = @_;
    local $ENV{PGPASSFILE} = env('SECRETS_DIR') . '/pgpass';
    my $pid = open(my $fh, '-|') // die "fork: $!";
    if (!$pid) {
        open STDERR, '>&', \*STDOUT or die;
        exec $psql, '-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1',
            '-p', env('POSTGRES_PORT'), '-U', $user, '-d', env('POSTGRES_DB'), '-c', $sql;
        die "exec psql: $!";
    }
    my $out = join '', <$fh>;
    close $fh;
    return ($? >> 8, $out);
}
my $owner = env('POSTGRES_USER');
my $app   = env('POSTGRES_APP_USER');
sub owner_sql { my ($rc, $out) = psql_err($owner, $_[0]); $rc == 0 or die "owner SQL failed: $out\n"; $out }
my $unlock = "GRANT UPDATE, DELETE ON audit_ledger TO $owner;"
           . ' ALTER TABLE audit_ledger DISABLE TRIGGER audit_ledger_no_update_delete;';
my $relock = ' ALTER TABLE audit_ledger ENABLE TRIGGER audit_ledger_no_update_delete;'
           . " REVOKE UPDATE, DELETE ON audit_ledger FROM $owner;";
sub verify { my ($rc, @out) = sidecar_cli('audit', 'verify'); return ($rc, join '', @out) }
owner_sql('DROP TABLE IF EXISTS e2e064_saved');

# A few governed reads: keyed rows.
for (1 .. 3) {
    my ($st) = api(GET => '/audit?limit=1', token => $op, purpose => 'e2e 064');
    is $st, 200, 'GET /audit (writes REQUEST + AUTHZ_DECISION)';
}
my ($head) = sql_rows('SELECT max(seq) FROM audit_ledger');
my ($keyed) = sql_rows("SELECT count(*) FROM audit_ledger WHERE key_id <> '' AND seq > $head - 6");
is $keyed, 6, 'the newest rows are keyed';

subtest 'the application role cannot change the ledger' => sub {
    my ($whoami) = sql_rows("SELECT count(*) FROM pg_roles WHERE rolname = '$app' AND NOT rolsuper");
    is $whoami, 1, "$app exists and is no superuser";
    for my $sql ("UPDATE audit_ledger SET reason = 'x' WHERE seq = $head",
                 "DELETE FROM audit_ledger WHERE seq = $head",
                 'TRUNCATE audit_ledger',
                 'ALTER TABLE audit_ledger DISABLE TRIGGER audit_ledger_no_update_delete',
                 'ALTER TABLE audit_ledger DISABLE TRIGGER ALL',
                 'SET session_replication_role = replica') {
        my ($rc, $out) = psql_err($app, $sql);
        isnt $rc, 0, "refused: $sql";
        like $out, qr/permission denied|must be owner/, 'permission denied';
    }
    my ($rc, $out) = psql_err($app, 'SELECT count(*) FROM audit_ledger');
    is $rc, 0, 'it may read';
};

subtest 'published head' => sub {
    my ($rc, @out) = sidecar_cli('audit', 'publish');
    is $rc, 0, 'audit publish' or diag @out;
    like join('', @out), qr/^(published|unchanged): seq $head /, "head seq $head published";
    my $out;
    ($rc, $out) = verify();
    is $rc, 0, 'verify' or diag $out;
    like $out, qr/^ok: \d+ rows, chain intact .*reaches the published head seq $head/, $out =~ s/\s+\z//r;
};

subtest 'the owner cuts off the tail' => sub {
    owner_sql($unlock . " CREATE TABLE e2e064_saved AS SELECT * FROM audit_ledger WHERE seq > $head - 2;"
            . " DELETE FROM audit_ledger WHERE seq > $head - 2;" . $relock);
    my ($rc, $out) = verify();
    is $rc, 1, 'audit verify fails';
    like $out, qr/^BROKEN at seq @{[$head - 1]} .*published as its head/, $out =~ s/\s+\z//r;
    ($rc, my @p) = sidecar_cli('audit', 'publish');
    is $rc, 1, 'audit publish refuses to move the head back';
    like join('', @p), qr/^TAMPERING: the ledger ends at seq @{[$head - 2]}, but seq $head was published/,
        join('', @p) =~ s/\s+\z//r;
    owner_sql($unlock . ' INSERT INTO audit_ledger SELECT * FROM e2e064_saved; DROP TABLE e2e064_saved;' . $relock);
    ($rc, $out) = verify();
    is $rc, 0, 'the rows put back: verify passes again' or diag $out;
};

subtest 'the owner re-hashes a suffix with the database function' => sub {
    my $from = $head - 2;
    owner_sql($unlock . " CREATE TABLE e2e064_saved AS SELECT * FROM audit_ledger WHERE seq >= $from;" . sprintf(q{
DO $$
DECLARE
  r audit_ledger;
  prev text;
BEGIN
  SELECT row_hash INTO prev FROM audit_ledger WHERE seq = %d - 1;
  FOR r IN SELECT * FROM audit_ledger WHERE seq >= %d ORDER BY seq LOOP
    r.key_id := '';
    r.prev_hash := prev;
    IF r.seq = %d THEN r.reason := 'nothing happened'; END IF;
    r.row_hash := audit_ledger_row_hash(r);
    UPDATE audit_ledger SET key_id = r.key_id, prev_hash = r.prev_hash, reason = r.reason,
                            row_hash = r.row_hash WHERE seq = r.seq;
    prev := r.row_hash;
  END LOOP;
END
$$;}, $from, $from, $from) . $relock);
    my ($bad) = sql_rows("SELECT count(*) FROM audit_ledger a WHERE a.key_id = '' AND a.row_hash <> audit_ledger_row_hash(a)");
    is $bad, 0, 'the forged rows recompute in SQL';
    my ($rc, $out) = verify();
    is $rc, 1, 'audit verify fails';
    like $out, qr/^BROKEN at seq $from .*unkeyed row after keyed rows/, $out =~ s/\s+\z//r;
    owner_sql($unlock . ' UPDATE audit_ledger a SET key_id = s.key_id, prev_hash = s.prev_hash,'
            . ' reason = s.reason, row_hash = s.row_hash FROM e2e064_saved s WHERE a.seq = s.seq;'
            . ' DROP TABLE e2e064_saved;' . $relock);
    ($rc, $out) = verify();
    is $rc, 0, 'the rows put back: verify passes again' or diag $out;
};

done_testing;
