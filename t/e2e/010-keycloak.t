#!/usr/bin/perl
# Keycloak of the local stack (run `make up` first):
# the platform realm import, the operator login, the provisioning identity
# creating and deleting a throwaway tenant realm, tenant tokens and JWKS.
#   prove -It/e2e/lib t/e2e/010-keycloak.t
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use E2E::Stack qw(env secret http_json token jwt_payload random_slug require_keycloak admin_realm_rep
                  test_redirect_uri);

require_keycloak();
my $kc       = env('KEYCLOAK_URL');
my $platform = env('PLATFORM_REALM');

subtest 'platform realm imported, issuer pinned' => sub {
    my ($st, $d) = http_json(GET => "$kc/realms/$platform/.well-known/openid-configuration");
    is $st, 200, 'discovery document';
    is $d->{issuer}, "$kc/realms/$platform", 'issuer';
    is $d->{issuer}, 'http://localhost:8080/realms/platform', 'issuer is the documented default'
        if $kc eq 'http://localhost:8080';
    # Asked through another host name, the issuer must not follow the Host header.
    (my $alt = $kc) =~ s{//localhost\b}{//127.0.0.1};
    ($st, $d) = http_json(GET => "$alt/realms/$platform/.well-known/openid-configuration");
    is $d->{issuer}, "$kc/realms/$platform", 'issuer does not follow the Host header' if $st == 200;
};

subtest 'operator logs in on platform-cli' => sub {
    my $tok = token($platform, env('PLATFORM_CLI_CLIENT_ID'),
                    user => env('PLATFORM_OPERATOR_USER'), password => secret('operator.password'));
    ok $tok, 'Authorization Code + PKCE through the login page' or return;
    my ($c, $h) = jwt_payload($tok);
    is $h->{alg}, 'RS256', 'alg RS256';
    is $c->{typ}, 'Bearer', 'typ Bearer';
    is $c->{iss}, "$kc/realms/$platform", 'iss';
    ok((grep { $_ eq 'platform_admin' } @{ $c->{realm_access}{roles} // [] }), 'realm_access.roles has platform_admin');
    is $c->{preferred_username}, env('PLATFORM_OPERATOR_USER'), 'preferred_username';
    ok((grep { $_ eq 'platform-services' } @{ ref $c->{aud} ? $c->{aud} : [$c->{aud}] }), 'aud has platform-services');
};

subtest 'platform-services service account holds platform_admin' => sub {
    my $tok = token($platform, env('PLATFORM_SERVICES_CLIENT_ID'), secret => secret('platform-services.secret'));
    ok $tok, 'client_credentials' or return;
    my ($c) = jwt_payload($tok);
    ok((grep { $_ eq 'platform_admin' } @{ $c->{realm_access}{roles} // [] }), 'platform_admin');
    # A platform-realm identity cannot create realms (only master can).
    my ($st) = http_json(POST => "$kc/admin/realms", token => $tok, json => { realm => random_slug('tenant-e2e-x'), enabled => JSON::PP::true });
    ok $st == 401 || $st == 403, "platform service account cannot POST /admin/realms (HTTP $st)";
};

my $prov = token('master', env('PROVISIONER_CLIENT_ID'), secret => secret('provisioner.secret'));
ok $prov, 'provisioning identity gets a token' or BAIL_OUT('no provisioner token');
{
    my ($c) = jwt_payload($prov);
    is $c->{iss}, "$kc/realms/master", 'provisioner token from master';
    ok !exists $c->{realm_access} && !exists $c->{resource_access}, 'lightweight access token (no role claims)';
    cmp_ok length($prov), '<', 2048, 'provisioner token stays small (' . length($prov) . ' bytes)';
}

my $realm    = random_slug('tenant-e2e-');
my $client   = 'e2e-cli';
my $user     = 'officer';
my $password = random_slug('pw-') . random_slug('-');
my $created;

subtest "provisioner creates $realm" => sub {
    my ($st, $b) = http_json(POST => "$kc/admin/realms", token => $prov,
        json => admin_realm_rep(realm => $realm, client => $client, user => $user, password => $password));
    is $st, 201, 'POST /admin/realms' or diag explain $b;
    $created = $st == 201;
    ($st) = http_json(POST => "$kc/admin/realms", token => $prov, json => { realm => $realm, enabled => JSON::PP::true });
    is $st, 409, 'duplicate realm is a 409';
    # The creator was granted the new realm's admin roles...
    ($st, $b) = http_json(GET => "$kc/admin/realms/$realm", token => $prov);
    is $st, 200, 'creator can read the new realm';
    ok ref $b && exists $b->{accessTokenLifespan}, 'full realm representation';
    ($st) = http_json(GET => "$kc/admin/realms/$realm/users?username=$user&exact=true", token => $prov);
    is $st, 200, 'creator can list its users';
    # ...and nothing else. GET /admin/realms/{other} answers any admin-role
    # holder with a name-only stub (Keycloak's realm name list); the content is refused.
    ($st, $b) = http_json(GET => "$kc/admin/realms/$platform", token => $prov);
    ok $st == 403 || (ref $b && !exists $b->{accessTokenLifespan} && !exists $b->{id}),
        "platform realm: name-only stub at most (HTTP $st)";
    for my $path ("$platform/users", "$platform/clients", 'master/users', 'master/clients') {
        ($st) = http_json(GET => "$kc/admin/realms/$path", token => $prov);
        is $st, 403, "provisioner refused on $path";
    }
};

subtest 'tenant user token' => sub {
    plan skip_all => 'realm not created' unless $created;
    my $tok = token($realm, $client, user => $user, password => $password, redirect_uri => test_redirect_uri());
    ok $tok, "login of $user\@$realm (Authorization Code + PKCE)" or return;
    my ($c, $h) = jwt_payload($tok);
    is $c->{iss}, "$kc/realms/$realm", 'iss is the tenant realm';
    is $c->{typ}, 'Bearer', 'typ Bearer';
    is $h->{alg}, 'RS256', 'RS256 (default RSA key)';
    ok((grep { $_ eq 'officer' } @{ $c->{realm_access}{roles} // [] }), 'officer role');
    ok $h->{kid}, 'kid in header';

    my ($st, $jwks) = http_json(GET => "$kc/realms/$realm/protocol/openid-connect/certs");
    is $st, 200, 'JWKS';
    my @keys = @{ $jwks->{keys} // [] };
    my ($sig) = grep { ($_->{use} // '') eq 'sig' && $_->{kid} eq ($h->{kid} // '') } @keys;
    ok $sig, 'signing key listed under the token kid';
    is $sig && $sig->{alg}, 'RS256', 'sig key alg RS256';
    is $sig && $sig->{kty}, 'RSA', 'sig key kty RSA';
    ok((grep { ($_->{use} // '') eq 'enc' && ($_->{alg} // '') eq 'RSA-OAEP' } @keys), 'RSA-OAEP enc key listed too');
};

subtest "provisioner deletes $realm" => sub {
    plan skip_all => 'realm not created' unless $created;
    my ($st, $b) = http_json(DELETE => "$kc/admin/realms/$realm", token => $prov);
    is $st, 204, 'DELETE /admin/realms/{realm}' or diag 'deletion refused: ' . explain $b;
    $created = 0 if $st == 204;
    ($st) = http_json(GET => "$kc/realms/$realm/.well-known/openid-configuration");
    is $st, 404, 'realm gone';
};

END {
    local $?;
    # Leave no realm behind when a test above died halfway.
    if ($created && $prov) {
        my ($st) = http_json(DELETE => "$kc/admin/realms/$realm", token => $prov);
        diag "cleanup of $realm: HTTP $st";
    }
}

done_testing;
