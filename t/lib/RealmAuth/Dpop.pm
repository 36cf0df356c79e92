package RealmAuth::Dpop;

# DPoP proofs (RFC 9449) for the module tests, made independently of the
# module's code: client keys (EC P-256/384/521, RSA, Ed25519), their RFC
# 7638 thumbprints, DPoP-bound access tokens (cnf.jkt) from the test
# issuer, and proofs with any claim or header changed.
#
#   my $key   = dpop_key('ES256');
#   my $token = dpop_token($key, realm => 'tenant-a');      # cnf.jkt = thumbprint
#   my $proof = dpop_proof($key, token => $token, htm => 'GET',
#                          htu => 'http://localhost:1234/api/x');

use strict;
use warnings;

use Exporter 'import';
use Carp qw(croak);
use Crypt::Digest::SHA256 qw(sha256);
use Crypt::Misc qw(encode_b64u);
use Crypt::PK::ECC;
use Crypt::PK::Ed25519;
use Crypt::PK::RSA;
use JSON::PP ();

use RealmAuth::Issuer qw(token);

our @EXPORT_OK = qw(dpop_key dpop_jwk dpop_jkt dpop_token dpop_proof dpop_sign ath_of);
our %EXPORT_TAGS = (all => \@EXPORT_OK);

my %CURVE = (ES256 => 'secp256r1', ES384 => 'secp384r1', ES512 => 'secp521r1');
my %RSA_CACHE;    # RSA keys are slow to make: one per algorithm family

# A fresh client key for `alg` (RSA keys shared within the process).
sub dpop_key {
    my ($alg) = @_;
    $alg //= 'ES256';
    my $key;
    if ($CURVE{$alg})        { $key = Crypt::PK::ECC->new; $key->generate_key($CURVE{$alg}) }
    elsif ($alg eq 'EdDSA')  { $key = Crypt::PK::Ed25519->new; $key->generate_key }
    elsif ($alg =~ /^(RS|PS)/) {
        $key = $RSA_CACHE{$alg} //= do { my $k = Crypt::PK::RSA->new; $k->generate_key(256, 65537); $k };
    } else { croak "no key for $alg" }
    return { alg => $alg, key => $key };
}

# The public JWK (members only, no kid/alg/use) as a hash.
sub dpop_jwk {
    my ($k) = @_;
    my $jwk = $k->{key}->export_key_jwk('public', 1);
    delete @$jwk{qw(kid alg use)};
    return $jwk;
}

# RFC 7638: SHA-256 over the required members in lexicographic order.
sub dpop_jkt {
    my ($k) = @_;
    my $jwk = ref $k eq 'HASH' && $k->{key} ? dpop_jwk($k) : $k;
    my @members = $jwk->{kty} eq 'RSA' ? qw(e kty n)
                : $jwk->{kty} eq 'EC'  ? qw(crv kty x y)
                :                        qw(crv kty x);
    my $text = '{' . join(',', map { qq("$_":"$jwk->{$_}") } @members) . '}';
    return encode_b64u(sha256($text));
}

sub ath_of { encode_b64u(sha256($_[0])) }

# An access token from the test issuer bound to `$k` (cnf.jkt); extra
# options as RealmAuth::Issuer::token; cnf => {...} replaces the whole cnf.
sub dpop_token {
    my ($k, %a) = @_;
    my $cnf = exists $a{cnf} ? delete $a{cnf} : { jkt => dpop_jkt($k) };
    # Keycloak marks DPoP-bound access tokens with typ "DPoP".
    my %claims = (typ => 'DPoP', %{ delete $a{claims} // {} }, cnf => $cnf);
    return token(%a, claims => \%claims);
}

my $SEQ = 0;

# A signed proof. Options:
#   token     the access token (ath = its hash; ath => undef omits it)
#   htm, htu  the method and URI (required)
#   iat       default now; jti default unique
#   claims    { name => value } merged over the above; undef deletes
#   header    { name => value } merged over {typ, alg, jwk}; undef deletes
#   sign_with another key hash to sign with (the header's jwk stays $k's)
#   raw_header / raw_payload  exact JSON text instead
sub dpop_proof {
    my ($k, %a) = @_;
    my %header = (typ => 'dpop+jwt', alg => $k->{alg}, jwk => dpop_jwk($k));
    _merge(\%header, $a{header});
    my %claims = (
        jti => "jti-$$-" . time . '-' . $SEQ++,
        htm => $a{htm} // croak('htm'),
        htu => $a{htu} // croak('htu'),
        iat => $a{iat} // time,
    );
    $claims{ath} = ath_of($a{token}) if defined $a{token};
    _merge(\%claims, $a{claims});
    my $json = JSON::PP->new->canonical;
    my $h = $a{raw_header} // $json->encode(\%header);
    my $p = $a{raw_payload} // $json->encode(\%claims);
    my $signer = $a{sign_with} // $k;
    my $alg = $a{sign_alg} // $signer->{alg};
    my $input = encode_b64u($h) . '.' . encode_b64u($p);
    return "$input." . encode_b64u(dpop_sign($alg, $signer->{key}, $input));
}

sub dpop_sign {
    my ($alg, $key, $input) = @_;
    return $key->sign_message($input, "SHA$1", 'v1.5') if $alg =~ /^RS(\d+)$/;
    return $key->sign_message($input, "SHA$1", 'pss', $1 / 8) if $alg =~ /^PS(\d+)$/;
    return $key->sign_message_rfc7518($input, "SHA$1") if $alg =~ /^ES(\d+)$/;
    return $key->sign_message($input) if $alg eq 'EdDSA';
    croak "cannot sign with $alg";
}

sub _merge {
    my ($into, $over) = @_;
    return unless $over;
    for my $k (keys %$over) {
        if (defined $over->{$k}) { $into->{$k} = $over->{$k} }
        else                     { delete $into->{$k} }
    }
}

1;
