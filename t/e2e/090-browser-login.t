#!/usr/bin/perl
# A person logs in with a browser (issue 11, item 5): headless Chromium
# (Debian's chromium + chromium-driver, E2E::WebDriver) opens the tenant
# console nginx serves at /, chooses a tenant, logs in to tenant-<slug> on
# admin-console (Authorization Code + PKCE) as a user the sidecar just
# created, with its temporary password, sets a new password at Keycloak's
# UPDATE_PASSWORD page, sees the identity nginx verified (/api/whoami:
# tenant, actor, roles, purpose), and logs out (RP-initiated): the
# Keycloak session is gone, the next login asks for the password again,
# and the access token the page held is refused by nginx.
# Screenshots: .state/artefacts/090-browser-login/*.png (git-ignored).
#   prove -It/e2e/lib t/e2e/090-browser-login.t
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP;
use Time::HiRes qw(time sleep);
use E2E::Stack qw(root env http_json token jwt_payload random_slug require_keycloak);
use E2E::Sidecar qw(api gateway operator_token kc_admin create_tenant delete_tenant
                    new_active_user new_password require_sidecar);
use E2E::WebDriver;

require_keycloak();
require_sidecar();
E2E::WebDriver::binaries()
    or BAIL_OUT('chromium and chromium-driver are not installed (scripts/deps/apt-packages.txt: run make deps)');

my $artefacts = root() . '/.state/artefacts/090-browser-login';
my $console = gateway() . '/';
my $op = operator_token() or BAIL_OUT('no operator token');
my $slug = random_slug('e2eb');
my ($st, $b) = create_tenant($op, $slug);
is $st, 201, "tenant $slug created" or BAIL_OUT(explain $b);

sub wait_until { my ($secs, $cond) = @_; my $end = time + $secs; while (time < $end) { return 1 if $cond->(); sleep 0.2 } return $cond->() }

