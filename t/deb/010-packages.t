# The Debian packages on this machine, as an operator uses them:
#   builds them (scripts/deb/build.sh; or takes REALM_AUTH_DEB_DIR's), installs
#   both with `apt-get install ./...deb`, checks that Debian's own `nginx -t`
#   loads the module from modules-enabled, that an nginx started here (its
#   own config including /etc/nginx/modules-enabled/*.conf, a free loopback
#   port) verifies a token from the test issuer, that the sidecar's
#   conffile parses and `systemd-analyze verify` accepts its unit, and that
#   `apt-get purge` leaves nothing behind.
#
# Needs root and apt (it installs packages): skipped with a message
# otherwise. While it runs, /usr/sbin/policy-rc.d denies every service start,
# so neither the package install nor the nginx-reload trigger starts or
# restarts Debian's nginx (its default site would take :80, and the other
# stacks on this machine run their own nginx instances). An existing
# policy-rc.d is put back afterwards.
use strict;
use warnings;
use Test::More;
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Temp qw(tempdir);
use HTTP::Tiny;
use IO::Socket::INET;
use POSIX ();

plan skip_all => 't/deb installs packages: run it as root (sudo make test-deb)' if $> != 0;
plan skip_all => 't/deb needs apt-get and dpkg (a Debian system)'
    unless -x '/usr/bin/apt-get' && -x '/usr/bin/dpkg';

use lib dirname(__FILE__) . '/../lib';
use RealmAuth::Issuer qw(start_issuer stop_issuer token);

my $ROOT = abs_path(dirname(__FILE__) . '/../..');
my @PKGS = qw(libnginx-mod-http-realm-auth realm-sidecar);
my $SO = '/usr/lib/nginx/modules/ngx_http_realm_auth_module.so';
my $AVAILABLE = '/usr/share/nginx/modules-available/mod-http-realm-auth.conf';
my $ENABLED = '/etc/nginx/modules-enabled/50-mod-http-realm-auth.conf';
my $UNIT = '/lib/systemd/system/realm-sidecar.service';
my $CONF = '/etc/realm-sidecar/realm-sidecar.conf';
my @APT = ('apt-get', '-o', 'DPkg::Lock::Timeout=600', '-y', '-q');

sub run_out {    # command's stdout+stderr and exit status
    my $cmd = join ' ', map { my $s = $_; $s =~ s/'/'\\''/g; "'$s'" } @_;
    my $out = `$cmd 2>&1`;
    return ($out, $? >> 8);
}

sub installed {
    my ($out) = run_out('dpkg-query', '-W', '-f=${Status}', $_[0]);
    return $out eq 'install ok installed';
}

sub listening_80 {
    my ($out) = run_out('ss', '-Hltn', 'sport = :80');
    return $out =~ /\S/ ? 1 : 0;
}

# ------------------------------------------------------ policy-rc.d ---
my $POLICY = '/usr/sbin/policy-rc.d';
my $POLICY_SAVED = -e $POLICY ? "$POLICY.realm-auth-test.$$" : undef;
rename $POLICY, $POLICY_SAVED or die "cannot move $POLICY aside: $!" if $POLICY_SAVED;
{
    open my $fh, '>', $POLICY or die "$POLICY: $!";
    print $fh "#!/bin/sh\n# t/deb/010-packages.t: no service starts while it installs packages\nexit 101\n";
    close $fh;
    chmod 0755, $POLICY;
}
my $OWNER = $$;
END {
    if (defined $OWNER && $$ == $OWNER) {
        unlink $POLICY;
        rename $POLICY_SAVED, $POLICY if $POLICY_SAVED;
    }
}

# ----------------------------------------------------------- build ---
my $dir = $ENV{REALM_AUTH_DEB_DIR};
if (!$dir) {
    $dir = "$ROOT/build/deb";
    my ($out, $rc) = run_out("$ROOT/scripts/deb/build.sh", $dir);
    is $rc, 0, 'make deb (scripts/deb/build.sh) builds the packages, lintian without errors'
        or diag $out;
}
my %deb;
for my $p (@PKGS) {
    my @f = glob("$dir/${p}_*.deb");
    is scalar(@f), 1, "one $p .deb in $dir" or BAIL_OUT("no $p package in $dir");
    $deb{$p} = $f[0];
}

# --------------------------------------------------------- install ---
my $port80_before = listening_80();
for my $p (@PKGS) {
    if (installed($p)) {
        my ($out, $rc) = run_out(@APT, 'purge', $p);
        is $rc, 0, "a previous $p is purged first" or diag $out;
    }
}
{
    my ($out, $rc) = run_out(@APT, 'install', map { $deb{$_} } @PKGS);
    is $rc, 0, 'apt-get install ./libnginx-mod-http-realm-auth_*.deb ./realm-sidecar_*.deb'
        or diag $out;
}
ok installed($_), "$_ is installed" for @PKGS;
is listening_80(), $port80_before, 'the install started nothing on :80 (policy-rc.d)';

