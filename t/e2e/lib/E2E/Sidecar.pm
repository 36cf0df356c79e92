package E2E::Sidecar;
# Helpers for the sidecar suites (t/e2e/03x-*.t): calls to the provisioning
# API through nginx (:NGINX_PORT), tokens of the platform operator and the
# master-realm provisioner, new users completing their first login
# (temporary password, then UPDATE_PASSWORD) through Keycloak's pages the
# way a person does (E2E::Stack::login), and a test-only shortcut that sets
# a permanent password through the Admin API instead. Nothing here prints
# a secret.
use strict;
use warnings;
use Exporter 'import';
use JSON::PP;
use Test::More;
use E2E::Stack qw(env secret token login http_json random_slug);

our @EXPORT_OK = qw(api gateway operator_token provisioner_token kc_admin activate_user
                    first_login new_active_user create_tenant delete_tenant sidecar_cli require_sidecar
                    new_password);

sub gateway { 'http://localhost:' . env('NGINX_PORT') }

# api(METHOD, PATH, token => T, json => REF, purpose => P (default "e2e test";
# undef for none), headers => {...}) → (status, body (decoded JSON or text), response)
sub api {
    my ($method, $path, %o) = @_;
    $o{purpose} = 'e2e test' unless exists $o{purpose};
    return http_json($method, gateway() . $path, %o);
}

sub operator_token {
    return token(env('PLATFORM_REALM'), env('PLATFORM_CLI_CLIENT_ID'),
                 user => env('PLATFORM_OPERATOR_USER'), password => secret('operator.password'));
}

sub provisioner_token {
    return token('master', env('PROVISIONER_CLIENT_ID'), secret => secret('provisioner.secret'));
}

# kc_admin(METHOD, "/tenant-x/users/…", json => …): Admin API as the
# provisioner (it administers the realms it created).
sub kc_admin {
    my ($method, $path, %o) = @_;
    my $tok = provisioner_token() or return (0, 'no provisioner token');
    return http_json($method, env('KEYCLOAK_URL') . "/admin/realms$path", token => $tok, %o);
}

# A fresh password for test users (never printed).
sub new_password { join '', 'Pw-', map { ('a'..'z', 'A'..'Z', 0..9)[rand 62] } 1 .. 24 }

# Test-only shortcut for what the user does at first login (UPDATE_PASSWORD),
# done through the Admin API: a permanent password and no pending action.
# Prefer first_login(), which goes through Keycloak's pages.
sub activate_user {
    my ($realm, $user_id, $password) = @_;
    my ($st) = kc_admin(PUT => "/$realm/users/$user_id/reset-password",
                        json => { type => 'password', value => $password, temporary => JSON::PP::false });
    return 0 unless $st == 204;
    my ($gst, $user) = kc_admin(GET => "/$realm/users/$user_id");
    return 0 unless $gst == 200 && ref $user;
    $user->{requiredActions} = [];
    ($st) = kc_admin(PUT => "/$realm/users/$user_id", json => $user);
    return $st == 204;
}

# first_login(REALM, USER, TEMPORARY, NEW) → token response or undef: the
# user's first login on admin-console with the temporary password the
# sidecar handed out, Keycloak's UPDATE_PASSWORD answered with NEW.
sub first_login {
    my ($realm, $user, $temporary, $password) = @_;
    my ($tok, $err) = login($realm, 'admin-console', $user, $temporary, new_password => $password);
    diag("first login of $user\@$realm: $err") unless $tok;
    return $tok;
}

# new_active_user(TOKEN, TENANT, NAME, roles => [...]) → (user_id, password):
# a user created through the sidecar (role officer unless told) who has
# completed the first login (new password set), ready to log in. Bails out
# when the creation fails.
sub new_active_user {
    my ($tok, $tenant, $name, %o) = @_;
    my ($st, $b) = api(POST => "/tenants/$tenant/users", token => $tok, json => {
        username => $name, email => "$name\@$tenant.localhost", first_name => 'E2E',
        last_name => ucfirst $name, roles => $o{roles} // ['officer'] });
    is $st, 201, "$tenant/$name created" or BAIL_OUT(explain $b);
    my $pw = new_password();
    ok first_login("tenant-$tenant", $name, $b->{temporary_password}, $pw), "$name: first login (UPDATE_PASSWORD)";
    return ($b->{user_id}, $pw);
}

# create_tenant(TOKEN, SLUG, %extra) → (status, body)
sub create_tenant {
    my ($tok, $slug, %extra) = @_;
    return api(POST => '/tenants', token => $tok,
               json => { slug => $slug, display_name => "E2E $slug", %extra });
}

sub delete_tenant {
    my ($tok, $slug) = @_;
    my ($st) = api(DELETE => "/tenants/$slug", token => $tok, purpose => 'e2e cleanup');
    return $st;
}

# Output lines of `realm-sidecar ARGS…` run with the stack's configuration.
sub sidecar_cli {
    my (@args) = @_;
    my $root = E2E::Stack::root();
    open my $fh, '-|', "$root/scripts/stack/sidecar.sh", 'run', @args or die "sidecar.sh: $!";
    my @lines = <$fh>;
    close $fh;
    return ($? >> 8, @lines);
}

sub require_sidecar {
    my ($st, undef, $res) = api(GET => '/tenants', purpose => undef);
    BAIL_OUT('nginx + sidecar not reachable at ' . gateway() . "/tenants (HTTP $st): run `make up` first")
        unless $st == 401 && ($res->{headers}{'www-authenticate'} // '') =~ /^Bearer/;
}

1;
