#!/usr/bin/perl
# The public clients allow no password grant (issue 11, item 5): Keycloak
# itself refuses `grant_type=password` on every tenant's admin-console and
# on the platform realm's platform-cli with `unauthorized_client`, even for
# a user whose password is right and who has nothing left to do; reconcile
# turns the flag back off where a realm has it on. Scripts log in with
# Authorization Code + PKCE through Keycloak's pages instead
# (scripts/stack/login.py, docs/LOGIN.md): asserted here for a user the
# sidecar just created (temporary password → UPDATE_PASSWORD → a token
# nginx verifies), a generated password stored 0600, and clear failures for
# a wrong password, a one-time code and a disabled account.
#   prove -It/e2e/lib t/e2e/091-no-password-grant.t
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use File::Temp qw(tempdir);
use HTTP::Tiny;
use JSON::PP;
use Test::More;
use E2E::Stack qw(root env secret http_json token login jwt_payload random_slug require_keycloak);
use E2E::Sidecar qw(api gateway kc_admin activate_user create_tenant delete_tenant new_password
                    sidecar_cli require_sidecar);

require_keycloak();
require_sidecar();

my $kc = env('KEYCLOAK_URL');
# The platform's service account (client_credentials) holds platform_admin:
# this suite does not depend on the login it tests to set itself up.
my $op = token(env('PLATFORM_REALM'), env('PLATFORM_SERVICES_CLIENT_ID'), secret => secret('platform-services.secret'))
    or BAIL_OUT('no platform-services token');

sub password_grant {
    my ($realm, $client, $user, $password) = @_;
    return http_json(POST => "$kc/realms/$realm/protocol/openid-connect/token",
                     form => { grant_type => 'password', client_id => $client, username => $user,
                               password => $password, scope => 'openid' });
}

sub client_of {
    my ($realm, $client_id) = @_;
    my ($st, $list) = kc_admin(GET => "/$realm/clients?clientId=$client_id");
    return $st == 200 && ref $list eq 'ARRAY' ? $list->[0] : undef;
}

