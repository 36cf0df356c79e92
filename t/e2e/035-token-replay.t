#!/usr/bin/perl
# Tokens are not replayable across services (run `make up`).
#
# A tenant_admin calls a tenant API (/api/) through nginx. The backend must
# not be able to act as that admin at the sidecar:
#   - nginx does not forward the caller's Authorization to /api/ backends
#     (the sample backend echoes what it received);
#   - whatever token a backend holds on its own (its tenant-services
#     service account) lacks the sidecar's audience (realm-sidecar) and is
#     refused by nginx on /tenants and by the sidecar itself when called
#     directly (audiences checked by default);
#   - the sidecar refuses tokens of a disabled tenant on its own, even when
#     nginx is bypassed.
#   prove -It/e2e/lib t/e2e/035-token-replay.t
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use E2E::Stack qw(env http_json token jwt_payload random_slug require_keycloak);
use E2E::Sidecar qw(api operator_token create_tenant delete_tenant kc_admin activate_user
                    new_password require_sidecar sidecar_cli);
use E2E::Util qw(ledger_rows);

require_keycloak();
require_sidecar();
my $op = operator_token() or BAIL_OUT('no operator token');
my $slug = random_slug('e2er');
my $sidecar = 'http://' . env('SIDECAR_HOST') . ':' . env('SIDECAR_PORT');

my ($st, $body) = create_tenant($op, $slug);
is $st, 201, 'tenant created' or BAIL_OUT(explain $body);

($st, $body) = api(POST => "/tenants/$slug/users", token => $op, json => {
    username => 'boss', email => 'boss@x.org', first_name => 'B', last_name => 'B', roles => ['tenant_admin'] });
is $st, 201, 'tenant_admin created' or BAIL_OUT(explain $body);
my $pw = new_password();
ok activate_user("tenant-$slug", $body->{user_id}, $pw), 'required action completed';
my $admin = token("tenant-$slug", 'admin-console', user => 'boss', password => $pw)
    or BAIL_OUT('tenant_admin cannot log in');

# What the backend sees of one /api/ call by the tenant admin.
my ($ast, $echo) = api(GET => '/api/orders', token => $admin);
is $ast, 200, 'tenant_admin calls /api/ through nginx' or diag explain $echo;
my $received = ref $echo ? ($echo->{authorization} // '') : '';
(my $backend_token = $received) =~ s/^Bearer\s+//i;

subtest 'the backend receives identity headers, not the bearer token' => sub {
    is $echo->{tenant_id}, $slug, 'X-Tenant-Id reaches the backend';
    ok !length $received, 'Authorization is not forwarded to /api/ backends'
        or diag 'the backend received: ' . substr($received, 0, 12) . '…';
};

# What a backend would do with a token it received: create a user as the
# caller. With nothing received, it can only use its own credentials.
my $user_json = sub {
    my ($name) = @_;
    return { username => $name, email => "$name\@x.org", first_name => 'R', last_name => 'R',
             roles => ['tenant_admin'] };
};
subtest 'a received token cannot be replayed at the sidecar' => sub {
    plan skip_all => 'no token reached the backend' unless length $backend_token;
    my ($rst, $rb) = api(POST => "/tenants/$slug/users", token => $backend_token,
                         json => $user_json->('replayed'));
    isnt $rst, 201, "replayed /api/ token creates no user (got $rst)";
    is $rst, 401, 'refused as a token for another audience';
};

# The backend's own identity: tenant-services client credentials.
my (undef, $clients) = kc_admin(GET => "/tenant-$slug/clients?clientId=tenant-services");
my $cid = ref $clients ? $clients->[0]{id} : '';
my (undef, $sec) = kc_admin(GET => "/tenant-$slug/clients/$cid/client-secret");
my $svc = token("tenant-$slug", 'tenant-services', secret => ref $sec ? $sec->{value} : '');
ok $svc, 'backend service account token';

subtest "the backend's own token is not a sidecar token" => sub {
    my ($p) = jwt_payload($svc);
    my @aud = ref $p->{aud} ? @{ $p->{aud} } : ($p->{aud} // ());
    ok !(grep { $_ eq 'realm-sidecar' } @aud), 'service account token lacks aud realm-sidecar';
    my $before = scalar ledger_rows("tenant_id = '$slug'");
    my ($rst, $rb) = api(POST => "/tenants/$slug/users", token => $svc, json => $user_json->('svc1'));
    is $rst, 401, 'nginx refuses it on /tenants (audience)' or diag explain $rb;
    ($rst, $rb) = http_json(POST => "$sidecar/tenants/$slug/users", token => $svc,
                            purpose => 'replay', json => $user_json->('svc2'));
    is $rst, 401, 'the sidecar refuses it when called directly (audience checked by default)'
        or diag explain $rb;
    is scalar ledger_rows("tenant_id = '$slug'"), $before, 'no ledger row for either attempt';
};

subtest 'the sidecar honours tenant state on its own' => sub {
    my ($dst) = api(PATCH => "/tenants/$slug", token => $op, json => { enabled => JSON::PP::false });
    is $dst, 200, 'tenant disabled';
    # Straight to the sidecar: nginx (and its tenant-state refresh) is not involved.
    my ($rst, $rb) = http_json(POST => "$sidecar/tenants/$slug/users", token => $admin,
                               purpose => 'after disable', json => $user_json->('late'));
    is $rst, 401, "a disabled tenant's still-valid token is refused by the sidecar" or diag explain $rb;
    like ref $rb ? $rb->{detail} // '' : $rb, qr/disabled/i, 'detail says disabled';
    ($dst) = api(PATCH => "/tenants/$slug", token => $op, json => { enabled => JSON::PP::true });
    is $dst, 200, 'tenant enabled again';
    ($rst, $rb) = http_json(GET => "$sidecar/tenants/$slug", token => $admin, purpose => 'after enable');
    is $rst, 200, 'accepted again once enabled' or diag explain $rb;
};

subtest 'reconcile adds the realm-sidecar audience to realms created before it' => sub {
    my (undef, $cl) = kc_admin(GET => "/tenant-$slug/clients?clientId=admin-console");
    my $console = ref $cl ? $cl->[0]{id} : '';
    my $mappers = sub {
        my (undef, $m) = kc_admin(GET => "/tenant-$slug/clients/$console/protocol-mappers/models");
        return grep { $_->{name} eq 'audience realm-sidecar' } @{ ref $m ? $m : [] };
    };
    my ($m) = $mappers->();
    ok $m, 'admin-console carries the realm-sidecar audience mapper';
    my ($dst) = kc_admin(DELETE => "/tenant-$slug/clients/$console/protocol-mappers/models/$m->{id}");
    is $dst, 204, 'mapper removed (a realm of the old spec)';
    my @out = sidecar_cli('reconcile');
    like "@out", qr/upgraded=1\b/, 'realm-sidecar reconcile reports one realm upgraded';
    ok scalar $mappers->(), 'mapper back';
    my $again = token("tenant-$slug", 'admin-console', user => 'boss', password => $pw);
    my ($p) = jwt_payload($again);
    ok((grep { $_ eq 'realm-sidecar' } @{ $p->{aud} // [] }), 'new console tokens carry aud realm-sidecar');
};

is delete_tenant($op, $slug), 204, 'cleanup';
done_testing;
