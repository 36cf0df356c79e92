#!/usr/bin/perl
# A person at a terminal logs in with the device grant (RFC 8628; issue 11,
# item 5): `make token DEVICE=1` (scripts/stack/device-login.py) prints a
# URL and a code and polls; the person confirms in a browser (headless
# Chromium here, E2E::WebDriver): Keycloak's login page, then its grant
# page; the terminal then prints a platform-cli token for that person. No
# password passes through the terminal's process. Refusing in the browser
# ends the terminal's wait with a clear reason.
# Screenshots: .state/artefacts/092-device-login/*.png (git-ignored).
#   prove -It/e2e/lib t/e2e/092-device-login.t
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use File::Temp qw(tempdir);
use POSIX ();
use Test::More;
use Time::HiRes qw(time sleep);
use E2E::Stack qw(root env secret jwt_payload require_keycloak);
use E2E::WebDriver;

require_keycloak();
E2E::WebDriver::binaries()
    or BAIL_OUT('chromium and chromium-driver are not installed (scripts/deps/apt-packages.txt: run make deps)');

my $dir = tempdir(CLEANUP => 1);
my $artefacts = root() . '/.state/artefacts/092-device-login';

# `make token DEVICE=1` as a child: its stdout (the token) and stderr (what
# the person reads) in files.
sub start_device_login {
    my ($name) = @_;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        open STDOUT, '>', "$dir/$name.out" or POSIX::_exit(2);
        open STDERR, '>', "$dir/$name.err" or POSIX::_exit(2);
        local $ENV{DEVICE} = 1;
        local $ENV{REALM} = env('PLATFORM_REALM');
        exec root() . '/scripts/stack/token.sh' or POSIX::_exit(2);
    }
    return $pid;
}
sub slurp { my ($f) = @_; open my $fh, '<', $f or return ''; local $/; <$fh> // '' }
sub wait_until { my ($secs, $cond) = @_; my $end = time + $secs; while (time < $end) { my $v = $cond->(); return $v if $v; sleep 0.2 } return $cond->() }
# The URL the terminal shows, or undef once it failed (or after 120 s).
sub device_url {
    my ($name) = @_;
    my $url;
    wait_until(120, sub { my $e = slurp("$dir/$name.err"); ($url) = $e =~ m{To log in, open (\S+)}; $url || $e =~ /device-login: / });
    return $url;
}
sub wait_exit {
    my ($pid, $secs) = @_;
    my $end = time + $secs;
    while (time < $end) { return $? >> 8 if waitpid($pid, POSIX::WNOHANG()) == $pid; sleep 0.2 }
    kill 'TERM', $pid;
    waitpid $pid, 0;
    return -1;
}

my $wd = E2E::WebDriver->start(artefacts => $artefacts);
ok $wd, "headless Chromium (screenshots in $artefacts)" or BAIL_OUT('no browser');
my $shot = 0;
sub shot { my ($name) = @_; note 'screenshot ' . $wd->screenshot(sprintf '%02d-%s', ++$shot, $name) }

subtest 'the person confirms in a browser: the terminal gets their token' => sub {
    my $pid = start_device_login('yes');
    my $url = device_url('yes');
    ok $url, 'the terminal shows where to confirm' or return diag slurp("$dir/yes.err");
    like $url, qr{^\Q${\ env('KEYCLOAK_URL')}\E/realms/platform/device\?user_code=[A-Z0-9-]+$}, "Keycloak's device page with the code";
    like slurp("$dir/yes.err"), qr/enter the code [A-Z0-9-]+/, 'and the code for another device';
    $wd->get($url);
    ok $wd->wait_for('#username', 60), "Keycloak's login page" or do { shot('no-login'); return };
    shot('device-login');
    $wd->type('#username', env('PLATFORM_OPERATOR_USER'));
    $wd->type('#password', secret('operator.password'));
    $wd->click('#kc-login');
    # The grant page (client scopes) when Keycloak shows one; then done.
    if ($wd->wait_for('#kc-login', 30)) { shot('grant'); $wd->click('#kc-login') }
    is wait_exit($pid, 120), 0, 'the terminal finished with success' or diag slurp("$dir/yes.err");
    shot('device-done');
    chomp(my $tok = slurp("$dir/yes.out"));
    my ($c) = $tok ? jwt_payload($tok) : ({});
    is $c->{azp}, env('PLATFORM_CLI_CLIENT_ID'), 'a platform-cli token';
    is $c->{preferred_username}, env('PLATFORM_OPERATOR_USER'), 'of the person who confirmed';
    is $c->{iss}, env('KEYCLOAK_URL') . '/realms/' . env('PLATFORM_REALM'), 'iss';
    unlike slurp("$dir/yes.err"), qr/\Q${\ secret('operator.password')}\E/, 'no password on the terminal';
};

subtest 'the person refuses: the terminal stops with a clear reason' => sub {
    my $pid = start_device_login('no');
    my $url = device_url('no');
    ok $url, 'the terminal shows where to confirm' or return;
    $wd->get($url);
    # Still signed in from the first subtest: straight to the grant page.
    ok $wd->wait_for('#kc-cancel', 60), 'the grant page offers No' or do { shot('no-grant-page'); return };
    shot('refuse');
    $wd->click('#kc-cancel');
    is wait_exit($pid, 120), 1, 'the terminal fails';
    like slurp("$dir/no.err"), qr/device-login: platform \(client platform-cli\): the login was refused in the browser/,
        'saying the login was refused';
    is slurp("$dir/no.out"), '', 'no token';
};

$wd->quit;
done_testing;
