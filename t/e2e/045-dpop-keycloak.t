#!/usr/bin/perl
# DPoP-bound tokens from the real Keycloak through nginx (run `make up`).
#
# A tenant created with "dpop_bound_tokens": true gets Keycloak's
# dpop.bound.access.tokens on its admin-console client (and keeps it:
# reconcile puts it back). Keycloak then refuses a token request (the code
# exchange of an Authorization Code + PKCE login through its pages) without
# a DPoP proof and issues, for one with a proof, a token with cnf.jkt = the
# proof key's RFC 7638 thumbprint. Through nginx (/api/, auth_realm_dpop
# on) that token passes with a fresh proof, and fails with a replayed
# proof, a proof for another method or URL, a proof by another key, no
# proof, or as Bearer.
#   prove -It/e2e/lib t/e2e/045-dpop-keycloak.t
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib", "$FindBin::Bin/../lib";
use Test::More;
use E2E::Stack qw(env http_json login jwt_payload random_slug require_keycloak);
use E2E::Sidecar qw(api gateway operator_token create_tenant delete_tenant kc_admin
                    new_password require_sidecar sidecar_cli);
use RealmAuth::Dpop qw(dpop_key dpop_jkt dpop_proof);

require_keycloak();
require_sidecar();
my $op = operator_token() or BAIL_OUT('no operator token');
my $slug = random_slug('e2ed');
my $realm = "tenant-$slug";

my ($st, $body) = create_tenant($op, random_slug('e2ed'), dpop_bound_tokens => 'yes');
is $st, 400, 'dpop_bound_tokens must be a boolean';
is ref $body ? $body->{field} : '', 'dpop_bound_tokens', '... the field is named';
($st, $body) = create_tenant($op, $slug, dpop_bound_tokens => JSON::PP::true);
is $st, 201, 'tenant created with dpop_bound_tokens' or BAIL_OUT(explain $body);
ok $body->{dpop_bound_tokens}, 'the tenant says dpop_bound_tokens: true';
($st, $body) = api(GET => "/tenants/$slug", token => $op);
ok ref $body && $body->{dpop_bound_tokens}, 'stored: GET /tenants/{id} says so too';

my $console = sub {
    my (undef, $c) = kc_admin(GET => "/$realm/clients?clientId=admin-console");
    return ref $c ? $c->[0] : {};
};
is $console->()->{attributes}{'dpop.bound.access.tokens'}, 'true',
    'Keycloak: admin-console has dpop.bound.access.tokens';

($st, $body) = api(POST => "/tenants/$slug/users", token => $op, json => {
    username => 'dora', email => 'dora@x.org', first_name => 'D', last_name => 'D', roles => ['tenant_admin'] });
is $st, 201, 'user created' or BAIL_OUT(explain $body);
my $pw = new_password();
my $temporary = $body->{temporary_password};

my $token_url = env('KEYCLOAK_URL') . "/realms/$realm/protocol/openid-connect/token";
# The code of a login through Keycloak's pages (the first one completes
# UPDATE_PASSWORD), exchanged here so that the request can carry a proof.
sub code_form {
    my ($password, %o) = @_;
    my ($c, $err) = login($realm, 'admin-console', 'dora', $password, code_only => 1, %o);
    $c or BAIL_OUT("login of dora: $err");
    return (grant_type => 'authorization_code', client_id => 'admin-console',
            map { $_ => $c->{$_} } qw(code code_verifier redirect_uri));
}
my %form = code_form($temporary, new_password => $pw);
($st, $body) = http_json(POST => $token_url, form => \%form);
isnt $st, 200, "Keycloak refuses a code exchange without a DPoP proof (HTTP $st)";

my $key = dpop_key('ES256');
%form = code_form($pw);
($st, $body) = http_json(POST => $token_url, form => \%form,
                         headers => { DPoP => dpop_proof($key, htm => 'POST', htu => $token_url) });
