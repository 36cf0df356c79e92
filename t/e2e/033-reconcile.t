#!/usr/bin/perl
# Crash recovery of the provisioning saga (run `make up`): rows and realms
# left behind at each point a crash can leave them are settled by
# `realm-sidecar reconcile` — never a realm without a row, never a row
# without a realm.
#   prove -It/e2e/lib t/e2e/033-reconcile.t
use strict;
use warnings;
use File::Temp ();
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use E2E::Stack qw(env http_json random_slug require_keycloak);
use E2E::Sidecar qw(api operator_token kc_admin require_sidecar sidecar_cli delete_tenant);

require_keycloak();
require_sidecar();
my $op = operator_token() or BAIL_OUT('no operator token');
my $kc = env('KEYCLOAK_URL');

# psql(SQL, @params) → rows as "a|b" lines. Parameters go through psql
# variables (:'v1'), quoted by psql itself (it interpolates them in script
# files, not in -c).
sub psql {
    my ($sql, @params) = @_;
    local $ENV{PGPASSFILE} = env('SECRETS_DIR') . '/pgpass';
    my $script = File::Temp->new(SUFFIX => '.sql');
    print $script "$sql;\n";
    close $script;
    my @cmd = ('psql', '-X', '-At', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1', '-p', env('POSTGRES_PORT'),
               '-U', env('POSTGRES_USER'), '-d', env('POSTGRES_DB'));
    push @cmd, '-v', "v$_=$params[$_ - 1]" for 1 .. @params;
    open my $fh, '-|', @cmd, '-f', $script->filename or die "psql: $!";
    my @rows = map { chomp; $_ } <$fh>;
    close $fh;
    return @rows;
}

# A row as the saga writes it, at a given status and step.
sub insert_row {
    my ($slug, $status, $step) = @_;
    psql(q{INSERT INTO tenants (tenant_id, realm_name, issuer_url, display_name, status, saga_step)
           VALUES (:'v1', 'tenant-' || :'v1', :'v2', 'crash test', :'v3', :'v4')},
         $slug, "$kc/realms/tenant-$slug", $status, $step);
}

# The realm part of a tenant, created behind the sidecar's back.
sub create_realm {
    my ($slug) = @_;
    my ($st) = kc_admin(POST => '', json => {
        realm => "tenant-$slug", enabled => JSON::PP::true,
        clients => [{ clientId => 'tenant-services', publicClient => JSON::PP::false,
                      serviceAccountsEnabled => JSON::PP::true, standardFlowEnabled => JSON::PP::false }] });
    return $st;
}

sub realm_exists {
    my ($st) = http_json(GET => "$kc/realms/tenant-$_[0]/.well-known/openid-configuration");
    return $st == 200;
}

sub reconcile {
    # The running sidecar reconciles in the background too; whoever gets
    # the tenant's advisory lock first does it, the end state is the same.
    my ($rc, @out) = sidecar_cli('reconcile');
    is $rc, 0, 'reconcile exits 0' or diag @out;
}

my ($before, $after, $failed) = map { random_slug("e2er$_") } qw(a b c);

subtest 'crash before the realm was created → row dropped' => sub {
    insert_row($before, 'provisioning', 'row_inserted');
    ok !realm_exists($before), 'no realm';
    reconcile();
    is scalar(psql(q{SELECT 1 FROM tenants WHERE tenant_id = :'v1'}, $before)), 0, 'row gone';
    my ($st) = api(GET => "/tenants/$before", token => $op);
    is $st, 404, 'GET → 404';
};

subtest 'crash after the realm was created → provisioning finished' => sub {
    is create_realm($after), 201, 'realm exists';
    insert_row($after, 'provisioning', 'realm_created');
    reconcile();
    my ($st, $b) = api(GET => "/tenants/$after", token => $op);
    is $st, 200, 'GET → 200';
    is $b->{status}, 'active', 'tenant active';
    is((psql(q{SELECT count(*) FROM tenant_secrets WHERE tenant_id = :'v1'}, $after))[0], 1,
       'tenant-services secret stored (sealed)');
    is delete_tenant($op, $after), 204, 'cleanup';
};

subtest 'rollback that could not finish (failed) → realm and row deleted' => sub {
    is create_realm($failed), 201, 'realm exists';
    insert_row($failed, 'failed', 'rollback_pending');
    reconcile();
    ok !realm_exists($failed), 'realm deleted';
    is scalar(psql(q{SELECT 1 FROM tenants WHERE tenant_id = :'v1'}, $failed)), 0, 'row gone';
};

done_testing;
