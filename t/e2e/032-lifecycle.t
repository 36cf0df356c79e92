#!/usr/bin/perl
# Realm lifecycle (run `make up`): disable/enable (Keycloak realm flag,
# Redis tenant state, and nginx refusing then accepting the tenant's tokens
# again within a few seconds), secret rotation (200, no secret in the
# answer, the sidecar keeps working with the new one), deletion (realm gone,
# 404 afterwards, Redis state "deleted").
#   prove -It/e2e/lib t/e2e/032-lifecycle.t
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use E2E::Stack qw(env http_json token random_slug require_keycloak);
use E2E::Redis qw(stack_redis);
use E2E::Sidecar qw(api operator_token create_tenant delete_tenant kc_admin activate_user
                    new_password require_sidecar);

require_keycloak();
require_sidecar();
my $op = operator_token() or BAIL_OUT('no operator token');
my $kc = env('KEYCLOAK_URL');
my $slug = random_slug('e2el');

# The state in the tenant record the sidecar sealed (E2E::Redis);
# "<not sealed>" when the value is not sealed with the fleet key.
sub redis_state {
    my $r = stack_redis();
    my $key = "realm_auth:tenant:$slug";
    my $v = $r->cmd('GET', $key) // return '';
    my $record = $r->open_sealed($key, $v) // return '<not sealed>';
    return $record =~ s/ .*//r;    # "<state>[ start=… incarnation=…]": the state word
}

my ($st, $body) = create_tenant($op, $slug);
is $st, 201, 'tenant created' or BAIL_OUT(explain $body);
is redis_state(), 'active', 'Redis: active';

# A user of the tenant with a live token, to watch nginx follow the state.
($st, $body) = api(POST => "/tenants/$slug/users", token => $op, json => {
    username => 'watcher', email => 'w@x.org', first_name => 'W', last_name => 'W', roles => ['officer'] });
is $st, 201, 'user created';
my $pw = new_password();
ok activate_user("tenant-$slug", $body->{user_id}, $pw), 'required action completed';
my $user_token = token("tenant-$slug", 'admin-console', user => 'watcher', password => $pw);
ok $user_token, 'user logs in';

# Polls /api/ with the user's token until it answers `want` (max 20 s;
# the module re-reads tenant states every auth_realm_tenant_state_interval).
sub api_status_becomes {
    my ($want) = @_;
    my $got = 0;
    for (1 .. 40) {
        ($got) = api(GET => '/api/echo', token => $user_token);
        return $got if $got == $want;
        select undef, undef, undef, 0.5;
    }
    return $got;
}

subtest 'disable and enable' => sub {
    is api_status_becomes(200), 200, 'token accepted while active';
    ($st, $body) = api(PATCH => "/tenants/$slug", token => $op, json => { enabled => JSON::PP::false });
    is $st, 200, 'PATCH enabled=false';
    is $body->{status}, 'disabled', 'status disabled';
    my (undef, $realm) = kc_admin(GET => "/tenant-$slug");
    ok !$realm->{enabled}, 'Keycloak realm disabled';
    is redis_state(), 'disabled', 'Redis: disabled';
    is api_status_becomes(401), 401, 'nginx refuses the tenant\'s live token';
    ($st, $body) = api(PATCH => "/tenants/$slug", token => $op, json => { enabled => 'no' });
    is $st, 400, 'enabled must be a boolean';
    is $body->{field}, 'enabled', 'field enabled';
    ($st, $body) = api(PATCH => "/tenants/$slug", token => $op, json => { enabled => JSON::PP::true });
    is $st, 200, 'PATCH enabled=true';
    is $body->{status}, 'active', 'status active';
    (undef, $realm) = kc_admin(GET => "/tenant-$slug");
    ok $realm->{enabled}, 'Keycloak realm enabled';
    is redis_state(), 'active', 'Redis: active';
    is api_status_becomes(200), 200, 'nginx accepts it again';
};

subtest 'rotate the tenant-services secret' => sub {
    my (undef, $c) = kc_admin(GET => "/tenant-$slug/clients?clientId=tenant-services");
    my (undef, $before) = kc_admin(GET => "/tenant-$slug/clients/$c->[0]{id}/client-secret");
    my $res;
    ($st, $body, $res) = api(POST => "/tenants/$slug/secrets/tenant-services:rotate", token => $op);
    is $st, 200, 'rotated';
    is $body->{client_id}, 'tenant-services', 'client named';
    unlike $res->{content}, qr/\Q$before->{value}\E/, 'old secret not in the answer';
    my (undef, $after) = kc_admin(GET => "/tenant-$slug/clients/$c->[0]{id}/client-secret");
    isnt $after->{value}, $before->{value}, 'Keycloak has a new secret';
    unlike $res->{content}, qr/\Q$after->{value}\E/, 'new secret not in the answer';
    # The sidecar manages users with the stored (new) secret.
    ($st) = api(POST => "/tenants/$slug/users", token => $op, json => {
        username => 'after-rotation', email => 'r@x.org', first_name => 'R', last_name => 'R', roles => ['auditor'] });
    is $st, 201, 'user creation works with the rotated secret';
};

subtest 'delete' => sub {
    is delete_tenant($op, $slug), 204, 'DELETE → 204';
    my ($dst) = http_json(GET => "$kc/realms/tenant-$slug/.well-known/openid-configuration");
    is $dst, 404, 'realm gone from Keycloak';
    ($st) = api(GET => "/tenants/$slug", token => $op);
    is $st, 404, 'GET → 404';
    is redis_state(), 'deleted', 'Redis: deleted';
    is api_status_becomes(401), 401, 'nginx refuses tokens of the deleted tenant';
    my (undef, undef, $res) = api(GET => '/api/echo', token => $user_token);
    like $res->{headers}{'www-authenticate'} // '', qr/tenant deleted/, '… as deleted, not disabled';
    is delete_tenant($op, $slug), 404, 'second DELETE → 404';
};

done_testing;
