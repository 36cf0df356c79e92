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
use IPC::Open3 qw(open3);
use JSON::PP;
use Symbol qw(gensym);
use MIME::Base64 qw(decode_base64);
use Test::More;

our @EXPORT_OK = qw(root env secret http_json token login jwt_payload random_slug require_keycloak
                    admin_realm_rep test_redirect_uri);

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
# (the error is reported with diag, never the credentials). A user logs in
# through Keycloak's login pages (login() below: the public clients allow
# no password grant); without a user it is client_credentials.
sub token {
    my ($realm, $client, %o) = @_;
    if (defined $o{user}) {
        my ($tok, $err) = login($realm, $client, $o{user}, $o{password}, %o);
        return $tok->{access_token} if $tok;
        diag("token for $client / $o{user}\@$realm: $err");
        return undef;
    }
    my %form = (client_id => $client, grant_type => 'client_credentials');
    $form{client_secret} = $o{secret} if defined $o{secret};
    my ($st, $b) = http_json(POST => env('KEYCLOAK_URL') . "/realms/$realm/protocol/openid-connect/token",
                             form => \%form);
    return $b->{access_token} if $st == 200 && ref $b;
    diag("token for $client\@$realm: HTTP $st " . (ref $b ? $JSON->encode($b) : substr($b, 0, 200)));
    return undef;
}

# login(REALM, CLIENT, USER, PASSWORD, new_password => P, store => FILE,
#       start_url => KEYCLOAK_BASE, redirect_uri => URI, code_only => 1)
# → (token response {access_token, id_token, refresh_token, ...}; with
#   code_only {code, code_verifier, redirect_uri, client_id}) or
#   (undef, the reason login.py gave). Authorization Code + PKCE through
# Keycloak's pages (scripts/stack/login.sh); a pending UPDATE_PASSWORD is
# completed with new_password (required then, unless store is given).
# Secrets travel in the environment of the child only.
sub login {
    my ($realm, $client, $user, $password, %o) = @_;
    local $ENV{LOGIN_PASSWORD}       = $password // '';
    local $ENV{LOGIN_NEW_PASSWORD}   = $o{new_password} // '';
    local $ENV{LOGIN_STORE_PASSWORD} = $o{store} // '';
    local $ENV{LOGIN_START_URL}      = $o{start_url} // '';
    local $ENV{LOGIN_REDIRECT_URI}   = $o{redirect_uri} // '';
    local $ENV{LOGIN_JSON}           = 1;
    local $ENV{LOGIN_CODE_ONLY}      = $o{code_only} ? 1 : '';
    local $ENV{KEYCLOAK_URL}         = env('KEYCLOAK_URL');
    my $err = gensym;
    my $pid = open3(my $in, my $out, $err, "$ROOT/scripts/stack/login.sh", $realm, $client, $user);
    close $in;
    my $stdout = do { local $/; <$out> } // '';
    my $stderr = do { local $/; <$err> } // '';
    waitpid $pid, 0;
    my $rc = $? >> 8;
    $stderr =~ s/\s+\z//;
    return (undef, $stderr || "login.sh exited with $rc") if $rc;
    my $tok = eval { JSON::PP->new->decode($stdout) };
    return (undef, 'login.sh printed no token response') unless ref $tok eq 'HASH';
    return ($tok);
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

# The redirect URI of the test realms' public client (admin_realm_rep):
# scripted logins take the code from it and never visit it.
sub test_redirect_uri { 'http://localhost:' . env('NGINX_PORT') . '/' }

# A tenant realm in the shape the sidecar creates (minimal): realm roles,
# a public client for Authorization Code + PKCE (no password grant, like
# admin-console), one user with a permanent password and a full profile.
# Log in with token(..., redirect_uri => test_redirect_uri()).
sub admin_realm_rep {
    my (%o) = @_;
    return {
        realm   => $o{realm},
        enabled => JSON::PP::true,
        roles   => { realm => [map { { name => $_ } } qw(tenant_admin officer supervisor auditor)] },
        clients => [{
            clientId                  => $o{client},
            publicClient              => JSON::PP::true,
            directAccessGrantsEnabled => JSON::PP::false,
            standardFlowEnabled       => JSON::PP::true,
            redirectUris              => [test_redirect_uri()],
            attributes                => { 'pkce.code.challenge.method' => 'S256' },
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