subtest 'the console and whoami, as nginx serves them' => sub {
    my ($cst, undef, $res) = http_json(GET => $console, headers => { Accept => 'text/html' });
    is $cst, 200, 'GET / is the console';
    my $csp = $res->{headers}{'content-security-policy'} // '';
    like $csp, qr/script-src 'self'(;|$)/, 'CSP: scripts of the console only (no inline, no eval)';
    like $csp, qr/connect-src 'self' \Q${\ env('KEYCLOAK_URL')}\E(;|$)/, 'CSP: fetch to itself and Keycloak only';
    like $csp, qr/frame-ancestors 'none'/, 'CSP: never framed';
    is $res->{headers}{'x-content-type-options'}, 'nosniff', 'nosniff';
    my ($jst, undef, $jres) = http_json(GET => gateway() . '/console/console.js');
    is $jst, 200, 'console.js served';
    like $jres->{headers}{'content-type'} // '', qr{^text/javascript}, 'as JavaScript';
    my ($kst, $cfg) = http_json(GET => gateway() . '/console/config.json');
    is_deeply $cfg, { keycloak_url => env('KEYCLOAK_URL'), client_id => 'admin-console' }, 'config.json';

    # whoami over curl, with a user activated the test-only way.
    my ($uid, $pw) = new_active_user($op, $slug, 'curly', roles => ['auditor']);
    my $tok = token("tenant-$slug", 'admin-console', user => 'curly', password => $pw) or return;
    my ($w0) = http_json(GET => gateway() . '/api/whoami');
    is $w0, 401, 'no token: 401';
    my ($w1) = http_json(GET => gateway() . '/api/whoami', token => $tok);
    is $w1, 400, 'no X-Purpose: 400 (the /api/ rule)';
    my ($w2) = http_json(GET => gateway() . '/api/whoami', token => $op, purpose => 'x');
    is $w2, 401, 'a platform token (not a tenant issuer, no tenant-services audience): 401';
    # A purpose with quotes and backslashes must not change the document.
    my $purpose = q{see "me" \ and ","roles":["platform_admin"]};
    my ($w3, $id, $r3) = http_json(GET => gateway() . '/api/whoami', token => $tok, purpose => $purpose);
    is $w3, 200, 'whoami 200';
    like $r3->{headers}{'content-type'} // '', qr{^application/json}, 'application/json';
    is ref $id, 'HASH', 'a JSON object' or diag $id;
    is $id->{purpose}, $purpose, 'purpose, escaped';
    is ref $id->{roles}, 'ARRAY', 'roles: an array';
    ok((grep { $_ eq 'auditor' } @{ $id->{roles} // [] }), 'roles: auditor') or diag explain $id->{roles};
    ok(!(grep { $_ eq 'platform_admin' } @{ $id->{roles} // [] }), 'roles: not what the purpose tried to add');
    is $id->{tenant_id}, $slug, 'tenant_id';
    is $id->{actor_id}, $uid, 'actor_id';
    is $id->{username}, 'curly', 'username';
    is $id->{issuer}, env('KEYCLOAK_URL') . "/realms/tenant-$slug", 'issuer';
};

# The user a tenant admin would hand a temporary password to.
my ($ust, $user) = api(POST => "/tenants/$slug/users", token => $op, json => {
    username => 'ada', email => "ada\@$slug.localhost", first_name => 'Ada', last_name => 'Lovelace',
    roles => ['officer'] });
is $ust, 201, 'user ada created through the sidecar' or BAIL_OUT(explain $user);
ok length($user->{temporary_password} // ''), 'with a temporary password';
my $temporary = $user->{temporary_password};
my $password = new_password();

my $wd = E2E::WebDriver->start(artefacts => $artefacts);
ok $wd, "headless Chromium (screenshots in $artefacts)" or BAIL_OUT('no browser');
my $shot = 0;
sub shot { my ($name) = @_; my $p = $wd->screenshot(sprintf '%02d-%s', ++$shot, $name); note "screenshot $p" }

my $access;
subtest 'first login: temporary password, then UPDATE_PASSWORD' => sub {
    $wd->get($console);
    ok $wd->wait_for('#tenant', 20), 'the console asks for a tenant';
    shot('console');
    $wd->type('#tenant', $slug);
    $wd->click('#login');
    ok $wd->wait_for('#username', 60), "Keycloak's login page of tenant-$slug" or return;
    like $wd->url, qr{^\Q${\ env('KEYCLOAK_URL')}\E/realms/tenant-\Q$slug\E/}, 'at the tenant realm';
    like $wd->url, qr/code_challenge_method=S256/, 'PKCE S256';
    like $wd->url, qr/[?&]state=[\w-]{20,}/, 'a state';
    like $wd->url, qr/[?&]nonce=[\w-]{20,}/, 'a nonce';
    shot('keycloak-login');
    $wd->type('#username', 'ada');
    $wd->type('#password', $temporary);
    $wd->click('#kc-login');
    ok $wd->wait_for('#password-new', 60), 'Keycloak asks for a new password (UPDATE_PASSWORD)' or do { shot('no-update-password'); return };
    shot('update-password');
    $wd->type('#password-new', $password);
    $wd->type('#password-confirm', $password);
    $wd->click('input[type=submit], button[type=submit]');
    ok $wd->wait_for('#identity-view #who-tenant', 60), 'back at the console, signed in'
        or do { shot('not-signed-in'); diag 'status: ' . ($wd->text('#status') // ''); return };
    ok wait_until(10, sub { ($wd->text('#who-tenant') // '') ne '' }), 'identity shown';
    shot('whoami');
    is $wd->text('#who-tenant'), $slug, 'tenant';
    is $wd->text('#who-actor'), $user->{user_id}, 'actor';
    is $wd->text('#who-username'), 'ada', 'user name';
    like $wd->text('#who-roles'), qr/(^|, )officer(,|$)/, 'roles include officer';
    is $wd->text('#who-purpose'), 'console: show the signed-in identity', 'purpose';
    unlike $wd->url, qr/code=/, 'the code is gone from the address bar';

    my $stored = $wd->execute('var o = {}; for (var s of [localStorage, sessionStorage]) for (var i = 0; i < s.length; i++) o[s.key(i)] = s.getItem(s.key(i)); return JSON.stringify(o);');
    unlike $stored, qr/eyJ/, 'no token in localStorage or sessionStorage';
    unlike $stored, qr/pending/, 'the login secrets were deleted on return';

    my ($whoami) = grep { $_->{url} eq gateway() . '/api/whoami' && ($_->{headers}{Authorization} // '') =~ /^Bearer / }
        $wd->requests;
    ok $whoami, 'the page called /api/whoami with a bearer token' or return;
    ($access) = $whoami->{headers}{Authorization} =~ /^Bearer (\S+)$/;
    my ($claims) = jwt_payload($access);
    is $claims->{azp}, 'admin-console', 'a token of admin-console';
    is $whoami->{headers}{'X-Purpose'}, 'console: show the signed-in identity', 'with X-Purpose';
};

subtest 'the new password is the one Keycloak keeps' => sub {
    my ($gst, $u) = kc_admin(GET => "/tenant-$slug/users/$user->{user_id}");
    is_deeply $u->{requiredActions}, [], 'no pending required action';
    my ($sessions) = [kc_admin(GET => "/tenant-$slug/users/$user->{user_id}/sessions")]->[1];
    is scalar(@{ $sessions // [] }), 1, 'one Keycloak session (the browser\'s)';
};

subtest 'logout ends the Keycloak session' => sub {
    plan skip_all => 'not signed in' unless $access;
    my ($pre) = http_json(GET => gateway() . '/api/whoami', token => $access, purpose => 'e2e before logout');
    is $pre, 200, 'the page\'s token passes before logout';
    $wd->click('#logout');
    ok $wd->wait_for('#login-view #tenant', 60), 'back at the console, logged out';
    ok wait_until(10, sub { ($wd->text('#status') // '') =~ /Logged out of tenant-\Q$slug\E/ }), 'it says so';
    shot('logged-out');
    my (undef, $sessions) = kc_admin(GET => "/tenant-$slug/users/$user->{user_id}/sessions");
    is_deeply $sessions, [], 'no Keycloak session left';
    ok wait_until(10, sub { (http_json(GET => gateway() . '/api/whoami', token => $access, purpose => 'e2e after logout'))[0] == 401 }),
        'the token the page held is refused (back-channel logout → revocation)';
    $wd->click('#login');
    ok $wd->wait_for('#username', 60), 'logging in again asks for the password (no single sign-on left)';
    shot('login-again');
    $wd->type('#username', 'ada');
    $wd->type('#password', $temporary);
    $wd->click('#kc-login');
    ok $wd->wait_for('#input-error, .kc-feedback-text, #kc-content .alert-error, .pf-m-danger, [id^=input-error]', 30),
        'the temporary password no longer works';
    shot('temporary-refused');
};

$wd->quit;
is delete_tenant($op, $slug), 204, "tenant $slug deleted";
done_testing;
