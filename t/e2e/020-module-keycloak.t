#!/usr/bin/perl
# The nginx module against the real local Keycloak (run `make up` and
# `make build` first): a private nginx (t/e2e/nginx-module-keycloak.conf.in)
# refuses a token of a freshly created tenant realm until the tenant is in
# the registry (without asking Keycloak for keys), then accepts it, passes
# the verified identity to the upstream, and refuses platform tokens and
# spoofing.
#   prove -It/e2e/lib t/e2e/020-module-keycloak.t
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use File::Path qw(make_path remove_tree);
use IO::Socket::INET;
use HTTP::Tiny;
use Test::More;
use E2E::Stack qw(root env secret http_json token jwt_payload random_slug require_keycloak admin_realm_rep);
use E2E::Redis qw(stack_redis);

my $module = $ENV{TEST_NGINX_REALM_AUTH_MODULE} // root() . '/build/modules/ngx_http_realm_auth_module.so';
plan skip_all => "module not built ($module): make build" unless -f $module;
my $nginx = $ENV{TEST_NGINX_BINARY} // (-x '/usr/sbin/nginx' ? '/usr/sbin/nginx' : 'nginx');

require_keycloak();
my $kc       = env('KEYCLOAK_URL');
my $platform = env('PLATFORM_REALM');

# --- private nginx --------------------------------------------------------------
sub free_port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 1, ReuseAddr => 1)
        or die "no free port: $!";
    my $p = $s->sockport;
    close $s;
    return $p;
}

