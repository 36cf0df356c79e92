#!/usr/bin/perl
# A deleted tenant stays dead, even when its slug comes back (issue 8,
# item 2). Exactly what a new user would try (run `make up`):
#   create a tenant, let its tenant_admin and auditor log in and use their
#   tokens (so nginx's worker and zone caches, Redis and the sidecar's JWKS
#   cache all hold the realm's keys and verified tokens), delete the tenant,
#   create the same slug again, then replay the deleted realm's still-valid
#   tokens: nginx (/api/, /tenants) and the sidecar itself (directly, not
#   through nginx) refuse them as "tenant deleted" at every step, no
#   tenant_admin is created in the new tenant, the new tenant's auditor
#   reads only its own incarnation's ledger rows, and the new tenant's own
#   users are served.
#   prove -It/e2e/lib t/e2e/036-slug-reuse.t
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use E2E::Stack qw(env http_json token jwt_payload random_slug require_keycloak);
use E2E::Sidecar qw(api operator_token create_tenant delete_tenant activate_user new_password
                    require_sidecar);

require_keycloak();
require_sidecar();
my $op = operator_token() or BAIL_OUT('no operator token');
my $slug = random_slug('e2er');
my $sidecar = 'http://' . env('SIDECAR_HOST') . ':' . env('SIDECAR_PORT');

# A user of $slug with a live token (password grant after the test-only
# activation of the account).
sub user_token {
    my ($name, $role) = @_;
    my ($st, $u) = api(POST => "/tenants/$slug/users", token => $op, json => {
        username => $name, email => "$name\@$slug.localhost", first_name => 'E2E',
        last_name => 'User', roles => [$role] });
    return undef unless $st == 201;
    my $pw = new_password();
    return undef unless activate_user("tenant-$slug", $u->{user_id}, $pw);
    return token("tenant-$slug", 'admin-console', user => $name, password => $pw);
}

