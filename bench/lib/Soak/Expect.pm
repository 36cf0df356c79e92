package Soak::Expect;
# What a soak request should get, and what it got.
#
# The controller (bench/soak.pl) describes every token it hands to the load
# clients with its `exp` and a timeline of phases, for the token itself
# (user disabled, session revoked) and for its tenant (disabled, enabled,
# deleted). A phase is [from_epoch, spec]; the last phase that has begun
# applies. A spec is
#   'ok'                 the token must pass (200)
#   'refuse:a|b'         it must be refused with one of these reasons
#   'either:a|b'         a change is under way: 200 or one of these reasons
# The controller announces a change (an `either` phase starting a moment
# later) before it makes the call, and replaces it with `refuse` a bounded
# window after the call answered, so a client never judges a request by a
# timeline it has not read yet.
use strict;
use warnings;
use Exporter 'import';

our @EXPORT_OK = qw(expectation judge outcome_of reason_groups window_of LEEWAY);

# auth_realm_leeway (default 30 s): a token passes until exp + leeway.
use constant LEEWAY => 30;
# Clock reads of the client and of nginx differ by this much at most.
use constant MARGIN => 2;

sub _parse {
    my ($spec) = @_;
    my ($kind, $reasons) = split /:/, $spec, 2;
    return { ok => $kind ne 'refuse', reasons => { map { $_ => 1 } grep { length } split /\|/, $reasons // '' } };
}

sub _phase_at {
    my ($phases, $t) = @_;
    my $spec = 'ok';
    for my $p (@{ $phases // [] }) { $spec = $p->[1] if $p->[0] <= $t }
    return _parse($spec);
}

# expectation(ENTRY, TENANT_PHASES, T) → { ok => bool, reasons => {name => 1} }
# Order follows the module: signature, then claims (exp), then the tenant's
# record, then revocation records.
sub expectation {
    my ($e, $tenant_phases, $t) = @_;
    return { ok => 0, reasons => { signature_invalid => 1 } } if $e->{forged};
    my $tn = _phase_at($tenant_phases, $t);
    my $us = _phase_at($e->{phases}, $t);
    my $x;
    if (!$tn->{ok}) {
        $x = { ok => 0, reasons => { %{ $tn->{reasons} } } };
    } elsif (%{ $tn->{reasons} }) {    # tenant change under way
        $x = { ok => $us->{ok}, reasons => { %{ $tn->{reasons} }, %{ $us->{reasons} } } };
    } else {
        $x = $us;
    }
    my $until = $e->{exp} + LEEWAY;
    return { ok => 0, reasons => { expired => 1 } } if $t > $until + MARGIN;
    $x->{reasons}{expired} = 1 if $t >= $until - MARGIN;
    return $x;
}

# The announced change under way at T, if any, as "T <tenant> <phase index>"
# or "E <entry id> <phase index>" (the controller names changes the same
# way): for measuring how long each change took to reach every worker.
sub window_of {
    my ($e, $tenant_phases, $t) = @_;
    for ([T => $e->{tenant}, $tenant_phases], [E => $e->{id}, $e->{phases}]) {
        my ($kind, $name, $ph) = @$_;
        my $cur;
        for my $i (0 .. $#{ $ph // [] }) { $cur = $i if $ph->[$i][0] <= $t }
        return "$kind $name $cur" if defined $cur && $ph->[$cur][1] =~ /^either/;
    }
    return undef;
}

# What nginx answered, as a reason name: 'ok', a refusal reason, or http_NNN.
# 401s carry RFC 6750 error_description; a few descriptions are shared by
# two reasons (reason_groups): the first name stands for the group.
my %DESCRIPTION = (
    'bearer token missing'              => 'token_missing',
    'token too large'                   => 'token_too_large',
    'token malformed'                   => 'token_malformed',
    'encrypted tokens are not accepted' => 'token_is_jwe',
    'token header malformed'            => 'header_not_json',
    'token payload malformed'           => 'payload_not_json',
    'token has duplicate members'       => 'duplicate_key',
    'token nested too deeply'           => 'json_too_deep',
    'signature algorithm not allowed'   => 'alg_not_allowed',
    'critical header not supported'     => 'crit_unsupported',
    'token type not allowed'            => 'typ_not_allowed',
    'token header invalid'              => 'kid_invalid',
    'issuer missing'                    => 'issuer_missing',
    'issuer not allowed'                => 'issuer_not_allowed',
    'subject missing'                   => 'sub_missing',
    'expiry missing'                    => 'exp_missing',
    'token expired'                     => 'expired',
    'token not yet valid'               => 'not_yet_valid',
    'audience not allowed'              => 'audience_mismatch',
    'token claim invalid'               => 'claim_invalid',
    'token signer not recognized'       => 'key_not_found',
    'signature invalid'                 => 'signature_invalid',
    'token cannot be verified now'      => 'jwks_unavailable',
    'tenant disabled'                   => 'tenant_disabled',
    'tenant deleted'                    => 'tenant_deleted',
    'tenant unknown'                    => 'tenant_unknown',
    'token revoked'                     => 'token_revoked',
);

# Counter names (auth_realm_status "refused") that the client sees as the
# same answer, keyed by the name outcome_of returns.
sub reason_groups {
    return (
        token_malformed  => [qw(token_malformed bad_base64)],
        alg_not_allowed  => [qw(alg_not_allowed key_mismatch)],
        jwks_unavailable => [qw(jwks_unavailable jwks_malformed)],
    );
}

sub outcome_of {
    my ($res) = @_;
    my $st = $res->{status};
    return 'ok' if $st == 200;
    if ($st == 401) {
        my $h = $res->{headers}{'www-authenticate'} // '';
        $h = join ',', @$h if ref $h;
        return 'token_missing' unless $h =~ /error_description="([^"]*)"/;
        return $DESCRIPTION{$1} // "unknown_description($1)";
    }
    return 'purpose_missing' if $st == 400;    # the only 400 of /api/ (we always send one)
    return 'internal_error' if $st == 500;
    return "http_$st";
}

# judge(EXPECTATION, OUTCOME) → '' when right, else why it is wrong:
# 'accepted' (an invalid token passed), 'refused' (a valid token refused),
# 'reason' (refused, as it should be, but for another reason).
sub judge {
    my ($x, $got) = @_;
    if ($got eq 'ok') { return $x->{ok} ? '' : 'accepted' }
    return '' if $x->{reasons}{$got};
    return $x->{ok} ? 'refused' : 'reason';
}

1;
