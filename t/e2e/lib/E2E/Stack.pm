package E2E::Stack;
# Helpers for the end-to-end suites: they talk to the running local stack
# (`make up`). Configuration comes from scripts/stack/env.sh (non-secret
# values), secrets from .state/secrets/. Nothing here prints a secret.
use strict;
use warnings;
use Exporter 'import';
use File::Basename qw(dirname);
use File::Spec;
use Cwd qw(abs_path);
use HTTP::Tiny;
use JSON::PP;
use MIME::Base64 qw(decode_base64);
use Test::More;

our @EXPORT_OK = qw(root env secret http_json token jwt_payload random_slug require_keycloak
                    admin_realm_rep);

my $ROOT = abs_path(File::Spec->catdir(dirname(__FILE__), '..', '..', '..', '..'));
my %ENV_CACHE;
my $JSON = JSON::PP->new->utf8->canonical;
my $UA = HTTP::Tiny->new(timeout => 120, agent => 'realm-auth-e2e/1');

sub root { $ROOT }

# Resolved stack configuration (KEY => VALUE).
sub env {
    my ($key) = @_;
    unless (%ENV_CACHE) {
        open my $fh, '-|', 'bash', "$ROOT/scripts/stack/env.sh" or die "env.sh: $!";
        while (my $l = <$fh>) {
            chomp $l;
            my ($k, $v) = split /=/, $l, 2;
            $ENV_CACHE{$k} = $v if defined $v;
        }
        close $fh or die "scripts/stack/env.sh failed\n";
    }
    return $ENV_CACHE{$key} // die "no stack setting $key\n";
}

sub secret {
    my ($name) = @_;
    my $path = env('SECRETS_DIR') . "/$name";
    open my $fh, '<', $path or die "cannot read $path (run make up first): $!\n";
    local $/;
    my $v = <$fh>;
    $v =~ s/\s+\z//;
    return $v;
}

# http_json(METHOD, URL, token => T, purpose => P (X-Purpose), json => ref or
# raw text, form => {...}, headers => {...})
# Returns (status, decoded body (JSON responses) or raw text, response).
sub http_json {
    my ($method, $url, %o) = @_;
    my %h = (headers => { Accept => 'application/json', %{ $o{headers} // {} } });
    $h{headers}{Authorization} = "Bearer $o{token}" if $o{token};
    $h{headers}{'X-Purpose'} = $o{purpose} if defined $o{purpose};
    if (defined $o{json}) {
        $h{headers}{'Content-Type'} = 'application/json';
        $h{content} = ref $o{json} ? $JSON->encode($o{json}) : $o{json};
    } elsif ($o{form}) {
        $h{headers}{'Content-Type'} = 'application/x-www-form-urlencoded';
        $h{content} = $UA->www_form_urlencode($o{form});
    }
    my $res = $UA->request($method, $url, \%h);
    my $body = $res->{content} // '';
    if (length $body && ($res->{headers}{'content-type'} // '') =~ m{json}) {
        $body = eval { $JSON->decode($body) } // $body;
    }
    return ($res->{status}, $body, $res);
}

# token(REALM, CLIENT, user => U, password => P, secret => S): access token or undef
# (the error is reported with diag, never the credentials).
sub token {
    my ($realm, $client, %o) = @_;
    my %form = (client_id => $client);
    $form{client_secret} = $o{secret} if defined $o{secret};
    if (defined $o{user}) {
        @form{qw(grant_type username password)} = ('password', $o{user}, $o{password});
    } else {
        $form{grant_type} = 'client_credentials';
    }
    my ($st, $b) = http_json(POST => env('KEYCLOAK_URL') . "/realms/$realm/protocol/openid-connect/token",
                             form => \%form);
    return $b->{access_token} if $st == 200 && ref $b;
    diag("token for $client" . (defined $o{user} ? " / $o{user}" : '') . "\@$realm: HTTP $st "
         . (ref $b ? $JSON->encode($b) : substr($b, 0, 200)));
    return undef;
}

sub _b64url {
    my ($s) = @_;
    $s =~ tr{-_}{+/};
    $s .= '=' x (-length($s) % 4);
    return decode_base64($s);
}

# Decoded JOSE header and payload of a compact JWS (no verification).
sub jwt_payload {
    my ($jwt) = @_;
    my ($h, $p) = split /\./, $jwt // '';
    return (JSON::PP->new->decode(_b64url($p // '')), JSON::PP->new->decode(_b64url($h // '')));
}

sub random_slug {
    my ($prefix) = @_;
    return sprintf '%s%08x', $prefix, int(rand(0xffffffff));
}

# Stops the whole test file early when Keycloak is not up.
sub require_keycloak {
    my $url = env('KEYCLOAK_URL') . '/realms/' . env('PLATFORM_REALM');
    my ($st) = http_json(GET => $url);
    BAIL_OUT("Keycloak not reachable at $url (HTTP $st): run `make up` first") unless $st == 200;
}

# A tenant realm in the shape the sidecar creates (minimal): realm roles,
# a public client with direct access grants, one user with a permanent
# password and a full profile (a pending required action would block the
# password grant).
sub admin_realm_rep {
    my (%o) = @_;
    return {
        realm   => $o{realm},
        enabled => JSON::PP::true,
        roles   => { realm => [map { { name => $_ } } qw(tenant_admin officer supervisor auditor)] },
        clients => [{
            clientId                  => $o{client},
            publicClient              => JSON::PP::true,
            directAccessGrantsEnabled => JSON::PP::true,
            standardFlowEnabled       => JSON::PP::false,
        }],
        users => [{
            username      => $o{user},
            enabled       => JSON::PP::true,
            email         => "$o{user}\@$o{realm}.localhost",
            emailVerified => JSON::PP::true,
            firstName     => 'E2E',
            lastName      => ucfirst $o{user},
            credentials   => [{ type => 'password', value => $o{password}, temporary => JSON::PP::false }],
            realmRoles    => [@{ $o{roles} // ['officer'] }],
        }],
    };
}

1;
