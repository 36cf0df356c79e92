#!/usr/bin/env perl
# Material for bench/dpop-cost.sh: a JWKS; two Keycloak-shaped RS256 access
# tokens, one plain (Bearer) and one bound to a fresh P-256 client key
# (cnf.jkt, typ DPoP); and, per proofs file named, N DPoP proofs for GET of
# the matching URL, each with its own jti (a proof is accepted once).
# usage: dpop_material.pl <jwks-out> <issuer> <n> <url>=<proofs-out>... > tokens
#        (prints the Bearer token, then the DPoP-bound token)
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use Crypt::JWT qw(encode_jwt);
use Crypt::PK::RSA;
use JSON::PP;
use RealmAuth::Dpop qw(dpop_key dpop_jkt dpop_proof);

my ($jwks_out, $iss, $n, @outs) = @ARGV;
my $key = Crypt::PK::RSA->new;
$key->generate_key(256, 65537);    # 2048-bit, as Keycloak's default realm key
my $jwk = $key->export_key_jwk('public', 1);
@$jwk{qw(kid use alg)} = ('bench-key', 'sig', 'RS256');
open my $fh, '>', $jwks_out or die "$jwks_out: $!";
print $fh encode_json({ keys => [$jwk] });
close $fh;

my $client = dpop_key('ES256');
my $now = time;
my $mint = sub {
    my (%extra) = @_;
    return encode_jwt(
        alg => 'RS256', key => $key, extra_headers => { kid => 'bench-key', typ => 'JWT' },
        payload => {
            iss => $iss, sub => '5b1e3c9a-4f6d-4d7e-9d0e-2f8a7c3b1a90', exp => $now + 86400,
            iat => $now, typ => 'Bearer', azp => 'admin-console', aud => 'tenant-services',
            preferred_username => 'officer', email => 'officer@demo.example',
            realm_access => { roles => [qw(officer default-roles-tenant-demo offline_access)] },
            resource_access => { account => { roles => [qw(manage-account view-profile)] } },
            scope => 'openid profile email', %extra,
        });
};
my $bearer = $mint->();
my $bound = $mint->(typ => 'DPoP', cnf => { jkt => dpop_jkt($client) });
for my $spec (@outs) {
    my ($url, $file) = split /=/, $spec, 2;
    open my $out, '>', $file or die "$file: $!";
    print $out dpop_proof($client, token => $bound, htm => 'GET', htu => $url), "\n" for 1 .. $n;
    close $out;
}
print "$bearer\n$bound\n";
