#!/usr/bin/env perl
# Writes a JWKS and N distinct Keycloak-shaped RS256 access tokens, one a
# line (each its own jti and sub), for the never-seen-token cases.
# usage: mint_tokens.pl <jwks-out> <issuer> <n> > tokens
use strict;
use warnings;
use Crypt::PK::RSA;
use Crypt::JWT qw(encode_jwt);
use JSON::PP;

my ($jwks_out, $iss, $n) = @ARGV;
my $key = Crypt::PK::RSA->new;
$key->generate_key(256, 65537);    # 2048-bit, as Keycloak's default realm key
my $jwk = $key->export_key_jwk('public', 1);
@$jwk{qw(kid use alg)} = ('bench-key', 'sig', 'RS256');
open my $fh, '>', $jwks_out or die "$jwks_out: $!";
print $fh encode_json({ keys => [$jwk] });
close $fh;

my $now = time;
for my $i (1 .. $n) {
    print encode_jwt(
        alg           => 'RS256',
        key           => $key,
        extra_headers => { kid => 'bench-key', typ => 'JWT' },
        payload       => {
            iss                => $iss,
            jti                => sprintf('%08x-bench-%d', $$, $i),
            sub                => sprintf('5b1e3c9a-4f6d-4d7e-9d0e-%012d', $i),
            exp                => $now + 86400,
            iat                => $now,
            typ                => 'Bearer',
            azp                => 'admin-console',
            aud                => 'tenant-services',
            preferred_username => 'officer',
            email              => 'officer@demo.example',
            realm_access       => { roles => [qw(officer default-roles-tenant-demo offline_access)] },
            resource_access    => { account => { roles => [qw(manage-account view-profile)] } },
            scope              => 'openid profile email',
        },
    ), "\n";
}
