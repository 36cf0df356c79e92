#!/usr/bin/perl
# Fleet-wide revocation against the real stack: two private nginx instances
# (2 workers each) share the stack's Redis; realm-sidecar's answers to the
# user's life calls revoke that user's, that session's or that tenant's
# tokens on every worker of both within 2 s, verified-token cache hits
# included, while everyone else keeps passing; tokens issued after a
# re-enable pass; a service account (no `sid`) is revoked by `sub`.
#   prove -It/e2e/lib t/e2e/039-revocation.t     (make up, make build first)
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP;
use Test::More;
use Time::HiRes qw(time sleep);
use E2E::Stack qw(token random_slug jwt_payload require_keycloak);
use E2E::Sidecar qw(api operator_token create_tenant delete_tenant kc_admin activate_user new_active_user
                    new_password require_sidecar);
use E2E::Fleet qw(start_fleet watch_refusal call);

require_keycloak();
require_sidecar();
my @fleet = start_fleet(2, workers => 2);
my $op = operator_token() or BAIL_OUT('no operator token');

my ($t, $other) = (random_slug('e2erv'), random_slug('e2erw'));
for my $s ($t, $other) {
    my ($st, $b) = create_tenant($op, $s);
    is $st, 201, "tenant $s created" or BAIL_OUT(explain $b);
}

my %pw;
sub new_user {
    my ($tenant, $name) = @_;
    (my $id, $pw{"$tenant/$name"}) = new_active_user($op, $tenant, $name);
    return $id;
}
sub login { my ($tenant, $name) = @_; token("tenant-$tenant", 'admin-console', user => $name, password => $pw{"$tenant/$name"}) }

my %id = (alice => new_user($t, 'alice'), bob => new_user($t, 'bob'), carol => new_user($other, 'carol'));

# The service account of tenant-services (client credentials; no sid).
my ($st, $clients) = kc_admin(GET => "/tenant-$t/clients?clientId=tenant-services");
my $cid = ref $clients eq 'ARRAY' && $clients->[0]{id};
my (undef, $sec) = kc_admin(GET => "/tenant-$t/clients/$cid/client-secret");
sub service_token { token("tenant-$t", 'tenant-services', secret => $sec->{value}) }

# Every instance, twice (the second call is a verified-token cache hit).
sub passes_all { my ($tok) = @_; !grep { call($_, $tok) != 200 } @fleet, @fleet }
sub refused_all {
    my ($tok) = @_;
    for my $n (@fleet) {
        for (1 .. 4) {    # new connections: several workers
            my ($st, $err) = call($n, $tok);
            return 0 unless $st == 401 && $err eq 'token_revoked';
        }
    }
    return 1;
}
# A token issued after the last revocation's second.
sub later_login { sleep 1.1; login(@_) }

# Revokes through `action` and checks each instance refuses `tok` within 2 s.
sub revoked_within {
    my ($what, $tok, $action) = @_;
    my $w = watch_refusal(\@fleet, $tok, 6);
    sleep 0.05;
    $action->();
    my $t0 = time;
    my @at = $w->();
    for my $n (0 .. $#at) {
        ok defined $at[$n] && $at[$n] - $t0 < 2, sprintf "%s: nginx %s refuses within 2 s (%s)", $what,
            ('A', 'B')[$n], defined $at[$n] ? sprintf('%.0f ms', ($at[$n] - $t0) * 1000) : 'never';
    }
    ok refused_all($tok), "$what: refused on every worker of both instances";
}

my $a1 = login($t, 'alice');
my $b1 = login($t, 'bob');
my $c1 = login($other, 'carol');
my $s1 = service_token();
ok $a1 && $b1 && $c1 && $s1, 'tokens for alice, bob, carol and the service account';
ok passes_all($_), 'passes everywhere before any revocation' for $a1, $b1, $c1, $s1;
ok((jwt_payload($a1))[0]{sid}, 'a user token carries sid');
ok(!exists((jwt_payload($s1))[0]{sid}), 'a service-account token carries no sid');

subtest 'a disabled user' => sub {
    revoked_within('alice disabled', $a1, sub {
        my ($st, $b) = api(PATCH => "/tenants/$t/users/$id{alice}", token => $op, json => { enabled => JSON::PP::false });
        is $st, 200, 'PATCH enabled=false' or diag explain $b;
    });
    ok passes_all($b1), 'bob still passes';
    ok passes_all($c1), 'carol of another tenant still passes';
    ok !login($t, 'alice'), 'alice cannot log in while disabled';
    my ($st) = api(PATCH => "/tenants/$t/users/$id{alice}", token => $op, json => { enabled => JSON::PP::true });
    is $st, 200, 're-enabled';
    my $a2 = later_login($t, 'alice');
    ok passes_all($a2), 'a token issued after the re-enable passes';
    ok refused_all($a1), 'the old token stays refused';
    $a1 = $a2;
};

subtest 'a role taken away' => sub {
    revoked_within('alice loses officer', $a1, sub {
        my ($st, $b) = api(PATCH => "/tenants/$t/users/$id{alice}", token => $op,
                           json => { roles => { remove => ['officer'], add => ['auditor'] } });
        is $st, 200, 'PATCH roles' or diag explain $b;
    });
    my $a3 = later_login($t, 'alice');
    ok passes_all($a3), 'a new token (with the new roles) passes';
    my $roles = (jwt_payload($a3))[0]{realm_access}{roles} // [];
    ok !(grep { $_ eq 'officer' } @$roles), 'and no longer carries officer';
};

subtest 'log out everywhere' => sub {
    revoked_within('bob logged out', $b1, sub {
        my ($st, $b) = api(POST => "/tenants/$t/users/$id{bob}/sessions:revoke", token => $op, json => {});
        ok $st == 200 || $st == 204, 'sessions:revoke' or diag explain $b;
    });
    ok passes_all(later_login($t, 'bob')), 'bob logs in again and passes';
};

subtest 'a service account, by sub' => sub {
    my $sa = (jwt_payload($s1))[0]{sub};
    revoked_within('service account revoked', $s1, sub {
        my ($st, $b) = api(POST => "/tenants/$t/users/$sa/sessions:revoke", token => $op, json => {});
        ok $st == 200 || $st == 204, 'sessions:revoke of the service-account user' or diag explain $b;
    });
    sleep 1.1;
    ok passes_all(service_token()), 'a new service-account token passes';
};

subtest 'every session of the tenant' => sub {
    my ($a, $b, $s) = (later_login($t, 'alice'), login($t, 'bob'), service_token());
    ok passes_all($_), 'passes before' for $a, $b, $s;
    revoked_within('tenant-wide revocation', $a, sub {
        my ($st, $body) = api(POST => "/tenants/$t/sessions:revoke", token => $op, json => {});
        ok $st == 200 || $st == 204, 'POST /tenants/{id}/sessions:revoke' or diag explain $body;
    });
    ok refused_all($_), 'every token of the tenant is refused' for $b, $s;
    ok passes_all($c1), 'the other tenant is untouched';
    ok passes_all(later_login($t, 'bob')), 'tokens issued afterwards pass';
};

my $status = $fleet[0]->status;
ok(($status->{requests}{token_revoked} // $status->{refused}{token_revoked} // 0) > 0,
   'the status counts token_revoked') or diag explain $status;

delete_tenant($op, $_) for $t, $other;
$_->stop for @fleet;
done_testing;
