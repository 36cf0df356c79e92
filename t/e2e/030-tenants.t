#!/usr/bin/perl
# Tenant provisioning through nginx → realm-sidecar → Keycloak (run `make up`):
# create (201), visible in Keycloak, duplicate (409), input errors (400 naming
# the field), purpose required, reads and 404s, authentication (401).
#   prove -It/e2e/lib t/e2e/030-tenants.t
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use E2E::Stack qw(env http_json random_slug require_keycloak);
use E2E::Sidecar qw(api operator_token create_tenant delete_tenant kc_admin require_sidecar);

require_keycloak();
require_sidecar();
my $kc  = env('KEYCLOAK_URL');
my $op  = operator_token() or BAIL_OUT('no operator token');
my $slug = random_slug('e2et');

subtest 'unauthenticated → 401 with WWW-Authenticate: Bearer' => sub {
    my ($st, undef, $res) = api(POST => '/tenants', json => { slug => $slug, display_name => 'x' });
    is $st, 401, 'no token';
    like $res->{headers}{'www-authenticate'} // '', qr/^Bearer/, 'challenge';
    ($st, undef, $res) = api(GET => '/tenants', token => 'not.a.token');
    is $st, 401, 'garbage token';
    like $res->{headers}{'www-authenticate'} // '', qr/invalid_token/, 'invalid_token';
};

my $t0 = time;
subtest 'create tenant → 201' => sub {
    my ($st, $b, $res) = create_tenant($op, $slug, departments => ['finance', 'ops']);
    is $st, 201, 'created' or diag explain $b;
    is $b->{tenant_id}, $slug, 'tenant_id is the slug';
    is $b->{realm}, "tenant-$slug", 'realm name';
    is $b->{issuer}, "$kc/realms/tenant-$slug", 'issuer';
    is $b->{status}, 'active', 'active';
    is_deeply $b->{departments}, ['finance', 'ops'], 'departments';
    is $res->{headers}{location}, "/tenants/$slug", 'Location';
    unlike $res->{content}, qr/secret/i, 'no secret in the answer';
};
note sprintf 'tenant provisioned in %ds (wall clock, through nginx)', time - $t0;

