#!/usr/bin/perl
# The user's life through realm-sidecar, against the real Keycloak (`make up`):
# each endpoint's effect is checked in Keycloak itself (Admin API as the
# provisioner, logins through Keycloak's pages: E2E::Stack::login, first
# logins with the temporary password), each call's ledger rows
# (outcome event, what changed, no secret), who may call what, the fixes
# (Location answers, the field of a duplicate email, a user without roles
# refused, `make seed-demo` twice writes no failure row) and the realm's
# password policy and brute-force detection, restored by reconcile.
#   prove -It/e2e/lib t/e2e/037-user-life.t
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP;
use Test::More;
use E2E::Stack qw(env http_json token random_slug require_keycloak);
use E2E::Sidecar qw(api operator_token create_tenant delete_tenant kc_admin first_login
                    new_password require_sidecar sidecar_cli);
use E2E::Util qw(ledger_rows);

require_keycloak();
require_sidecar();
my $op = operator_token() or BAIL_OUT('no operator token');
my ($A, $B) = (random_slug('e2eula'), random_slug('e2eulb'));
my @cleanup = ($A, $B);
END { delete_tenant(operator_token(), $_) for @cleanup }
for my $t ($A, $B) {
    my ($st, $b) = create_tenant($op, $t, departments => ['finance', 'ops']);
    is $st, 201, "tenant $t created" or BAIL_OUT(explain $b);
}

