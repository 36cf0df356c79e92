#!/usr/bin/perl
# Crash recovery of the provisioning saga (run `make up`): rows and realms
# left behind at each point a crash can leave them are settled by
# `realm-sidecar reconcile` — never a realm without a row, never a row
# without a realm. Then drift: `reconcile --check` names every difference
# between PostgreSQL and Keycloak (a realm without a row, a row without a
# realm, enabled mismatch, a missing role, a changed client flag, a missing
# and a changed mapper), exits 1 and changes nothing; `reconcile` repairs
# what it can and prints what it cannot ("unrepaired:"); a second check
# finds nothing left of the repairable drift.
#   prove -It/e2e/lib t/e2e/033-reconcile.t
use strict;
use warnings;
use File::Temp ();
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use E2E::Stack qw(env http_json random_slug require_keycloak);
use E2E::Sidecar qw(api operator_token kc_admin require_sidecar sidecar_cli delete_tenant create_tenant);

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

# A row as the saga writes it, at a given status.
sub insert_row {
    my ($slug, $status) = @_;
    psql(q{INSERT INTO tenants (tenant_id, realm_name, issuer_url, display_name, status)
           VALUES (:'v1', 'tenant-' || :'v1', :'v2', 'crash test', :'v3')},
         $slug, "$kc/realms/tenant-$slug", $status);
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
    insert_row($before, 'provisioning');
    ok !realm_exists($before), 'no realm';
    reconcile();
    is scalar(psql(q{SELECT 1 FROM tenants WHERE tenant_id = :'v1'}, $before)), 0, 'row gone';
    my ($st) = api(GET => "/tenants/$before", token => $op);
    is $st, 404, 'GET → 404';
};

subtest 'crash after the realm was created → provisioning finished' => sub {
    is create_realm($after), 201, 'realm exists';
    insert_row($after, 'provisioning');
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
    insert_row($failed, 'failed');
    reconcile();
    ok !realm_exists($failed), 'realm deleted';
    is scalar(psql(q{SELECT 1 FROM tenants WHERE tenant_id = :'v1'}, $failed)), 0, 'row gone';
};

# --- drift ------------------------------------------------------------------

my ($drifty, $orphan, $norealm) = map { random_slug("e2ed$_") } qw(a b c);
END {
    kc_admin(DELETE => "/tenant-$orphan") if $orphan;
    psql(q{DELETE FROM tenants WHERE tenant_id = :'v1'}, $norealm) if $norealm;
    delete_tenant($op, $drifty) if $op && $drifty;
}

# Lines of `reconcile --check` (or `reconcile`) about one tenant or realm.
sub about { my ($slug, @lines) = @_; return grep { /^\w+: \Q$slug\E: / } @lines }

sub client_of {
    my ($realm, $client_id) = @_;
    my ($st, $list) = kc_admin(GET => "/$realm/clients?clientId=$client_id");
    return $st == 200 && ref $list eq 'ARRAY' ? $list->[0] : undef;
}

subtest 'a fresh tenant has no drift' => sub {
    my ($st, $b) = create_tenant($op, $drifty);
    is $st, 201, "tenant $drifty created" or return diag explain $b;
    my ($rc, @out) = sidecar_cli('reconcile', '--check');
    ok $rc == 0 || $rc == 1, "reconcile --check ran (exit $rc)" or diag @out;
    is_deeply [about($drifty, @out)], [], 'no drift line about it' or diag @out;
};