my $port   = free_port();
my $prefix = env('STATE_DIR') . "/e2e/nginx-$port";
# The stack's prefix: the ACL lets nginx's user read only realm_auth:tenant:*.
my $redis_prefix = 'realm_auth:';
my $redis = stack_redis();
remove_tree($prefix);
make_path("$prefix/logs");
{
    open my $in, '<', "$FindBin::Bin/nginx-module-keycloak.conf.in" or die $!;
    local $/;
    my $conf = <$in>;
    my %v = (MODULE => $module, PREFIX => $prefix, PORT => $port, KEYCLOAK_URL => $kc,
             REDIS_PORT => env('REDIS_PORT'), REDIS_PREFIX => $redis_prefix,
             SECRETS_DIR => env('SECRETS_DIR'));
    $conf =~ s/\@([A-Z_]+)\@/$v{$1} \/\/ die "no value for \@$1\@\n"/ge;
    open my $out, '>', "$prefix/nginx.conf" or die $!;
    print $out $conf;
}
my $cmd = "$nginx -p $prefix/ -c $prefix/nginx.conf -e $prefix/logs/error.log";
my $t = `$cmd -t 2>&1`;
is $?, 0, 'nginx -t' or diag $t;
$t = `$cmd 2>&1`;
is $?, 0, 'nginx started' or BAIL_OUT("nginx did not start: $t");
my $nginx_pid;
for (1 .. 50) {
    last if -s "$prefix/logs/nginx.pid" && IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port");
    select undef, undef, undef, 0.1;
}
if (open my $fh, '<', "$prefix/logs/nginx.pid") { chomp($nginx_pid = <$fh> // '') }

my $base = "http://127.0.0.1:$port";

# --- a fresh tenant realm ---------------------------------------------------------
my $prov = token('master', env('PROVISIONER_CLIENT_ID'), secret => secret('provisioner.secret'));
ok $prov, 'provisioner token' or BAIL_OUT('no provisioner token');
my $slug     = random_slug('e2e-');
my $realm    = "tenant-$slug";
my $password = random_slug('pw-') . random_slug('-');
my ($st, $b) = http_json(POST => "$kc/admin/realms", token => $prov,
    json => admin_realm_rep(realm => $realm, client => 'e2e-cli', user => 'officer', password => $password));
is $st, 201, "created $realm" or diag explain $b;
my $created = $st == 201;

# --- requests -----------------------------------------------------------------
sub tenant_key { "${redis_prefix}tenant:$_[0]" }

subtest 'tenant not in the registry: refused, Keycloak never asked for keys' => sub {
    my $tok = token($realm, 'e2e-cli', user => 'officer', password => $password);
    ok $tok, 'tenant token' or return;
    my ($s, undef, $res) = http_json(GET => "$base/api/echo", token => $tok);
    is $s, 401, 'HTTP 401';
    like $res->{headers}{'www-authenticate'} // '', qr/error_description="tenant unknown"/, 'reason: tenant unknown';
    my (undef, $d) = http_json(GET => "$base/realm-auth/status");
    is $d->{jwks}{http_fetches}, 0, 'no JWKS fetched';
    is $d->{refused}{tenant_unknown}, 1, 'tenant_unknown counted';

    # A record nobody sealed (anyone with write access to Redis) changes nothing.
    $redis->cmd('SET', tenant_key($slug), 'active');
    select undef, undef, undef, 1.2;    # past the one-second back-off
    ($s, undef, $res) = http_json(GET => "$base/api/echo", token => $tok);
    is $s, 401, 'unsealed registry entry: still refused';
    (undef, $d) = http_json(GET => "$base/realm-auth/status");
    is $d->{jwks}{http_fetches}, 0, 'still no JWKS fetched';
    cmp_ok $d->{jwks}{redis_rejected}, '>=', 1, 'the entry counted as rejected';

    # What realm-sidecar does when it provisions a tenant, as its ACL user.
    ok eval { $redis->cmd_as('sidecar', 'SET', tenant_key($slug),
                             $redis->seal(tenant_key($slug), 'active')) }, 'tenant registered'
        or return;
    select undef, undef, undef, 1.2;    # past the one-second back-off
};

subtest 'tenant token: 200 with identity headers' => sub {
    my $tok = token($realm, 'e2e-cli', user => 'officer', password => $password);
    ok $tok, 'tenant token' or return;
    my ($claims) = jwt_payload($tok);
    my ($s, $d) = http_json(GET => "$base/api/echo", token => $tok);
    is $s, 200, 'GET /api/echo' or diag explain $d;
    is $d->{tenant_id}, $slug, 'X-Tenant-Id is the slug';
    is $d->{realm}, $realm, 'X-Realm-Name';
    is $d->{actor_id}, $claims->{sub}, 'X-Actor-Id is sub';
    is $d->{username}, 'officer', 'X-Actor-Username';
    like $d->{roles}, qr/(^|,)officer(,|$)/, 'X-Actor-Roles has officer';

    # A client-sent X-Tenant-Id never reaches the upstream.
    my $res = HTTP::Tiny->new->get("$base/api/echo",
        { headers => { Authorization => "Bearer $tok", 'X-Tenant-Id' => 'evil', 'X-Actor-Id' => 'mallory' } });
    like $res->{content}, qr/"tenant_id":"\Q$slug\E"/, 'spoofed X-Tenant-Id replaced';
    unlike $res->{content}, qr/mallory|evil/, 'spoofed values gone';
};

subtest 'platform token refused on tenant issuers' => sub {
    my $tok = token($platform, env('PLATFORM_CLI_CLIENT_ID'),
                    user => env('PLATFORM_OPERATOR_USER'), password => secret('operator.password'));
    ok $tok, 'platform token' or return;
    my ($s, undef, $res) = http_json(GET => "$base/api/echo", token => $tok);
    is $s, 401, 'HTTP 401';
    like $res->{headers}{'www-authenticate'} // '', qr/^Bearer\b.*error="invalid_token"/, 'WWW-Authenticate: Bearer error="invalid_token"';
};

subtest 'no token' => sub {
    my ($s, undef, $res) = http_json(GET => "$base/api/echo");
    is $s, 401, 'HTTP 401';
    like $res->{headers}{'www-authenticate'} // '', qr/^Bearer/, 'WWW-Authenticate: Bearer';
};

subtest 'status counters' => sub {
    my ($s, $d) = http_json(GET => "$base/realm-auth/status");
    is $s, 200, 'GET /realm-auth/status';
    cmp_ok $d->{verified} // 0, '>=', 1, 'verified counted';
    cmp_ok $d->{refused}{issuer_not_allowed} // 0, '>=', 1, 'issuer_not_allowed counted';
    cmp_ok $d->{jwks}{http_fetches} // 0, '>=', 1, 'JWKS fetched from Keycloak';
};

END {
    local $?;
    eval { $redis->cmd('DEL', tenant_key($slug)) } if $slug;
    if ($created && $prov) {
        my ($s) = http_json(DELETE => "$kc/admin/realms/$realm", token => $prov);
        diag "deleting $realm: HTTP $s" unless $s == 204;
    }
    if ($nginx_pid) {
        kill 'QUIT', $nginx_pid;
        for (1 .. 50) { last unless kill 0, $nginx_pid; select undef, undef, undef, 0.1 }
        remove_tree($prefix) unless $ENV{TEST_NGINX_NO_CLEAN} || !Test::More->builder->is_passing;
    }
}

done_testing;