sub new_user {
    my ($slug, $name, @roles) = @_;
    my ($st, $b) = api(POST => "/tenants/$slug/users", token => $op, json => {
        username => $name, email => "$name\@$slug.localhost", first_name => 'E2E', last_name => ucfirst $name,
        roles => [@roles ? @roles : 'officer'] });
    is $st, 201, "user $name created through the sidecar" or BAIL_OUT(explain $b);
    ok length($b->{temporary_password} // ''), 'with a temporary password';
    return $b;
}

# What a token endpoint answered, without any token in it (never in a log).
sub answer { my ($b) = @_; ref $b eq 'HASH' ? { map { $_ => $b->{$_} } grep { !/token/ } keys %$b } : $b }

# An authorization request to REALM for CLIENT (params override), as a
# browser sends it: the status and the page's text.
sub authorize {
    my ($realm, $client, %p) = @_;
    my %q = (response_type => 'code', client_id => $client, scope => 'openid', state => 'st' x 12,
             nonce => 'nc' x 12, code_challenge => 'A' x 43, code_challenge_method => 'S256', %p);
    delete @q{grep { !defined $q{$_} } keys %q};
    my $url = "$kc/realms/$realm/protocol/openid-connect/auth?" . HTTP::Tiny->new->www_form_urlencode(\%q);
    my $res = HTTP::Tiny->new(timeout => 120, max_redirect => 0)->get($url);
    return ($res->{status}, $res->{content} // '', $res->{headers}{location} // '');
}

subtest 'platform-cli: no password grant; Authorization Code + PKCE to its loopback URI only' => sub {
    my ($realm, $cli, $user) = (env('PLATFORM_REALM'), env('PLATFORM_CLI_CLIENT_ID'), env('PLATFORM_OPERATOR_USER'));
    my ($st, $b) = password_grant($realm, $cli, $user, secret('operator.password'));
    is $st, 400, "the operator's right password: 400";
    is ref $b && $b->{error}, 'unauthorized_client', 'unauthorized_client' or diag explain answer($b);
    ok !(ref $b && $b->{access_token}), 'no token';
    my ($tok, $err) = login($realm, $cli, $user, secret('operator.password'));
    ok $tok, 'the operator logs in with Authorization Code + PKCE' or diag $err;
    my ($c) = $tok ? jwt_payload($tok->{access_token}) : ({});
    is $c->{azp}, $cli, "a token of $cli";
    my ($ok) = authorize($realm, $cli, redirect_uri => env('PLATFORM_CLI_REDIRECT_URI'));
    is $ok, 200, 'the registered loopback redirect URI: the login page';
    my ($bad, $page) = authorize($realm, $cli, redirect_uri => 'http://evil.example/cb');
    is $bad, 400, 'another redirect URI: 400';
    like $page, qr/Invalid parameter: redirect_uri/, '... invalid redirect_uri';
    my ($np, $npage, $nloc) = authorize($realm, $cli, redirect_uri => env('PLATFORM_CLI_REDIRECT_URI'),
                                        code_challenge => undef, code_challenge_method => undef);
    ok(($np == 302 && $nloc =~ /[?&]error=invalid_request/ && $nloc !~ /[?&]code=/) || $np == 400,
       "no PKCE: refused, no code (HTTP $np)");
    like "$nloc $npage", qr/code_challenge_method/, '... naming the missing code_challenge_method';
};

my $slug = random_slug('e2ep');
my ($st, $b) = create_tenant($op, $slug);
is $st, 201, "tenant $slug created" or BAIL_OUT(explain $b);
my $realm = "tenant-$slug";

subtest 'admin-console: no password grant, even for a user ready to log in' => sub {
    my $c = client_of($realm, 'admin-console') or return fail('admin-console');
    ok !$c->{directAccessGrantsEnabled}, 'directAccessGrantsEnabled is false';
    my $u = new_user($slug, 'pat');
    my $pw = new_password();
    # Test-only: permanent password, no required action, so that only the
    # client's setting can refuse the grant.
    ok activate_user($realm, $u->{user_id}, $pw), 'pat has a permanent password and nothing pending';
    my ($gst, $gb) = password_grant($realm, 'admin-console', 'pat', $pw);
    is $gst, 400, 'password grant: 400';
    is ref $gb && $gb->{error}, 'unauthorized_client', 'unauthorized_client' or diag explain answer($gb);
    ok !(ref $gb && $gb->{access_token}), 'no token';
    my ($tok, $err) = login($realm, 'admin-console', 'pat', $pw);
    ok $tok, 'the same user logs in with Authorization Code + PKCE' or diag $err;
};

subtest 'first login of a user the sidecar created: temporary password, UPDATE_PASSWORD, token' => sub {
    my $u = new_user($slug, 'ada', 'supervisor');
    my $pw = new_password();
    my ($tok, $err) = login($realm, 'admin-console', 'ada', $u->{temporary_password}, new_password => $pw);
    ok $tok, 'first login completed' or return diag $err;
    my ($c) = jwt_payload($tok->{access_token});
    is $c->{iss}, "$kc/realms/$realm", 'iss: the tenant realm';
    is $c->{azp}, 'admin-console', 'azp: admin-console';
    is $c->{sub}, $u->{user_id}, 'sub: the user the sidecar created';
    is $c->{preferred_username}, 'ada', 'preferred_username';
    ok((grep { $_ eq 'supervisor' } @{ $c->{realm_access}{roles} // [] }), 'realm role supervisor');
    ok((grep { $_ eq 'realm-sidecar' } @{ ref $c->{aud} ? $c->{aud} : [$c->{aud} // ()] }), 'aud: realm-sidecar');
    my ($idc) = jwt_payload($tok->{id_token});
    ok length($idc->{nonce} // ''), 'the ID token carries the nonce (login.py checked it)';
    my ($ust, $user) = kc_admin(GET => "/$realm/users/$u->{user_id}");
    is_deeply $user->{requiredActions}, [], 'no required action left';
    my ($w, $id) = http_json(GET => gateway() . '/api/whoami', token => $tok->{access_token}, purpose => 'e2e 091');
    is $w, 200, 'nginx verifies the token';
    is ref $id && $id->{tenant_id}, $slug, 'whoami: tenant_id';
    my ($again, $e2) = login($realm, 'admin-console', 'ada', $pw);
    ok $again, 'the new password logs in (nothing pending now)' or diag $e2;
    my ($old, $e3) = login($realm, 'admin-console', 'ada', $u->{temporary_password});
    ok !$old, 'the temporary password no longer does';
    like $e3 // '', qr/refused the login of ada: .*invalid/i, "a clear reason: $e3";
};

subtest 'a generated new password is stored 0600; a wrong password fails clearly' => sub {
    my $u = new_user($slug, 'bodil');
    my $dir = tempdir(CLEANUP => 1);
    my $file = "$dir/users/$realm/bodil.password";
    my ($tok, $err) = login($realm, 'admin-console', 'bodil', $u->{temporary_password}, store => $file);
    ok $tok, 'first login with a generated password' or return diag $err;
    ok -s $file, 'stored';
    is sprintf('%04o', (stat $file)[2] & 07777), '0600', 'mode 0600';
    ok !-e "$file.tmp", 'no temporary file left';
    open my $fh, '<', $file or return fail("read $file");
    chomp(my $pw = <$fh>);
    isnt $pw, $u->{temporary_password}, 'a new password';
    my ($t2, $e2) = login($realm, 'admin-console', 'bodil', $pw);
    ok $t2, 'the stored password logs in' or diag $e2;
    my ($t3, $e3) = login($realm, 'admin-console', 'bodil', 'Wrong-password-1');
    ok !$t3, 'a wrong password: no token';
    like $e3 // '', qr/bodil\@\Q$realm\E .*refused the login of bodil: Invalid username or password/i, "clear: $e3";
    my ($t4, $e4) = login($realm, 'admin-console', 'nobody', 'Wrong-password-1');
    ok !$t4, 'an unknown user: no token';
    like $e4 // '', qr/refused the login of nobody/, "clear: $e4";
};

subtest 'pages the scripted login does not handle stop it with a reason' => sub {
    my $u = new_user($slug, 'otto');
    my $pw = new_password();
    ok activate_user($realm, $u->{user_id}, $pw), 'otto has a permanent password';
    my ($gst, $user) = kc_admin(GET => "/$realm/users/$u->{user_id}");
    $user->{requiredActions} = ['CONFIGURE_TOTP'];
    my ($pst) = kc_admin(PUT => "/$realm/users/$u->{user_id}", json => $user);
    is $pst, 204, 'otto must set up a one-time code (CONFIGURE_TOTP)';
    my ($t, $e) = login($realm, 'admin-console', 'otto', $pw);
    ok !$t, 'no token';
    like $e // '', qr/one-time code/, "clear: $e";
    ($gst, $user) = kc_admin(GET => "/$realm/users/$u->{user_id}");
    $user->{requiredActions} = [];
    $user->{enabled} = JSON::PP::false;
    ($pst) = kc_admin(PUT => "/$realm/users/$u->{user_id}", json => $user);
    is $pst, 204, 'otto disabled';
    ($t, $e) = login($realm, 'admin-console', 'otto', $pw);
    ok !$t, 'disabled: no token';
    like $e // '', qr/refused the login of otto: .*(disabled|invalid)/i, "clear: $e";
    my $u2 = new_user($slug, 'una');
    my ($t3, $e3) = login($realm, 'admin-console', 'una', $u2->{temporary_password});
    ok !$t3, 'UPDATE_PASSWORD without a new password or a file to store one: no token';
    like $e3 // '', qr/requires a new password .*UPDATE_PASSWORD/, "clear: $e3";
};

subtest 'reconcile turns the password grant off where a realm has it on' => sub {
    my $c = client_of($realm, 'admin-console') or return fail('admin-console');
    my ($st) = kc_admin(PUT => "/$realm/clients/$c->{id}", json => { %$c, directAccessGrantsEnabled => JSON::PP::true });
    is $st, 204, 'directAccessGrantsEnabled set to true behind the sidecar\'s back (a realm of the old spec)';
    my ($rc, @out) = sidecar_cli('reconcile', '--check');
    like join('', @out), qr/^drift: \Q$slug\E: client admin-console: directAccessGrantsEnabled is true, spec false$/m, 'reconcile --check names it';
    ($rc, @out) = sidecar_cli('reconcile');
    is $rc, 0, 'reconcile exits 0' or diag @out;
    $c = client_of($realm, 'admin-console');
    ok !$c->{directAccessGrantsEnabled}, 'false again';
    my $u = new_user($slug, 'rex');
    my $pw = new_password();
    ok activate_user($realm, $u->{user_id}, $pw), 'rex ready';
    my ($gst, $gb) = password_grant($realm, 'admin-console', 'rex', $pw);
    is ref $gb && $gb->{error}, 'unauthorized_client', 'the password grant is refused again' or diag explain answer($gb);
};

is delete_tenant($op, $slug), 204, "tenant $slug deleted";
done_testing;