subtest 'reconcile --check reports drift, exits 1, changes nothing' => sub {
    my $realm = "tenant-$drifty";
    # Behind the sidecar's back, in Keycloak and PostgreSQL.
    is create_realm($orphan), 201, 'a tenant-* realm without a row';
    insert_row($norealm, 'active');
    my ($st) = kc_admin(PUT => "/$realm", json => { enabled => JSON::PP::false });
    is $st, 204, 'realm disabled in Keycloak while the row says active';
    ($st) = kc_admin(DELETE => "/$realm/roles/auditor");
    is $st, 204, 'role auditor deleted';
    my $console = client_of($realm, 'admin-console') or return fail('admin-console');
    ($st) = kc_admin(PUT => "/$realm/clients/$console->{id}",
                     json => { %$console, directAccessGrantsEnabled => ($console->{directAccessGrantsEnabled} ? JSON::PP::false : JSON::PP::true) });
    is $st, 204, 'admin-console directAccessGrantsEnabled flipped';
    my ($aud) = grep { $_->{name} eq 'audience realm-sidecar' } @{ $console->{protocolMappers} // [] };
    ok $aud, 'audience mapper present';
    ($st) = kc_admin(DELETE => "/$realm/clients/$console->{id}/protocol-mappers/models/$aud->{id}");
    is $st, 204, 'audience mapper deleted';
    my $services = client_of($realm, 'tenant-services') or return fail('tenant-services');
    my ($m) = grep { ref $_->{config} && exists $_->{config}{'access.token.claim'} } @{ $services->{protocolMappers} // [] };
    ok $m, "a tenant-services mapper ($m->{name})";
    $m->{config}{'access.token.claim'} = $m->{config}{'access.token.claim'} eq 'true' ? 'false' : 'true';
    ($st) = kc_admin(PUT => "/$realm/clients/$services->{id}/protocol-mappers/models/$m->{id}", json => $m);
    is $st, 204, "mapper '$m->{name}' changed";

    my ($rc, @out) = sidecar_cli('reconcile', '--check');
    is $rc, 1, 'reconcile --check exits 1' or diag @out;
    my @d = about($drifty, @out);
    like "@d", qr/realm enabled is false, row says true/, 'enabled mismatch' or diag @out;
    like "@d", qr/realm role auditor missing/, 'missing role';
    like "@d", qr/client admin-console: directAccessGrantsEnabled is/, 'client flag';
    like "@d", qr/client admin-console: mapper 'audience realm-sidecar' missing/, 'missing mapper';
    like "@d", qr/client tenant-services: mapper '\Q$m->{name}\E' config access.token.claim/, 'changed mapper';
    like join('', @out), qr/^drift: tenant-\Q$orphan\E: realm without a tenant row$/m, 'realm without a row';
    like join('', @out), qr/^drift: \Q$norealm\E: row active without realm tenant-\Q$norealm\E$/m, 'row without a realm';
    my ($gst, $r) = kc_admin(GET => "/$realm");
    ok $gst == 200 && !$r->{enabled}, 'the check changed nothing: realm still disabled';
    ($gst) = kc_admin(GET => "/$realm/roles/auditor");
    is $gst, 404, 'role still missing';
    ok realm_exists($orphan), 'orphan realm still there';
};

subtest 'reconcile repairs what it can and says what it cannot' => sub {
    my $realm = "tenant-$drifty";
    my ($rc, @out) = sidecar_cli('reconcile');
    is $rc, 0, 'reconcile exits 0' or diag @out;
    like join('', @out), qr/^unrepaired: tenant-\Q$orphan\E: realm without a tenant row: left alone/m,
        'the orphan realm is named, left alone' or diag @out;
    like join('', @out), qr/^unrepaired: \Q$norealm\E: row active without realm/m, 'the row without a realm is named';
    ok realm_exists($orphan), 'orphan realm not deleted';
    my ($st, $r) = kc_admin(GET => "/$realm");
    ok $st == 200 && $r->{enabled}, 'realm enabled again (the row says active)';
    ($st) = kc_admin(GET => "/$realm/roles/auditor");
    is $st, 200, 'role auditor back';
    ($rc, @out) = sidecar_cli('reconcile', '--check');
    is_deeply [about($drifty, @out)], [], 'no drift left on the tenant' or diag @out;
    like "@out", qr/tenant-\Q$orphan\E: realm without a tenant row/, 'the orphan is still reported';
    # The repaired realm works: a user can be created in it.
    my ($ust, $ub) = api(POST => "/tenants/$drifty/users", token => $op, json => {
        username => 'after', email => "after\@$drifty.localhost", first_name => 'E2E', last_name => 'After',
        roles => ['auditor'] });
    is $ust, 201, 'a user with the restored role is created' or diag explain $ub;
};

done_testing;
