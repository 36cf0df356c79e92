# reconcile must not act on a tenant a saga holds (found by `make soak`:
# the sidecar's periodic reconcile re-enabled a tenant that
# PATCH enabled=false had just disabled, and nginx served its tokens again).
#
# reconcile read every row once, then for each settled one published its
# record to Redis and "repaired" the realm's enabled flag from that row,
# without the tenant's lock and without reading the row again. A PATCH
# between the two (it disables the realm in Keycloak, then records
# "disabled" in PostgreSQL, then publishes) was undone: the realm enabled
# again, and an "active" record sealed later than the PATCH's "disabled".
#
# Deterministic here: the test takes the tenant's lock as set_enabled does
# (pg_try_advisory_lock(7412002, hashtext(slug)) on its own connection),
# disables the realm in Keycloak (set_enabled's first step) and runs
# `realm-sidecar reconcile`, which must leave the tenant alone; then it
# records the state and releases the lock, as set_enabled would, and the
# next reconcile finds nothing to change.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IPC::Open2 qw(open2);
use JSON::PP;
use Test::More;
use E2E::Stack qw(env random_slug require_keycloak);
use E2E::Sidecar qw(operator_token kc_admin require_sidecar delete_tenant create_tenant);
use E2E::Util qw(sql_rows);
use E2E::Redis qw(stack_redis);

require_keycloak();
require_sidecar();
my $op = operator_token() or BAIL_OUT('no operator token');
my $slug = random_slug('e2erace');
my ($st, $b) = create_tenant($op, $slug);
is $st, 201, 'tenant created' or BAIL_OUT(explain $b);
my $realm = "tenant-$slug";

sub realm_enabled { my ($s, $r) = kc_admin(GET => "/$realm"); return $s == 200 && ref $r ? ($r->{enabled} ? 1 : 0) : "HTTP $s" }
sub redis_raw { my $r = stack_redis(); return $r->cmd('GET', "realm_auth:tenant:$slug") // '' }
sub redis_state {
    my $v = stack_redis()->payload(redis_raw()) // '';
    return $v =~ /^(\w+)/ ? $1 : $v;
}

# The saga's connection: the tenant's lock, held until released below.
local $ENV{PGPASSFILE} = env('SECRETS_DIR') . '/pgpass';
my $pid = open2(my $out, my $in, 'psql', '-X', '-At', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1',
                '-p', env('POSTGRES_PORT'), '-U', env('POSTGRES_USER'), '-d', env('POSTGRES_DB'));
$in->autoflush(1);
print $in "SELECT pg_try_advisory_lock(7412002, hashtext('$slug'));\n";
is scalar(<$out>) =~ s/\s+\z//r, 't', "the test holds the tenant's lock, as a running PATCH would";

my ($kst) = kc_admin(PUT => "/$realm", json => { enabled => JSON::PP::false });
is $kst, 204, "realm disabled in Keycloak (the PATCH's first step; the row still says active)";

my $record = redis_raw();
ok length $record, 'the tenant record as creation published it';
# reconcile's report goes to stderr: both streams.
sub reconcile {
    open my $fh, '-|', 'bash', '-c', E2E::Stack::root() . '/scripts/stack/sidecar.sh run reconcile 2>&1' or die $!;
    my @l = <$fh>;
    close $fh;
    return ($? >> 8, @l);
}
my ($rc, @lines) = reconcile();
is $rc, 0, 'reconcile ran';
my $said = join '', @lines;
unlike $said, qr/\Q$slug\E: repaired/, 'reconcile repaired nothing of the locked tenant' or diag $said;
is realm_enabled(), 0, 'the realm is still disabled: reconcile did not undo the PATCH';
is redis_raw(), $record, 'reconcile published no record (a new "active" one would be sealed after the PATCH\'s)';

# The saga finishes: row, lock, record (what set_enabled does next).
sql_rows("UPDATE tenants SET status = 'disabled', updated_at = now() WHERE tenant_id = '$slug'");
print $in "SELECT pg_advisory_unlock(7412002, hashtext('$slug'));\n";
is scalar(<$out>) =~ s/\s+\z//r, 't', 'lock released';
close $in;
waitpid $pid, 0;

($rc, @lines) = reconcile();
$said = join '', @lines;
unlike $said, qr/\Q$slug\E: repaired/, 'the next reconcile finds nothing to repair' or diag $said;
is realm_enabled(), 0, 'realm disabled';
is redis_state(), 'disabled', 'Redis says disabled (reconcile publishes the row it read under the lock)';

is delete_tenant($op, $slug), 204, 'clean-up';
done_testing;