# ---------------------------------------------------------- module ---
ok -f $SO, "$SO";
ok -f $AVAILABLE, $AVAILABLE;
is readlink($ENABLED), $AVAILABLE, "$ENABLED enables it (dh_nginx postinst)";
{
    my ($abi) = grep { /^nginx:abi=/ } do {
        open my $fh, '<', '/usr/share/nginx/src/debian/libnginx-mod.abisubstvars' or die $!;
        <$fh>;
    };
    chomp $abi;
    $abi =~ s/^nginx:abi=//;
    my ($deps) = run_out('dpkg-query', '-W', '-f=${Depends}', 'libnginx-mod-http-realm-auth');
    like $deps, qr/(^|, )\Q$abi\E(,|$)/, "the module depends on the nginx ABI it was built for ($abi)";
    my ($provides) = run_out('dpkg-query', '-W', '-f=${Provides}', 'nginx');
    like $provides, qr/(^|, )\Q$abi\E(,|$)/, "the installed nginx provides $abi";
}
{
    my ($out, $rc) = run_out('/usr/sbin/nginx', '-t');
    is $rc, 0, "Debian's nginx -t (/etc/nginx/nginx.conf) accepts the enabled module" or diag $out;
    my ($dump) = run_out('/usr/sbin/nginx', '-T');
    like $dump, qr{^load_module modules/ngx_http_realm_auth_module\.so;}m,
        'nginx -T: the configuration it tested loads the module from modules-enabled';
}