subtest 'realm visible in Keycloak, configured as specified' => sub {
    my ($st, $d) = http_json(GET => "$kc/realms/tenant-$slug/.well-known/openid-configuration");
    is $st, 200, 'discovery';
    is $d->{issuer}, "$kc/realms/tenant-$slug", 'discovery issuer matches';
    my ($rst, $roles) = kc_admin(GET => "/tenant-$slug/roles");
    my %r = map { $_->{name} => 1 } @{ ref $roles ? $roles : [] };
    ok $r{$_}, "realm role $_" for qw(tenant_admin officer supervisor auditor);
    for my $client (qw(admin-console tenant-services)) {
        my ($cst, $c) = kc_admin(GET => "/tenant-$slug/clients?clientId=$client");
        my $rep = ref $c ? $c->[0] : {};
        ok $rep->{id}, "client $client";
        my %m = map { $_->{name} => $_ } @{ $rep->{protocolMappers} // [] };
        is $m{'audience tenant-services'}{config}{'included.client.audience'}, 'tenant-services',
            "$client: audience mapper";
        is $m{department_id}{config}{'claim.name'}, 'department_id', "$client: department_id mapper";
        # Only the console calls the sidecar (IDENTITY_CONTRACT.md section 7).
        is $m{'audience realm-sidecar'}{config}{'included.custom.audience'},
            $client eq 'admin-console' ? 'realm-sidecar' : undef, "$client: realm-sidecar audience";
    }
    my (undef, $console) = kc_admin(GET => "/tenant-$slug/clients?clientId=admin-console");
    ok $console->[0]{publicClient}, 'admin-console is public';
    my (undef, $svc) = kc_admin(GET => "/tenant-$slug/clients?clientId=tenant-services");
    ok !$svc->[0]{publicClient} && $svc->[0]{serviceAccountsEnabled}, 'tenant-services confidential with service account';
    my (undef, $up) = kc_admin(GET => "/tenant-$slug/users/profile");
    ok((grep { $_->{name} eq 'department_id' } @{ $up->{attributes} // [] }), 'user profile declares department_id');
    my (undef, $groups) = kc_admin(GET => "/tenant-$slug/groups?search=&briefRepresentation=false");
    my ($deps) = grep { $_->{name} eq 'departments' } @{ ref $groups ? $groups : [] };
    ok $deps, 'group /departments';
};

subtest 'duplicate → 409 problem+json' => sub {
    my ($st, $b, $res) = create_tenant($op, $slug);
    is $st, 409, 'conflict';
    like $res->{headers}{'content-type'}, qr{^application/problem\+json}, 'problem+json';
    is $b->{status}, 409, 'status member';
    like $b->{detail}, qr/already exists/, 'detail';
};

subtest 'bad input → 400 naming the field' => sub {
    my @cases = (
        [{ slug => 'Bad_Slug', display_name => 'x' }, 'slug', qr/lowercase DNS label/],
        [{ slug => '-a', display_name => 'x' }, 'slug', qr/DNS label/],
        [{ slug => 'a' x 64, display_name => 'x' }, 'slug', qr/DNS label/],
        [{ slug => 'platform', display_name => 'x' }, 'slug', qr/reserved/],
        [{ slug => 'master', display_name => 'x' }, 'slug', qr/reserved/],
        [{ display_name => 'x' }, 'slug', qr/required/],
        [{ slug => 7, display_name => 'x' }, 'slug', qr/string/],
        [{ slug => random_slug('e2ex') }, 'display_name', qr/required/],
        [{ slug => random_slug('e2ex'), display_name => 'x', departments => ['Finance'] }, 'departments[0]', qr/DNS label/],
        [{ slug => random_slug('e2ex'), display_name => 'x', departments => 'ops' }, 'departments', qr/array/],
        [{ slug => random_slug('e2ex'), display_name => 'x', sulg => 'typo' }, 'sulg', qr/unknown member/],
    );
    for my $c (@cases) {
        my ($st, $b) = api(POST => '/tenants', token => $op, json => $c->[0]);
        is $st, 400, "400 for field $c->[1]";
        is $b->{field}, $c->[1], "field $c->[1]";
        like $b->{detail}, $c->[2], "detail for $c->[1]";
    }
    my ($st, $b) = api(POST => '/tenants', token => $op, json => '{"slug": "x",');
    is $st, 400, 'malformed JSON';
    like $b->{detail}, qr/not valid JSON/, 'detail says so';
    ($st, $b) = api(POST => '/tenants', token => $op, json => '{"slug":"a","slug":"b","display_name":"x"}');
    is $st, 400, 'duplicate member refused';
};

subtest 'X-Purpose required on governed calls' => sub {
    my ($st, $b) = api(POST => '/tenants', token => $op, purpose => undef,
                       json => { slug => random_slug('e2ex'), display_name => 'x' });
    is $st, 400, '400 without X-Purpose';
    is $b->{field}, 'X-Purpose', 'field names the header';
    like $b->{detail}, qr/X-Purpose/, 'detail names the header';
};

subtest 'reads' => sub {
    my ($st, $b) = api(GET => "/tenants/$slug", token => $op);
    is $st, 200, 'GET /tenants/{id}';
    is $b->{realm}, "tenant-$slug", 'realm';
    ($st, $b) = api(GET => '/tenants', token => $op);
    is $st, 200, 'GET /tenants';
    ok((grep { $_->{tenant_id} eq $slug } @{ $b->{tenants} // [] }), 'list has the tenant');
    ($st, $b) = api(GET => '/tenants/' . random_slug('nope'), token => $op);
    is $st, 404, 'unknown tenant → 404';
    is $b->{status}, 404, 'problem+json';
    ($st) = api(GET => '/tenants/Not_A_Slug', token => $op);
    is $st, 404, 'malformed id → 404';
    ($st) = api(POST => '/tenants/' . random_slug('nope') . '/users', token => $op,
                json => { username => 'someone', email => 'a@b.org', first_name => 'A', last_name => 'B', roles => ['officer'] });
    is $st, 404, 'users of an unknown tenant → 404';
};

is delete_tenant($op, $slug), 204, 'cleanup: tenant deleted';
done_testing;