is $st, 200, 'Keycloak issues a token for a request with a DPoP proof' or BAIL_OUT(explain $body);
is lc($body->{token_type} // ''), 'dpop', 'token_type DPoP';
my $at = $body->{access_token};
my ($claims) = jwt_payload($at);
is $claims->{cnf}{jkt}, dpop_jkt($key), 'cnf.jkt is the RFC 7638 thumbprint of the proof key';

my $url = gateway() . '/api/orders';
my $call = sub {
    my ($method, $proof, %o) = @_;
    my %h = (Authorization => ($o{scheme} // 'DPoP') . " $at");
    $h{DPoP} = $proof if defined $proof;
    return api($method => $o{path} // '/api/orders', headers => \%h);
};
my $fresh = sub { dpop_proof($key, token => $at, htm => $_[0] // 'GET', htu => $_[1] // $url) };
my $refused = sub {
    my ($res, $error, $name) = @_;
    is $res->{status}, 401, "$name: 401";
    like $res->{headers}{'www-authenticate'} // '', qr/^DPoP algs="[^"]+", error="$error"/,
        "$name: WWW-Authenticate DPoP error=$error";
};

my $proof = $fresh->();
my ($s1, $echo, $r1) = $call->(GET => $proof);
is $s1, 200, 'nginx: the DPoP-bound token with a fresh proof passes' or diag explain $echo;
is ref $echo ? $echo->{tenant_id} : '', $slug, 'the backend gets the verified identity';
my ($s2) = $call->(GET => $fresh->());
is $s2, 200, 'again with another fresh proof (verified-token cache hit)';
$refused->(($call->(GET => $proof))[2], 'invalid_dpop_proof', 'replayed proof');
$refused->(($call->(GET => $fresh->('POST')))[2], 'invalid_dpop_proof', 'proof for another method');
$refused->(($call->(GET => $fresh->('GET', gateway() . '/api/other')))[2], 'invalid_dpop_proof', 'proof for another URL');
$refused->(($call->(GET => dpop_proof(dpop_key('ES256'), token => $at, htm => 'GET', htu => $url)))[2],
           'invalid_token', 'proof by another key');
$refused->(($call->(GET => undef))[2], 'invalid_dpop_proof', 'no proof');
my (undef, undef, $rb) = $call->(GET => $fresh->(), scheme => 'Bearer');
is $rb->{status}, 401, 'the DPoP-bound token as Bearer: 401';
like $rb->{headers}{'www-authenticate'} // '', qr/error="invalid_token"/, 'as Bearer: invalid_token';

# The sidecar takes Bearer only: the bound token is refused there too,
# through nginx (/tenants has DPoP off) and directly.
my $sidecar = 'http://' . env('SIDECAR_HOST') . ':' . env('SIDECAR_PORT');
my ($gst, undef, $gres) = api(GET => "/tenants/$slug/users", token => $at);
is $gst, 401, 'through nginx, the bound token as Bearer at /tenants: 401';
like $gres->{headers}{'www-authenticate'} // '', qr/invalid_token/, '... invalid_token';
my ($dst, $dbody) = http_json(GET => "$sidecar/tenants/$slug/users", token => $at, purpose => 'e2e test');
is $dst, 401, 'directly at the sidecar, the bound token as Bearer: 401' or diag explain $dbody;

# Reconcile keeps the attribute: turned off behind the sidecar's back, it comes back.
my $c = $console->();
$c->{attributes}{'dpop.bound.access.tokens'} = 'false';
my ($pst) = kc_admin(PUT => "/$realm/clients/$c->{id}", json => $c);
ok $pst >= 200 && $pst < 300, 'attribute turned off in Keycloak directly';
my ($rc, @out) = sidecar_cli('reconcile');
is $rc, 0, 'reconcile exits 0' or diag @out;
is $console->()->{attributes}{'dpop.bound.access.tokens'}, 'true', 'reconcile put dpop.bound.access.tokens back';

is delete_tenant($op, $slug), 204, 'tenant deleted';
done_testing();
