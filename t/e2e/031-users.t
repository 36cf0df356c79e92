#!/usr/bin/perl
# Users in tenant realms and the tokens they get (run `make up`):
# created with the right roles and a pending UPDATE_PASSWORD, the temporary
# password returned once; users of tenants A and B log in and nginx verifies
# both tokens with the right tenant_id on /api/; spoofed identity headers are
# overwritten; platform tokens are refused on /api/; tenant tokens cannot
# create tenants (403 from policy) nor touch another tenant.
#   prove -It/e2e/lib t/e2e/031-users.t
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use E2E::Stack qw(env token jwt_payload random_slug require_keycloak);
use E2E::Sidecar qw(api operator_token create_tenant delete_tenant kc_admin activate_user
                    new_password require_sidecar sidecar_cli);

require_keycloak();
require_sidecar();
my $op = operator_token() or BAIL_OUT('no operator token');
my ($a, $b) = (random_slug('e2ea'), random_slug('e2eb'));
for my $t ($a, $b) {
    my ($st, $body) = create_tenant($op, $t, departments => ['finance']);
    is $st, 201, "tenant $t created" or BAIL_OUT('cannot create tenants: ' . explain $body);
}

sub new_user {
    my ($tenant, $name, %o) = @_;
    return api(POST => "/tenants/$tenant/users", token => $o{token} // $op, json => {
        username => $name, email => "$name\@$tenant.localhost", first_name => 'E2E',
        last_name => ucfirst $name, roles => $o{roles} // [$name], %{ $o{extra} // {} } });
}

my %user;  # "tenant/name" → created body
subtest 'create users with roles and a temporary password' => sub {
    for my $r (qw(tenant_admin officer)) {
        my ($st, $u, $res) = new_user($a, $r, $r eq 'officer' ? (extra => { department_id => 'finance' }) : ());
        is $st, 201, "$r created" or diag explain $u;
        $user{"$a/$r"} = $u;
        is_deeply $u->{roles}, [$r], 'roles echoed';
        is_deeply $u->{required_actions}, ['UPDATE_PASSWORD'], 'required action';
        is length($u->{temporary_password} // ''), 20, 'temporary password, 20 characters';
        like $u->{user_id}, qr/^[0-9a-f-]{36}$/, 'user id';
        like $res->{headers}{'cache-control'} // '', qr/no-store/, 'not cacheable';
        my ($kst, $kc) = kc_admin(GET => "/tenant-$a/users/$u->{user_id}");
        is_deeply $kc->{requiredActions}, ['UPDATE_PASSWORD'], 'Keycloak: UPDATE_PASSWORD pending';
        my (undef, $rm) = kc_admin(GET => "/tenant-$a/users/$u->{user_id}/role-mappings/realm");
        ok((grep { $_->{name} eq $r } @{ ref $rm ? $rm : [] }), "Keycloak: realm role $r");
    }
    my ($st, $u) = new_user($b, 'officer');
    is $st, 201, "officer of $b created";
    $user{"$b/officer"} = $u;

    my $temp = $user{"$a/officer"}{temporary_password};
    my $tok = token("tenant-$a", 'admin-console', user => 'officer', password => $temp);
    ok !$tok, 'temporary password alone does not give a token (action pending)';
};

subtest 'user input errors and conflicts' => sub {
    my ($st, $b2) = new_user($a, 'officer');
    is $st, 409, 'duplicate username → 409';
    is $b2->{field}, 'username', 'field username';
    ($st, $b2) = new_user($a, 'someone', roles => ['platform_admin']);
    is $st, 400, 'unknown role → 400';
    is $b2->{field}, 'roles[0]', 'field roles[0]';
    ($st, $b2) = new_user($a, 'someone', roles => ['officer'], extra => { email => 'not-an-email' });
    is $b2->{field}, 'email', 'bad email → field email';
    ($st, $b2) = new_user($a, 'someone', roles => ['officer'], extra => { department_id => 'hr' });
    is $st, 400, 'department not declared by the tenant → 400';
    is $b2->{field}, 'department_id', 'field department_id';
    ($st, $b2) = api(POST => "/tenants/$a/users", token => $op, json => { username => 'x' . 'y' x 3 });
    is $st, 400, 'missing members → 400';
    is $b2->{field}, 'email', 'first missing member named';
};

# Log in as each user after finishing the required action (test-only path).
my %tok;
for my $k ("$a/officer", "$a/tenant_admin", "$b/officer") {
    my ($t, $name) = split m{/}, $k;
    my $pw = new_password();
    ok activate_user("tenant-$t", $user{$k}{user_id}, $pw), "$k: required action completed";
    $tok{$k} = token("tenant-$t", 'admin-console', user => $name, password => $pw);
    ok $tok{$k}, "$k logs in";
}

subtest 'tokens of two tenants verified by nginx, tenant_id from the issuer' => sub {
    my ($claims) = jwt_payload($tok{"$a/officer"});
    is $claims->{department_id}, 'finance', 'department_id claim';
    ok((grep { $_ eq 'tenant-services' } @{ ref $claims->{aud} ? $claims->{aud} : [$claims->{aud}] }),
       'aud has tenant-services');
    for my $k ("$a/officer", "$b/officer") {
        my ($t) = split m{/}, $k;
        my ($st, $echo) = api(GET => '/api/echo', token => $tok{$k},
                              headers => { 'X-Tenant-Id' => 'evil', 'X-Actor-Id' => 'root', 'X-Actor-Roles' => 'platform_admin' });
        is $st, 200, "$k: /api/ accepted";
        is $echo->{tenant_id}, $t, "$k: X-Tenant-Id is the issuer's tenant (spoof overwritten)";
        is $echo->{realm}, "tenant-$t", "$k: realm";
        isnt $echo->{actor_id}, 'root', "$k: X-Actor-Id overwritten";
        unlike $echo->{roles}, qr/platform_admin/, "$k: X-Actor-Roles overwritten";
        like $echo->{roles}, qr/\bofficer\b/, "$k: roles";
        is $echo->{purpose}, 'e2e test', "$k: purpose forwarded";
    }
    my ($st, $echo) = api(GET => '/api/echo', token => $tok{"$a/officer"});
    is $echo->{department_id}, 'finance', 'X-Actor-Department-Id';
    ($st) = api(GET => '/api/echo', token => $tok{"$a/officer"}, purpose => undef);
    is $st, 400, '/api/ requires X-Purpose';
};

subtest 'platform token refused on /api/' => sub {
    my ($st, undef, $res) = api(GET => '/api/echo', token => $op);
    is $st, 401, 'platform issuer not allowed on /api/';
    like $res->{headers}{'www-authenticate'} // '', qr/invalid_token/, 'invalid_token';
};

subtest 'policy: tenant tokens cannot create tenants or cross tenants' => sub {
    my ($st, $body) = create_tenant($tok{"$a/tenant_admin"}, random_slug('e2ex'));
    is $st, 403, 'tenant_admin cannot create tenants';
    like $body->{detail}, qr/tenant\.create denied/, 'detail carries the policy reason';
    ($st) = new_user($b, 'intruder', token => $tok{"$a/tenant_admin"}, roles => ['officer']);
    is $st, 403, "tenant_admin of $a cannot add users to $b";
    ($st) = api(GET => "/tenants/$b", token => $tok{"$a/tenant_admin"});
    is $st, 403, "tenant_admin of $a cannot read $b";
    ($st, $body) = new_user($a, 'supervisor', token => $tok{"$a/tenant_admin"});
    is $st, 201, 'tenant_admin adds a user to its own tenant';
    ($st) = new_user($a, 'auditor', token => $tok{"$a/officer"});
    is $st, 403, 'officer cannot add users';
    ($st, $body) = api(GET => '/tenants', token => $tok{"$a/tenant_admin"});
    is $st, 200, 'tenant_admin lists tenants';
    is_deeply [map { $_->{tenant_id} } @{ $body->{tenants} // [] }], [$a], '… and sees only its own';
};

subtest 'audit ledger: every step recorded, no password' => sub {
    my ($rc, @lines) = sidecar_cli('audit', 'tail', '--tenant', $a, '--limit', '200');
    is $rc, 0, 'audit tail';
    my $all = join '', @lines;
    for my $ev (qw(REQUEST AUTHZ_DECISION TENANT_CREATED USER_CREATED)) {
        like $all, qr/"event_type":"$ev"/, "ledger has $ev";
    }
    like $all, qr/"decision":"deny"/, 'denials recorded';
    for my $u (values %user) {
        unlike $all, qr/\Q$u->{temporary_password}\E/, 'no temporary password in the ledger';
    }
    my $log = E2E::Stack::env('STATE_DIR') . '/sidecar/sidecar.log';
    if (open my $fh, '<', $log) {
        local $/;
        my $text = <$fh>;
        unlike $text, qr/\Q$_->{temporary_password}\E/, 'no temporary password in the sidecar log'
            for values %user;
    }
    ($rc, @lines) = sidecar_cli('audit', 'verify');
    is $rc, 0, 'audit verify: chain intact' or diag @lines;
};

is delete_tenant($op, $_), 204, "cleanup: $_ deleted" for $a, $b;
done_testing;