my @secrets;    # every temporary password seen: none may reach the ledger or the log
sub new_user {
    my ($tenant, $name, %o) = @_;
    my ($st, $b, $res) = api(POST => "/tenants/$tenant/users", token => $o{token} // $op, json => {
        username => $name, email => $o{email} // "$name\@$tenant.localhost", first_name => 'E2E',
        last_name => ucfirst $name, roles => $o{roles} // ['officer'], %{ $o{extra} // {} } });
    push @secrets, $b->{temporary_password} if ref $b && $b->{temporary_password};
    return ($st, $b, $res);
}
my %pw;
sub make_user {
    my ($tenant, $name, @roles) = @_;
    my ($st, $b) = new_user($tenant, $name, roles => [@roles ? @roles : 'officer'],
                            extra => { department_id => 'finance' });
    is $st, 201, "$tenant/$name created" or BAIL_OUT(explain $b);
    $pw{"$tenant/$name"} = new_password();
    ok first_login("tenant-$tenant", $name, $b->{temporary_password}, $pw{"$tenant/$name"}),
        "$name: first login (temporary password, UPDATE_PASSWORD)";
    return $b->{user_id};
}
sub login { my ($t, $n, $p) = @_; token("tenant-$t", 'admin-console', user => $n, password => $p // $pw{"$t/$n"}) }
# Why a scripted login stopped (login.py's reason, naming Keycloak's page).
sub login_refusal {
    my ($t, $n, $p) = @_;
    my ($tok, $err) = E2E::Stack::login("tenant-$t", 'admin-console', $n, $p);
    return $tok ? '(logged in)' : $err;
}
sub sessions { my ($t, $id) = @_; my (undef, $s) = kc_admin(GET => "/tenant-$t/users/$id/sessions"); ref $s eq 'ARRAY' ? scalar @$s : -1 }
sub by_purpose {
    my ($p) = @_;
    die 'unsafe purpose' unless $p =~ /\A[A-Za-z0-9 ._:\/()-]+\z/;
    return ledger_rows("purpose = '$p'");
}
my $n = 0;
# call(METHOD, PATH, token => …, json => …) with a unique purpose; returns
# (status, body, ledger rows of that call).
sub call {
    my ($method, $path, %o) = @_;
    my $purpose = 'e2e 037 ' . ++$n . ' ' . random_slug('p');
    my ($st, $b) = api($method => $path, token => $o{token} // $op, purpose => $purpose,
                       $o{json} ? (json => $o{json}) : ());
    push @secrets, $b->{temporary_password} if ref $b && $b->{temporary_password};
    return ($st, $b, [by_purpose($purpose)]);
}
sub types { join ' ', map { $_->{event_type} } @{ $_[0] } }

my %id = (admin => make_user($A, 'admin', 'tenant_admin'), alice => make_user($A, 'alice'),
          bob => make_user($A, 'bob'), auditor => make_user($A, 'auditor', 'auditor'),
          badmin => make_user($B, 'badmin', 'tenant_admin'));
my %tok = map { $_ => login($A, $_) } qw(admin alice auditor);
$tok{badmin} = login($B, 'badmin');
ok $tok{$_}, "$_ logs in" for sort keys %tok;

subtest 'the Location of a created user answers' => sub {
    my ($st, $b, $res) = new_user($A, 'carol', extra => { department_id => 'ops' });
    is $st, 201, 'created';
    my $loc = $res->{headers}{location} // '';
    is $loc, "/tenants/$A/users/$b->{user_id}", 'Location';
    my ($gst, $g) = api(GET => $loc, token => $op);
    is $gst, 200, 'GET Location: 200' or diag explain $g;
    is $g->{user_id}, $b->{user_id}, 'the same user';
    is_deeply $g->{roles}, ['officer'], 'roles';
    is $g->{department_id}, 'ops', 'department_id';
    is_deeply $g->{required_actions}, ['UPDATE_PASSWORD'], 'required actions';
    ok !exists $g->{temporary_password}, 'no password in a read';
    $id{carol} = $b->{user_id};
};

subtest 'errors name the field that caused them' => sub {
    my ($st, $b) = new_user($A, 'alice', email => "other\@$A.localhost");
    is $st, 409, 'duplicate username → 409';
    is $b->{field}, 'username', 'field username';
    ($st, $b) = new_user($A, 'alice2', email => "alice\@$A.localhost");
    is $st, 409, 'duplicate email → 409';
    is $b->{field}, 'email', 'field email';
    like $b->{detail}, qr/email/, 'detail says email';
    ($st, $b) = new_user($A, 'noroles', roles => []);
    is $st, 400, 'a user without a role → 400';
    is $b->{field}, 'roles', 'field roles';
    my (undef, $list) = kc_admin(GET => "/tenant-$A/users?username=noroles&exact=true");
    is_deeply $list, [], 'and Keycloak has no such user';
};

subtest 'GET users: paged, searched, bounded; the service account is not a user here' => sub {
    my ($st, $b, $rows) = call(GET => "/tenants/$A/users?max=2");
    is $st, 200, 'list' or diag explain $b;
    is scalar @{ $b->{users} }, 2, 'max=2: two users';
    is $b->{next_first}, 2, 'next_first';
    is types($rows), 'REQUEST AUTHZ_DECISION', 'a read: no outcome event';
    is $rows->[0]{action}, 'user.read', 'action user.read';
    my %seen;
    my $first = 0;
    while (defined $first) {
        ($st, $b) = api(GET => "/tenants/$A/users?first=$first&max=2", token => $op);
        $seen{ $_->{username} }++ for @{ $b->{users} // [] };
        $first = $b->{next_first};
        last if keys %seen > 20;
    }
    is_deeply [sort keys %seen], [sort qw(admin alice bob auditor carol)], 'every page: each user once, no service account';
    ok !(grep { $_ != 1 } values %seen), 'no user twice';
    ($st, $b) = api(GET => "/tenants/$A/users?search=ali", token => $op);
    is_deeply [map { $_->{username} } @{ $b->{users} }], ['alice'], 'search=ali';
    ($st, $b) = api(GET => "/tenants/$A/users?username=bob", token => $op);
    is_deeply [map { $_->{user_id} } @{ $b->{users} }], [$id{bob}], 'username=bob (exact)';
    is_deeply $b->{users}[0]{roles}, ['officer'], 'roles in the list';
    for my $c (['max=0', 'max'], ['max=101', 'max'], ['first=-1', 'first'], ['first=x', 'first'],
               ['search=', 'search'], ['username=Bob', 'username'], ['page=2', 'page']) {
        my ($q, $field) = @$c;
        my ($cst, $cb, $crows) = call(GET => "/tenants/$A/users?$q");
        is $cst, 400, "?$q → 400";
        is $cb->{field}, $field, "field $field";
        is scalar @$crows, 0, 'refused before governance: no ledger row';
    }
};

subtest 'GET one user' => sub {
    my ($st, $b) = api(GET => "/tenants/$A/users/$id{alice}", token => $tok{auditor});
    is $st, 200, 'auditor reads a user';
    is $b->{username}, 'alice', 'alice';
    ($st) = api(GET => "/tenants/$A/users/00000000-0000-0000-0000-000000000000", token => $op);
    is $st, 404, 'unknown id → 404';
    ($st) = api(GET => "/tenants/$A/users/not_an..id", token => $op);
    is $st, 404, 'malformed id → 404';
    ($st) = api(GET => "/tenants/$B/users/$id{alice}", token => $op);
    is $st, 404, "alice is not a user of $B";
};

subtest 'PATCH: strict body, every error names its field' => sub {
    my $p = "/tenants/$A/users/$id{bob}";
    for my $c ([{ enabled => JSON::PP::false, colour => 'red' }, 'colour'],
               [{ roles => { add => ['officer'], drop => ['x'] } }, 'roles.drop'],
               [{ roles => ['officer'] }, 'roles'],
               [{ roles => { add => ['root'] } }, 'roles.add[0]'],
               [{ roles => { add => ['auditor', 'auditor'] } }, 'roles.add[1]'],
               [{ roles => { add => ['auditor'], remove => ['auditor'] } }, 'roles.remove[0]'],
               [{ enabled => 'no' }, 'enabled'],
               [{ department_id => '' }, 'department_id'],
               [{ department_id => 'Not A Dept' }, 'department_id'],
               [{}, '']) {
        my ($body, $field) = @$c;
        my ($st, $b, $rows) = call(PATCH => $p, json => $body);
        is $st, 400, 'PATCH ' . encode_json($body) . ' → 400';
        is $b->{field} // '', $field, "field '$field'";
        is scalar @$rows, 0, 'no ledger row';
    }
    my ($st, $b) = call(PATCH => $p, json => { roles => { remove => ['officer'] } });
    is $st, 400, 'removing the last role → 400';
    is $b->{field}, 'roles.remove', 'field roles.remove';
    ($st, $b) = call(PATCH => $p, json => { department_id => 'hr' });
    is $st, 400, 'a department the tenant does not declare → 400';
    is $b->{field}, 'department_id', 'field department_id';
    my (undef, $rm) = kc_admin(GET => "/tenant-$A/users/$id{bob}/role-mappings/realm");
    ok((grep { $_->{name} eq 'officer' } @$rm), 'bob still officer in Keycloak');
};

subtest 'PATCH enabled=false: the user cannot log in; USER_DISABLED' => sub {
    ok login($A, 'bob'), 'bob logs in before';
    my ($st, $b, $rows) = call(PATCH => "/tenants/$A/users/$id{bob}", json => { enabled => JSON::PP::false });
    is $st, 200, 'disabled' or diag explain $b;
    is $b->{enabled}, JSON::PP::false, 'answer: enabled false';
    my (undef, $kc) = kc_admin(GET => "/tenant-$A/users/$id{bob}");
    is $kc->{enabled}, JSON::PP::false, 'Keycloak: disabled';
    ok !login($A, 'bob'), 'bob cannot log in';
    is types($rows), 'REQUEST AUTHZ_DECISION USER_DISABLED', 'ledger';
    my $ev = $rows->[2]{details};
    is $ev->{user_id}, $id{bob}, 'event: user_id';
    is $ev->{changes}{enabled}, JSON::PP::false, 'event: enabled false';
    is $ev->{revocation}{kind}, 'user', 'event: a user revocation';
    is $ev->{revocation}{subject}, $id{bob}, 'event: revocation subject = the user id (sub)';
    is $ev->{revocation}{published}, JSON::PP::true, 'event: published';
    ($st, $b, $rows) = call(PATCH => "/tenants/$A/users/$id{bob}", json => { enabled => JSON::PP::true });
    is $st, 200, 're-enabled';
    is types($rows), 'REQUEST AUTHZ_DECISION USER_UPDATED', 'USER_UPDATED';
    ok !exists $rows->[2]{details}{revocation}, 'enabling revokes nothing';
    ok login($A, 'bob'), 'bob logs in again';
};

subtest 'PATCH roles and department: seen in Keycloak; USER_UPDATED says what changed' => sub {
    my ($st, $b, $rows) = call(PATCH => "/tenants/$A/users/$id{bob}",
        json => { roles => { add => ['supervisor'], remove => ['officer'] }, department_id => 'ops' });
    is $st, 200, 'patched' or diag explain $b;
    is_deeply $b->{roles}, ['supervisor'], 'answer: roles';
    is $b->{department_id}, 'ops', 'answer: department';
    my (undef, $rm) = kc_admin(GET => "/tenant-$A/users/$id{bob}/role-mappings/realm");
    my @names = sort map { $_->{name} } @$rm;
    ok((grep { $_ eq 'supervisor' } @names) && !(grep { $_ eq 'officer' } @names), 'Keycloak: supervisor, not officer');
    my (undef, $kc) = kc_admin(GET => "/tenant-$A/users/$id{bob}");
    is_deeply $kc->{attributes}{department_id}, ['ops'], 'Keycloak: department_id attribute';
    is $kc->{email}, "bob\@$A.localhost", 'the rest of the profile kept';
    my (undef, $groups) = kc_admin(GET => "/tenant-$A/users/$id{bob}/groups");
    is_deeply [map { $_->{path} } @$groups], ['/departments/ops'], 'Keycloak: group /departments/ops only';
    is types($rows), 'REQUEST AUTHZ_DECISION USER_UPDATED', 'ledger';
    my $c = $rows->[2]{details}{changes};
    is_deeply $c->{roles_added}, ['supervisor'], 'event: roles_added';
    is_deeply $c->{roles_removed}, ['officer'], 'event: roles_removed';
    is_deeply $c->{department_id}, { from => 'finance', to => 'ops' }, 'event: department from/to';
    is $rows->[2]{details}{revocation}{kind}, 'user', 'a role taken away: user revocation';
    my $t = login($A, 'bob');
    my (undef, $claims) = (undef, E2E::Stack::jwt_payload($t));
    is $claims->{department_id}, 'ops', 'a new token: department_id ops';
    ($st, $b) = call(PATCH => "/tenants/$A/users/$id{bob}", json => { department_id => undef });
    is $st, 200, 'department_id null: leaves the department';
    ok !exists $b->{department_id}, 'no department';
    (undef, $groups) = kc_admin(GET => "/tenant-$A/users/$id{bob}/groups");
    is_deeply $groups, [], 'Keycloak: no group';
};

subtest 'password:reset: a one-time temporary password, UPDATE_PASSWORD, never logged' => sub {
    my ($st, $b, $rows) = call(POST => "/tenants/$A/users/$id{alice}/password:reset");
    is $st, 200, 'reset' or diag explain $b;
    my $temp = $b->{temporary_password} // '';
    is length $temp, 20, 'temporary password, 20 characters';
    is_deeply $b->{required_actions}, ['UPDATE_PASSWORD'], 'answer: UPDATE_PASSWORD';
    my (undef, $kc) = kc_admin(GET => "/tenant-$A/users/$id{alice}");
    ok((grep { $_ eq 'UPDATE_PASSWORD' } @{ $kc->{requiredActions} }), 'Keycloak: UPDATE_PASSWORD required');
    like login_refusal($A, 'alice', $temp), qr/requires a new password for alice \(UPDATE_PASSWORD\)/,
        'the temporary password is right (Keycloak asks for the required action, not the password)';
    ok !login($A, 'alice'), 'the old password no longer works';
    is types($rows), 'REQUEST AUTHZ_DECISION PASSWORD_RESET', 'ledger';
    is $rows->[2]{details}{user_id}, $id{alice}, 'event: user_id';
    unlike encode_json($rows), qr/\Q$temp\E/, 'not in the ledger rows';
    my ($st2, $b2) = call(POST => "/tenants/$A/users/$id{alice}/password:reset", json => { value => 'x' });
    is $st2, 400, 'no parameters accepted';
    is $b2->{field}, 'value', 'field value';
    ok first_login("tenant-$A", 'alice', $temp, $pw{"$A/alice"} = new_password()),
        'alice logs in with the temporary password and sets a new one';
};

subtest 'sessions:revoke of a user: every session of it ends in Keycloak' => sub {
    my $before = sessions($A, $id{alice});
    ok login($A, 'alice') && login($A, 'alice'), 'alice logs in twice';
    ok login($A, 'bob'), 'bob logs in';
    is sessions($A, $id{alice}), $before + 2, 'Keycloak: alice has 2 more sessions';
    my $bob_before = sessions($A, $id{bob});
    my ($st, $b, $rows) = call(POST => "/tenants/$A/users/$id{alice}/sessions:revoke");
    is $st, 200, 'revoked' or diag explain $b;
    ok $b->{not_before} > 0, 'answer: not_before';
    is sessions($A, $id{alice}), 0, 'Keycloak: alice has no session';
    is sessions($A, $id{bob}), $bob_before, "Keycloak: bob's sessions untouched";
    is types($rows), 'REQUEST AUTHZ_DECISION SESSIONS_REVOKED', 'ledger';
    is $rows->[2]{details}{scope}, 'user', 'event: scope user';
    is $rows->[2]{details}{revocation}{subject}, $id{alice}, 'event: revocation of alice';
};

subtest 'sessions:revoke of the tenant: every session of the realm ends' => sub {
    ok login($A, 'alice') && login($A, 'bob'), 'alice and bob log in';
    ok login($B, 'badmin'), "a user of $B logs in";
    my ($st, $b, $rows) = call(POST => "/tenants/$A/sessions:revoke");
    is $st, 200, 'revoked' or diag explain $b;
    is sessions($A, $id{$_}), 0, "Keycloak: $_ has no session" for qw(alice bob admin);
    ok sessions($B, $id{badmin}) > 0, "Keycloak: $B untouched";
    is types($rows), 'REQUEST AUTHZ_DECISION SESSIONS_REVOKED', 'ledger';
    is $rows->[2]{details}{scope}, 'tenant', 'event: scope tenant';
    is $rows->[2]{details}{revocation}{kind}, 'tenant', 'event: a tenant revocation';
    sleep 1.1;    # tokens issued after the revocation's second
    %tok = map { $_ => login($A, $_) } qw(admin alice auditor);
    $tok{badmin} = login($B, 'badmin');
};

subtest 'who may: tenant_admin of the tenant, auditor reads, nobody else' => sub {
    my ($st, $b) = call(PATCH => "/tenants/$A/users/$id{carol}", token => $tok{admin},
                        json => { roles => { add => ['auditor'] } });
    is $st, 200, 'tenant_admin changes a user of its tenant' or diag explain $b;
    ($st) = call(POST => "/tenants/$A/users/$id{carol}/password:reset", token => $tok{admin});
    is $st, 200, 'tenant_admin resets a password';
    ($st, $b) = call(GET => "/tenants/$A/users", token => $tok{auditor});
    is $st, 200, 'auditor lists users';
    for my $c (['auditor', PATCH => "/tenants/$A/users/$id{carol}", { enabled => JSON::PP::false }],
               ['auditor', DELETE => "/tenants/$A/users/$id{carol}"],
               ['auditor', POST => "/tenants/$A/sessions:revoke"],
               ['alice', GET => "/tenants/$A/users"],
               ['alice', POST => "/tenants/$A/users/$id{bob}/sessions:revoke"],
               ['badmin', GET => "/tenants/$A/users/$id{carol}"],
               ['badmin', DELETE => "/tenants/$A/users/$id{carol}"],
               ['badmin', POST => "/tenants/$A/users/$id{carol}/password:reset"]) {
        my ($who, $m, $p, $j) = @$c;
        my ($cst, $cb, $rows) = call($m => $p, token => $tok{$who}, $j ? (json => $j) : ());
        is $cst, 403, "$who: $m $p → 403";
        is types($rows), 'REQUEST AUTHZ_DECISION', 'denial recorded, nothing done';
    }
    ($st, $b) = call(PATCH => "/tenants/$A/users/$id{admin}", token => $tok{admin}, json => { enabled => JSON::PP::false });
    is $st, 409, 'an admin cannot disable itself';
    ($st) = call(DELETE => "/tenants/$A/users/$id{admin}", token => $tok{admin});
    is $st, 409, 'nor delete itself';
    my (undef, $kc) = kc_admin(GET => "/tenant-$A/users/$id{admin}");
    is $kc->{enabled}, JSON::PP::true, 'admin still enabled';
};

subtest 'the service account: sessions revocable, never changed or deleted' => sub {
    my (undef, $sa) = kc_admin(GET => "/tenant-$A/users?username=service-account-tenant-services&exact=true");
    my $said = $sa->[0]{id};
    ok $said, 'service account id';
    for my $c ([PATCH => { enabled => JSON::PP::false }], [DELETE => undef], ['POST', undef, '/password:reset']) {
        my ($m, $j, $suffix) = @$c;
        my ($st, $b) = call($m => "/tenants/$A/users/$said" . ($suffix // ''), $j ? (json => $j) : ());
        is $st, 409, "$m the service account → 409";
    }
    my ($st) = call(POST => "/tenants/$A/users/$said/sessions:revoke");
    is $st, 200, 'its sessions (tokens) can be revoked';
    my (undef, $kc) = kc_admin(GET => "/tenant-$A/users/$said");
    is $kc->{enabled}, JSON::PP::true, 'still enabled';
    ($st) = api(GET => "/tenants/$A/users", token => $op);
    is $st, 200, 'the sidecar still manages the realm';
};

subtest 'DELETE: the user is gone; USER_DELETED' => sub {
    my ($st, $b, $rows) = call(DELETE => "/tenants/$A/users/$id{carol}");
    is $st, 204, 'deleted' or diag explain $b;
    my ($kst) = kc_admin(GET => "/tenant-$A/users/$id{carol}");
    is $kst, 404, 'Keycloak: 404';
    ($st) = api(GET => "/tenants/$A/users/$id{carol}", token => $op);
    is $st, 404, 'GET: 404';
    ($st) = api(DELETE => "/tenants/$A/users/$id{carol}", token => $op);
    is $st, 404, 'DELETE again: 404';
    is types($rows), 'REQUEST AUTHZ_DECISION USER_DELETED', 'ledger';
    is $rows->[2]{details}{username}, 'carol', 'event: username';
    is $rows->[2]{details}{revocation}{subject}, $id{carol}, 'event: user revocation';
};

subtest 'tenant realms: password policy and brute-force detection; reconcile restores them' => sub {
    my (undef, $r) = kc_admin(GET => "/tenant-$A");
    like $r->{passwordPolicy} // '', qr/length\(12\)/, 'password policy: length(12)';
    like $r->{passwordPolicy} // '', qr/notUsername/, 'password policy: notUsername';
    is $r->{bruteForceProtected}, JSON::PP::true, 'brute-force detection on';
    is $r->{failureFactor}, 5, 'failureFactor 5';
    is $r->{permanentLockout}, JSON::PP::false, 'temporary lockout only';
    my ($st, $b) = kc_admin(PUT => "/tenant-$A/users/$id{bob}/reset-password",
                            json => { type => 'password', value => 'short', temporary => JSON::PP::false });
    is $st, 400, 'Keycloak refuses a password shorter than 12';
    ($st) = kc_admin(PUT => "/tenant-$A", json => { passwordPolicy => '', bruteForceProtected => JSON::PP::false,
                                                    failureFactor => 30 });
    is $st, 204, 'settings removed behind the sidecar\'s back';
    (undef, $r) = kc_admin(GET => "/tenant-$A");
    is $r->{bruteForceProtected}, JSON::PP::false, '… brute force off';
    my ($rc, @lines) = sidecar_cli('reconcile');
    is $rc, 0, 'reconcile' or diag @lines;
    (undef, $r) = kc_admin(GET => "/tenant-$A");
    like $r->{passwordPolicy} // '', qr/length\(12\)/, 'reconcile: password policy back';
    is $r->{bruteForceProtected}, JSON::PP::true, 'reconcile: brute force back';
    is $r->{failureFactor}, 5, 'reconcile: failureFactor back';
    ($rc, @lines) = sidecar_cli('reconcile');
    unlike join('', @lines), qr/tenant-$A security settings restored/, 'a second reconcile changes nothing';
};

subtest 'make seed-demo asks before it creates: a rerun writes no failure row' => sub {
    my $slug = random_slug('e2eseed');
    push @cleanup, $slug;
    local $ENV{DEMO_TENANT} = $slug;
    my $root = E2E::Stack::root();
    for my $run (1, 2) {
        my $out = `$root/scripts/seed-demo.sh 2>&1`;
        is $? >> 8, 0, "seed run $run" or diag $out;
        push @secrets, $out =~ /^\s+\w+\s+(\S{20})$/mg;
        my @failed = ledger_rows("tenant_id = '$slug' AND event_type = 'PROVISIONING_FAILED'");
        is scalar @failed, 0, "after run $run: no PROVISIONING_FAILED row" or diag explain \@failed;
    }
    my @users = ledger_rows("tenant_id = '$slug' AND event_type = 'USER_CREATED'");
    is scalar @users, 4, 'four users created, once';
};

subtest 'no temporary password in the ledger or the sidecar log; chain intact' => sub {
    ok scalar @secrets >= 3, scalar(@secrets) . ' temporary passwords seen';
    my ($rc, @lines) = sidecar_cli('audit', 'tail', '--tenant', $A, '--limit', '1000');
    my $all = join '', @lines;
    ok !(grep { index($all, $_) >= 0 } @secrets), 'not in the ledger';
    # Every log of the stack: sidecar, nginx (access and error), Keycloak, PostgreSQL.
    my $dir = env('STATE_DIR');
    my @logs = grep { -f } ("$dir/sidecar/sidecar.log", "$dir/nginx/access.log", "$dir/nginx/error.log",
                            "$dir/keycloak/keycloak.log", "$dir/postgres/postgres.log");
    ok scalar(grep { m{/sidecar/} } @logs), 'the sidecar log is among them';
    for my $log (@logs) {
        open my $fh, '<', $log or die "$log: $!";
        my $text = do { local $/; <$fh> };
        ok !(grep { index($text, $_) >= 0 } @secrets), "not in $log";
    }
    ($rc, @lines) = sidecar_cli('audit', 'verify');
    is $rc, 0, 'audit verify' or diag @lines;
};

done_testing;