sub challenge { ($_[0]{headers}{'www-authenticate'} // '') }

# Polls until the token gets 401 on /api/ (the fleet learns of a deletion
# within one auth_realm_tenant_state_interval); returns the last response.
sub refused_on_api {
    my ($tok) = @_;
    my ($st, $res);
    for (1 .. 40) {
        ($st, undef, $res) = api(GET => '/api/echo', token => $tok);
        return $res if $st == 401 && challenge($res) =~ /tenant deleted/;
        select undef, undef, undef, 0.25;
    }
    return $res;
}

# --- 1. the first incarnation, used -----------------------------------------
my ($st, $body) = create_tenant($op, $slug);
is $st, 201, 'tenant created' or BAIL_OUT(explain $body);
my $first = $body;
my $old_admin = user_token('admin1', 'tenant_admin') or BAIL_OUT('tenant_admin cannot log in');
my $old_auditor = user_token('auditor1', 'auditor') or BAIL_OUT('auditor cannot log in');
my ($old_claims) = jwt_payload($old_admin);

subtest 'first incarnation: its tokens work (every cache warmed)' => sub {
    for (1 .. 3) {  # two workers: more than one request reaches each tier
        ($st) = api(GET => '/api/echo', token => $old_admin);
        is $st, 200, '/api/ accepts the tenant_admin';
    }
    ($st, $body) = api(POST => "/tenants/$slug/users", token => $old_admin, json => {
        username => 'officer1', email => "o1\@$slug.localhost", first_name => 'O', last_name => 'One',
        roles => ['officer'] });
    is $st, 201, 'tenant_admin creates a user (the sidecar verified and cached its keys)';
    ($st, $body) = api(GET => "/audit?tenant_id=$slug", token => $old_auditor);
    is $st, 200, 'auditor reads its ledger';
    ok scalar(@{ $body->{rows} // [] }) > 0, '… with rows';
};

# --- 2. delete ----------------------------------------------------------------
is delete_tenant($op, $slug), 204, 'tenant deleted';
subtest 'deleted: its tokens are refused as deleted, not as disabled' => sub {
    my $res = refused_on_api($old_admin);
    is $res->{status}, 401, '/api/ refuses the deleted realm\'s token';
    like challenge($res), qr/error_description="tenant deleted"/, 'WWW-Authenticate: tenant deleted';
    my (undef, $b2, $r2) = http_json(POST => "$sidecar/tenants/$slug/users", token => $old_admin,
                                     purpose => 'e2e', json => { username => 'x' });
    is $r2->{status}, 401, 'the sidecar refuses it too (asked directly)';
    like challenge($r2), qr/tenant deleted/, '… as deleted';
};

# --- 3. the same slug again ---------------------------------------------------
# A deleted slug is quarantined for a few seconds (TENANT_SLUG_QUARANTINE):
# until then, creating it again answers 409 with Retry-After.
my $second;
for (1 .. 40) {
    my $res;
    ($st, $body, $res) = create_tenant($op, $slug);
    if ($st == 409 && ($res->{headers}{'retry-after'} // '') =~ /^\d+$/) {
        note "slug quarantined: $body->{detail}";
        sleep 1;
        next;
    }
    last;
}
is $st, 201, 'same slug created again' or BAIL_OUT(explain $body);
$second = $body;
isnt $second->{incarnation_id}, $first->{incarnation_id}, 'a new incarnation id';
ok $second->{incarnation_started_at} > $first->{incarnation_started_at}, 'a later incarnation start';
ok time() < $old_claims->{exp}, 'the old tokens are still within their lifetime' or BAIL_OUT('too slow');

# Every step the deleted realm's tokens could take into the new tenant.
sub old_tokens_refused {
    my ($s1, undef, $res) = api(GET => '/api/echo', token => $old_admin);
    is $s1, 401, 'nginx /api/ refuses the old tenant_admin';
    like challenge($res), qr/tenant deleted/, '… as deleted';
    my ($s2, $b2, $r2) = api(POST => "/tenants/$slug/users", token => $old_admin, json => {
        username => 'backdoor', email => "b\@$slug.localhost", first_name => 'B', last_name => 'D',
        roles => ['tenant_admin'] });
    is $s2, 401, 'nginx /tenants refuses the old tenant_admin creating a tenant_admin';
    ok !(ref $b2 && $b2->{temporary_password}), 'no temporary password handed out';
    my ($s3, $b3, $r3) = http_json(POST => "$sidecar/tenants/$slug/users", token => $old_admin,
                                   purpose => 'e2e', json => {
        username => 'backdoor', email => "b\@$slug.localhost", first_name => 'B', last_name => 'D',
        roles => ['tenant_admin'] });
    is $s3, 401, 'the sidecar refuses it too (asked directly)';
    like challenge($r3), qr/tenant deleted/, '… as deleted';
    ok !(ref $b3 && $b3->{temporary_password}), 'no temporary password handed out';
    my ($s4) = api(GET => "/audit?tenant_id=$slug", token => $old_auditor);
    is $s4, 401, 'the old auditor cannot read the new tenant\'s ledger';
    my ($s5) = http_json(GET => "$sidecar/audit?tenant_id=$slug", token => $old_auditor, purpose => 'e2e');
    is $s5, 401, '… nor through the sidecar directly';
    my ($s6) = api(GET => "/tenants/$slug", token => $old_admin);
    is $s6, 401, 'the old tenant_admin cannot read the new tenant';
}

# No polling here: the new incarnation must not be usable by them at all.
subtest 'old tokens refused at every step right after the slug came back' => \&old_tokens_refused;

# Give every nginx worker time to re-read the tenant's record (active
# again, same issuer URL) without touching the new realm's keys: only the
# incarnation tells the old tokens apart now.
sleep 7;  # > auth_realm_tenant_state_interval (5 s) + Redis latency
subtest 'old tokens refused once the fleet has read the new record' => \&old_tokens_refused;

my $new_auditor = user_token('auditor2', 'auditor');
ok $new_auditor, 'a user of the new realm logs in';
subtest 'the new realm is served once the fleet has its record' => sub {
    my $got = 0;
    for (1 .. 80) {  # within auth_realm_tenant_state_interval
        ($got) = api(GET => '/api/echo', token => $new_auditor);
        last if $got == 200;
        select undef, undef, undef, 0.25;
    }
    is $got, 200, 'nginx accepts the new realm\'s token';
};

# The new realm's keys are now in use everywhere too.
subtest 'old tokens still refused with the new realm\'s keys in use' => \&old_tokens_refused;

subtest 'the new incarnation is served, and sees only its own ledger' => sub {
    ($st, $body) = api(GET => '/api/echo', token => $new_auditor);
    is $st, 200, 'nginx accepts the new realm\'s token';
    is ref $body eq 'HASH' && $body->{tenant_id}, $slug, 'X-Tenant-Id is the slug';
    ($st, $body) = api(GET => "/audit?tenant_id=$slug&limit=1000", token => $new_auditor);
    is $st, 200, 'the new auditor reads the ledger';
    my @rows = @{ ref $body eq 'HASH' ? $body->{rows} // [] : [] };
    ok scalar(@rows) > 0, '… its own rows';
    # The REQUEST and AUTHZ_DECISION rows of tenant.create come before the
    # incarnation exists: they carry none.
    my @foreign = grep { my $i = $_->{tenant_incarnation} // '';
                         $i ne $second->{incarnation_id} && !($i eq '' && $_->{action} eq 'tenant.create') } @rows;
    is scalar(@foreign), 0, 'every row is of the new incarnation' or diag explain $foreign[0];
    my @old_user = grep { ($_->{details}{username} // '') eq 'officer1' } @rows;
    is scalar(@old_user), 0, 'the first incarnation\'s USER_CREATED is not shown';
    ($st, $body) = api(GET => "/audit?tenant_id=$slug&limit=1000", token => $op);
    is $st, 200, 'the platform operator reads both incarnations';
    my %inc = map { ($_->{tenant_incarnation} // '') => 1 } @{ ref $body eq 'HASH' ? $body->{rows} // [] : [] };
    ok $inc{ $first->{incarnation_id} } && $inc{ $second->{incarnation_id} },
        'rows of both incarnations, told apart';
};

is delete_tenant($op, $slug), 204, 'cleanup: tenant deleted';
done_testing;