# An nginx of our own on a free loopback port: the module's directives only
# parse when load_module through modules-enabled worked. Debian's default
# prefix (no -p), so modules/... resolves to /usr/lib/nginx/modules as it does
# for the system's nginx; every path it writes is in the temporary directory.
my $issuer_port = start_issuer();
my $iss = $ENV{TEST_NGINX_ISSUER};
my $port = do {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 1)
        or die "no free port: $!";
    my $p = $s->sockport;
    close $s;
    $p;
};
my $prefix = tempdir('realm-deb-nginx-XXXXXX', TMPDIR => 1, CLEANUP => 1);
mkdir "$prefix/$_" for qw(logs tmp);
{
    open my $fh, '>', "$prefix/nginx.conf" or die $!;
    print $fh <<"CONF";
include /etc/nginx/modules-enabled/*.conf;
pid $prefix/nginx.pid;
error_log $prefix/logs/error.log info;
worker_processes 1;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $prefix/tmp/body;
    proxy_temp_path $prefix/tmp/proxy;
    fastcgi_temp_path $prefix/tmp/fastcgi;
    uwsgi_temp_path $prefix/tmp/uwsgi;
    scgi_temp_path $prefix/tmp/scgi;
    auth_realm_zone realm_auth_deb:4m;
    server {
        listen 127.0.0.1:$port;
        location /api/ {
            auth_realm on;
            auth_realm_issuer $iss/realms/tenant-*;
            auth_realm_identity_headers on;
            proxy_pass http://127.0.0.1:$issuer_port/echo/;
        }
    }
}
CONF
    close $fh;
}
{
    my ($out, $rc) = run_out('/usr/sbin/nginx', '-c', "$prefix/nginx.conf");
    is $rc, 0, "Debian's nginx starts on 127.0.0.1:$port with modules-enabled/*.conf" or diag $out;
}
my $nginx_pid;
for (1 .. 50) {
    last if -s "$prefix/nginx.pid";
    select undef, undef, undef, 0.1;
}
if (open my $fh, '<', "$prefix/nginx.pid") { ($nginx_pid) = <$fh> =~ /(\d+)/ }
END { kill 'QUIT', $nginx_pid if $nginx_pid && defined $OWNER && $$ == $OWNER }

my $http = HTTP::Tiny->new(timeout => 10);
my $url = "http://127.0.0.1:$port/api/whoami";
{
    my $r = $http->get($url);
    is $r->{status}, 401, 'no token: 401';
    like $r->{headers}{'www-authenticate'} // '', qr/^Bearer\b/, 'with an RFC 6750 Bearer challenge';
}
{
    my $r = $http->get($url, { headers => { Authorization => 'Bearer ' . token(realm => 'tenant-a') } });
    is $r->{status}, 200, 'a token of tenant-a, verified against the issuer\'s JWKS: 200'
        or diag explain $r;
    like $r->{content}, qr/^x-tenant-id: a$/m, 'the upstream got the verified tenant';
    like $r->{content}, qr/^x-realm-name: tenant-a$/m, 'and realm';
}
{
    my $r = $http->get($url, { headers => { Authorization => 'Bearer '
        . token(realm => 'tenant-a', iss => 'http://127.0.0.1:1/realms/tenant-a') } });
    is $r->{status}, 401, 'a token from an issuer not allowed: 401';
    like $r->{headers}{'www-authenticate'} // '', qr/error="invalid_token"/, 'invalid_token';
}
kill 'QUIT', $nginx_pid if $nginx_pid;
undef $nginx_pid;
stop_issuer();

# --------------------------------------------------------- sidecar ---
ok -x '/usr/sbin/realm-sidecar', '/usr/sbin/realm-sidecar';
{
    my ($out, $rc) = run_out('grep', '-c', 'REALM_SIDECAR_CRASH_AFTER', '/usr/sbin/realm-sidecar');
    is $out + 0, 0, 'the packaged binary has no fault injection switch';
}
{
    my ($conffiles) = run_out('dpkg-query', '-W', '-f=${Conffiles}', 'realm-sidecar');
    like $conffiles, qr/^\s*\Q$CONF\E /m, "$CONF is a conffile";
    my ($out, $rc) = run_out('/usr/sbin/realm-sidecar', '--config', $CONF, 'config');
    is $rc, 0, "realm-sidecar --config $CONF config: the shipped file parses" or diag $out;
    like $out, qr{/usr/share/realm-sidecar/migrations}, 'its migrations are the packaged ones';
}
{
    my @shipped = map { s{.*/}{}r } glob("/usr/share/realm-sidecar/migrations/*.sql");
    my @repo = map { s{.*/}{}r } glob("$ROOT/migrations/*.sql");
    is_deeply \@shipped, \@repo, 'every migration is shipped';
}
ok -f $UNIT, $UNIT;
is((stat '/etc/realm-sidecar/secrets')[2] & 07777, 0700, '/etc/realm-sidecar/secrets is root-only');
ok !-e '/etc/systemd/system/multi-user.target.wants/realm-sidecar.service',
    'installed disabled (it needs its configuration and secrets first)';
{
    open my $fh, '<', $UNIT or die $!;
    my $unit = do { local $/; <$fh> };
    for my $d ('DynamicUser=yes', 'NoNewPrivileges=yes', 'ProtectSystem=strict',
               'ProtectHome=yes', 'PrivateTmp=yes', 'CapabilityBoundingSet=',
               'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX',
               'StateDirectory=realm-sidecar', 'ReadWritePaths=/var/lib/realm-sidecar') {
        like $unit, qr/^\Q$d\E$/m, "unit: $d";
    }
}
SKIP: {
    my $sa = -x '/usr/bin/systemd-analyze' ? '/usr/bin/systemd-analyze' : undef;
    skip 'systemd-analyze not installed (package systemd)', 1 unless $sa;
    my ($out, $rc) = run_out($sa, 'verify', $UNIT);
    is $rc, 0, 'systemd-analyze verify accepts the unit' or diag $out;
    diag $out if $out =~ /\S/;
}
SKIP: {
    skip 'systemd-analyze not installed (package systemd)', 1 unless -x '/usr/bin/systemd-analyze';
    # Exposure on systemd's 0-10 scale (1.4 when written); fails above 2.0,
    # so a unit that loses its hardening does not pass unnoticed.
    my ($out, $rc) = run_out('/usr/bin/systemd-analyze', 'security', '--offline=yes',
                             '--threshold=20', $UNIT);
    my ($level) = $out =~ /Overall exposure level for \S+: ([\d.]+)/;
    is $rc, 0, 'systemd-analyze security: exposure ' . ($level // '?') . ' (at most 2.0)'
        or diag $out;
}

# ----------------------------------------------------------- purge ---
{
    my ($out, $rc) = run_out(@APT, 'purge', @PKGS);
    is $rc, 0, 'apt-get purge libnginx-mod-http-realm-auth realm-sidecar' or diag $out;
}
ok !installed($_), "$_ is gone" for @PKGS;
for my $p ($SO, $AVAILABLE, $ENABLED, "$ENABLED.removed", '/etc/realm-sidecar',
           '/usr/share/realm-sidecar', '/usr/sbin/realm-sidecar', $UNIT,
           '/var/lib/realm-sidecar', '/var/lib/private/realm-sidecar') {
    ok !-e $p && !-l $p, "purge removed $p";
}
{
    my @left = grep { /realm/ } glob('/usr/lib/nginx/modules/* /etc/nginx/modules-enabled/*');
    is_deeply \@left, [], 'nothing of realm-auth under /usr/lib/nginx/modules or modules-enabled';
    my ($out, $rc) = run_out('/usr/sbin/nginx', '-t');
    is $rc, 0, "Debian's nginx -t still passes without the module" or diag $out;
}
is listening_80(), $port80_before, 'still nothing started on :80';

done_testing();
