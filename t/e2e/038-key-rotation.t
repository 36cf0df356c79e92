#!/usr/bin/perl
# Signing-key rotation of a tenant realm, end to end (run `make up` and
# `make build` first): realm-sidecar's governed key calls against the real
# Keycloak, and the nginx module verifying the realm's tokens through all of
# it, with a private nginx (t/e2e/nginx-module-keycloak.conf.in plus short
# JWKS timings: ttl 3s, stale 1s, unknown-kid refetch 1s).
#
#   - GET /tenants/{id}/keys lists the realm's RS256 key; retiring it while
#     it is the only active one is refused (409) and changes nothing;
#   - bad grace periods are 400s naming grace_seconds (no ledger row);
#   - POST …/keys:rotate answers a new kid with a higher priority; a token
#     signed with it (its header names that kid) passes nginx at once, no
#     reload, and the old token still passes;
#   - POST …/keys/{old}:retire {"grace_seconds": G}, sent to a second
#     sidecar that is stopped right after it answers and started again:
#     the key is passive (still in the JWKS, no longer signing), the old
#     token still passes during the grace period; after it the key leaves
#     the JWKS (removed by whichever of the two sidecars got there first,
#     exactly once) and the old token is refused by nginx, verified-token
#     cache included, within the module's bound (ttl + stale: the sidecar
#     drops the realm's JWKS copy from Redis when it removes a key, so only
#     the worker's own copy counts); the new token keeps passing;
#   - the ledger: KEY_ROTATED, KEY_RETIRED, one KEY_REMOVED.
#   prove -It/e2e/lib t/e2e/038-key-rotation.t
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use File::Path qw(make_path remove_tree);
use IO::Socket::INET;
use JSON::PP;
use Test::More;
use Time::HiRes qw(time sleep);
use E2E::Stack qw(root env http_json token jwt_payload random_slug require_keycloak);
use E2E::Util qw(ledger_rows free_port wait_http spawn stop);
use E2E::Sidecar qw(api operator_token create_tenant activate_user new_password require_sidecar);

my $module = $ENV{TEST_NGINX_REALM_AUTH_MODULE} // root() . '/build/modules/ngx_http_realm_auth_module.so';
plan skip_all => "module not built ($module): make build" unless -f $module;
my $nginx = $ENV{TEST_NGINX_BINARY} // (-x '/usr/sbin/nginx' ? '/usr/sbin/nginx' : 'nginx');
my $bin = $ENV{REALM_SIDECAR_BIN} // root() . '/build/bin/realm-sidecar';

require_keycloak();
require_sidecar();
my $kc = env('KEYCLOAK_URL');

# Module timings of this test's nginx, in seconds.
my ($TTL, $STALE, $REFETCH) = (3, 1, 1);
# The grace period of the retirement.
my $GRACE = 8;

# --- a tenant with one user, through the sidecar --------------------------------
my $op = operator_token() or BAIL_OUT('no operator token');
my $slug  = random_slug('key');
my $realm = "tenant-$slug";
my $tag   = random_slug('k');    # in every X-Purpose of this run
my ($st, $b) = create_tenant($op, $slug);
is $st, 201, "tenant $slug created" or BAIL_OUT('cannot create the tenant: ' . join '', explain $b);
($st, $b) = api(POST => "/tenants/$slug/users", token => $op, purpose => "e2e 038 $tag setup",
    json => { username => 'officer', email => "officer\@$slug.example", first_name => 'Key',
              last_name => 'Rotation', roles => ['officer'] });
is $st, 201, 'user officer created' or BAIL_OUT('cannot create the user: ' . join '', explain $b);
my $password = new_password();
ok activate_user($realm, $b->{user_id}, $password), 'user activated' or BAIL_OUT('cannot activate');
sub login { token($realm, 'admin-console', user => 'officer', password => $password) }
sub kid_of { my (undef, $h) = jwt_payload($_[0]); return $h->{kid} }

# --- private nginx, short JWKS timings -------------------------------------------
my $port   = free_port();
my $prefix = env('STATE_DIR') . "/e2e/nginx-038-$port";
remove_tree($prefix);
make_path("$prefix/logs");
{
    open my $in, '<', "$FindBin::Bin/nginx-module-keycloak.conf.in" or die $!;
    local $/;
    my $conf = <$in>;
    my %v = (MODULE => $module, PREFIX => $prefix, PORT => $port, KEYCLOAK_URL => $kc,
             REDIS_PORT => env('REDIS_PORT'), REDIS_PREFIX => 'realm_auth:', SECRETS_DIR => env('SECRETS_DIR'));
    $conf =~ s/\@([A-Z_]+)\@/$v{$1} \/\/ die "no value for \@$1\@\n"/ge;
    $conf =~ s/(auth_realm_tenant_registry on;)/$1\n    auth_realm_jwks_ttl ${TTL}s;\n    auth_realm_jwks_stale ${STALE}s;\n    auth_realm_jwks_refetch_interval ${REFETCH}s;/
        or die "nginx-module-keycloak.conf.in: no auth_realm_tenant_registry line to add the timings after\n";
    open my $out, '>', "$prefix/nginx.conf" or die $!;
    print $out $conf;
}
my $cmd = "$nginx -p $prefix/ -c $prefix/nginx.conf -e $prefix/logs/error.log";
my $t = `$cmd 2>&1`;
is $?, 0, 'nginx started' or BAIL_OUT("nginx did not start: $t");
my $nginx_pid;
for (1 .. 50) {
    last if -s "$prefix/logs/nginx.pid" && IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port");
    sleep 0.1;
}
if (open my $fh, '<', "$prefix/logs/nginx.pid") { chomp($nginx_pid = <$fh> // '') }
my $base = "http://127.0.0.1:$port";

# (status, WWW-Authenticate) of GET /api/echo with TOKEN through that nginx.
sub through_nginx {
    my ($tok) = @_;
    my ($s, undef, $res) = http_json(GET => "$base/api/echo", token => $tok);
    return ($s, $res->{headers}{'www-authenticate'} // '');
}
sub jwks_kids {
    my ($s, $d) = http_json(GET => "$kc/realms/$realm/protocol/openid-connect/certs");
    return $s == 200 && ref $d ? map { $_->{kid} } grep { ($_->{use} // 'sig') eq 'sig' } @{ $d->{keys} } : ();
}
sub keys_list {
    my ($s, $d) = api(GET => "/tenants/$slug/keys", token => $op, purpose => "e2e 038 $tag list");
    return ($s, $d, { map { $_->{kid} => $_ } @{ ref $d ? $d->{keys} // [] : [] } });
}
sub purpose_rows {
    my ($p) = @_;
    die "unsafe purpose" unless $p =~ /\A[A-Za-z0-9 ._:-]+\z/;
    return ledger_rows("purpose = '$p'");
}
sub types { join ' ', map { $_->{event_type} } @_ }

# --- before any rotation ------------------------------------------------------------
my $old_token = login() or BAIL_OUT('no tenant token');
my $old_kid = kid_of($old_token);
ok $old_kid, "the first token names kid $old_kid";

subtest 'GET /tenants/{id}/keys: the realm key, active' => sub {
    my ($s, $d, $by) = keys_list();
    is $s, 200, 'HTTP 200' or return diag explain $d;
    my $k = $by->{$old_kid};
    ok $k, 'the token\'s kid is listed' or return diag explain $d;
    is $k->{alg}, 'RS256', 'alg RS256';
    is $k->{status}, 'ACTIVE', 'status ACTIVE';
    ok defined $k->{priority}, 'priority given';
    ok !defined $k->{removal_at}, 'no removal scheduled';
};

subtest 'the token passes nginx (and then from the verified-token cache)' => sub {
    my ($s) = through_nginx($old_token);
    is $s, 200, 'verified';
    ($s) = through_nginx($old_token);
    is $s, 200, 'cached';
};

subtest 'retiring the only active signing key: 409, nothing changed' => sub {
    my $p = "e2e 038 $tag retire only key";
    my ($s, $d) = api(POST => "/tenants/$slug/keys/$old_kid:retire", token => $op, purpose => $p,
                      json => { grace_seconds => 60 });
    is $s, 409, 'HTTP 409' or diag explain $d;
    like $d->{detail} // '', qr/only active RS256 signing key/, 'detail says why';
    is types(purpose_rows($p)), 'REQUEST AUTHZ_DECISION PROVISIONING_FAILED', 'ledger: refused after the decision';
    my (undef, undef, $by) = keys_list();
    is $by->{$old_kid}{status}, 'ACTIVE', 'the key is still active';
};

subtest 'bad grace periods: 400 naming grace_seconds, before governance' => sub {
    for my $c ([ 'missing', {} ], [ 'negative', { grace_seconds => -1 } ], [ 'too long', { grace_seconds => 99999999 } ],
               [ 'a string', { grace_seconds => '60' } ], [ 'a fraction', { grace_seconds => 1.5 } ]) {
        my ($label, $json) = @$c;
        my $p = "e2e 038 $tag bad grace " . random_slug('g');
        my ($s, $d) = api(POST => "/tenants/$slug/keys/$old_kid:retire", token => $op, purpose => $p, json => $json);
        is $s, 400, "$label: HTTP 400";
        is $d->{field}, 'grace_seconds', "$label: field grace_seconds";
        is scalar(purpose_rows($p)), 0, "$label: no ledger row";
    }
    my ($s, $d) = api(POST => "/tenants/$slug/keys/$old_kid:retire", token => $op, purpose => "e2e 038 $tag typo",
                      json => { grace_seconds => 60, grace => 1 });
    is $s, 400, 'unknown member: HTTP 400';
    is $d->{field}, 'grace', 'unknown member named';
};

# --- rotate ------------------------------------------------------------------------------
my $new_kid;
my $p_rotate = "e2e 038 $tag rotate";
subtest 'POST /tenants/{id}/keys:rotate: a new key signs at once' => sub {
    my ($s, $d) = api(POST => "/tenants/$slug/keys:rotate", token => $op, purpose => $p_rotate);
    is $s, 200, 'HTTP 200' or return diag explain $d;
    $new_kid = $d->{kid};
    ok $new_kid && $new_kid ne $old_kid, "new kid $new_kid" or return;
    is $d->{alg}, 'RS256', 'alg RS256';
    my (undef, undef, $by) = keys_list();
    cmp_ok $by->{$new_kid}{priority}, '>', $by->{$old_kid}{priority}, 'priority above the old key';
    is $by->{$new_kid}{status}, 'ACTIVE', 'new key active';
    is $by->{$old_kid}{status}, 'ACTIVE', 'old key still active (not retired yet)';
    my %jwks = map { $_ => 1 } jwks_kids();
    ok $jwks{$new_kid} && $jwks{$old_kid}, 'the JWKS lists both';
    my @rows = purpose_rows($p_rotate);
    is types(@rows), 'REQUEST AUTHZ_DECISION KEY_ROTATED', 'ledger: KEY_ROTATED';
    is $rows[2]{details}{kid}, $new_kid, 'KEY_ROTATED names the new kid';
};
BAIL_OUT('no rotation, nothing more to test') unless $new_kid;

my $new_token = login();
subtest 'a token signed with the new key passes nginx at once (no reload)' => sub {
    is kid_of($new_token), $new_kid, 'Keycloak signs with the new key';
    my ($s, $w) = through_nginx($new_token);
    is $s, 200, 'new token verified' or diag $w;
    ($s) = through_nginx($old_token);
    is $s, 200, 'old token still passes';
};

# --- retire, through a second sidecar that restarts before the removal -------------------
my $work = env('STATE_DIR') . '/e2e';
make_path($work);
my $sc_port = free_port();
my @sc = ("$work/038-sidecar.log", cmd => [root() . '/scripts/stack/sidecar.sh', 'run', 'serve'],
          REALM_SIDECAR_BIN => $bin, SIDECAR_PORT => $sc_port, KEY_REMOVAL_INTERVAL => 1);
my $sc_pid = spawn(@sc);
END { stop($sc_pid) if $sc_pid }
my $sc2 = "http://127.0.0.1:$sc_port";
ok wait_http("$sc2/healthz", 30), "second sidecar on :$sc_port" or BAIL_OUT('second sidecar did not start');

my $p_retire = "e2e 038 $tag retire";
my $retired_at;
subtest 'retire the old key: passive, still verifying, removal scheduled' => sub {
    my ($s, $d) = http_json(POST => "$sc2/tenants/$slug/keys/$old_kid:retire", token => operator_token(),
                            purpose => $p_retire, json => { grace_seconds => $GRACE });
    $retired_at = time;
    is $s, 200, 'HTTP 200 (second sidecar)' or return diag explain $d;
    is $d->{kid}, $old_kid, 'kid';
    is $d->{status}, 'PASSIVE', 'status PASSIVE';
    ok $d->{removal_at}, "removal at $d->{removal_at}";
    stop($sc_pid);
    $sc_pid = spawn(@sc);
    ok wait_http("$sc2/healthz", 30), 'second sidecar restarted';

    my (undef, undef, $by) = keys_list();
    is $by->{$old_kid}{status}, 'PASSIVE', 'listed PASSIVE';
    ok $by->{$old_kid}{removal_at}, 'listed with its removal time';
    my %jwks = map { $_ => 1 } jwks_kids();
    ok $jwks{$old_kid}, 'Keycloak keeps a passive key in the JWKS';
    is kid_of(login()), $new_kid, 'and no longer signs with it';
    my ($ns) = through_nginx($old_token);
    is $ns, 200, 'old token still passes during the grace period';
    my @rows = purpose_rows($p_retire);
    is types(@rows), 'REQUEST AUTHZ_DECISION KEY_RETIRED', 'ledger: KEY_RETIRED';
    is $rows[2]{details}{grace_seconds}, $GRACE, 'KEY_RETIRED: grace_seconds';

    ($s, $d) = api(POST => "/tenants/$slug/keys/$new_kid:retire", token => $op, purpose => "e2e 038 $tag retire new",
                   json => { grace_seconds => 60 });
    is $s, 409, 'retiring the new key, now the only active one: 409';
    ($s, $d) = api(POST => "/tenants/$slug/keys/$old_kid:retire", token => $op, purpose => "e2e 038 $tag retire again",
                   json => { grace_seconds => 60 });
    is $s, 409, 'retiring it again: 409' or diag explain $d;
};

subtest 'after the grace period: the key leaves the JWKS, nginx refuses its tokens' => sub {
    my ($gone, @during);
    while (time - $retired_at < $GRACE + 20) {
        if (!grep { $_ eq $old_kid } jwks_kids()) { $gone = time; last }
        # During the grace period the old token keeps passing.
        if (time - $retired_at < $GRACE - 1) {
            my ($s) = through_nginx($old_token);
            push @during, sprintf('%d at +%.1f s', $s, time - $retired_at);
        }
        sleep 0.25;
    }
    ok scalar(@during) > 10, scalar(@during) . ' requests with the old token during the grace period';
    is_deeply [grep { !/^200 / } @during], [], 'all of them passed';
    my (undef, $st0) = http_json(GET => "$base/realm-auth/status");
    cmp_ok $st0->{token_cache}{hits} // 0, '>', 10, 'most of them verified-token cache hits';
    ok $gone, sprintf('removed from the JWKS %.1f s after the retirement (grace %d s)', ($gone // time) - $retired_at, $GRACE)
        or return;
    cmp_ok $gone - $retired_at, '>=', $GRACE, 'not before the grace period ended';
    my ($refused, $w);
    my $bound = $TTL + $STALE + 1;
    while (time - $gone < $bound + 5) {
        my ($s, $h) = through_nginx($old_token);
        if ($s == 401) { ($refused, $w) = (time, $h); last }
        sleep 0.1;
    }
    ok $refused, sprintf('old token refused %.1f s after the key left the JWKS', ($refused // time) - $gone) or return;
    cmp_ok $refused - $gone, '<=', $bound, "within ttl + stale (+1 s) = $bound s";
    like $w, qr/error="invalid_token"/, 'WWW-Authenticate: invalid_token';
    my (undef, $st1) = http_json(GET => "$base/realm-auth/status");
    cmp_ok $st1->{refused}{key_not_found} // 0, '>=', 1, 'counted as key_not_found';
    my ($s) = through_nginx($new_token);
    is $s, 200, 'new token still passes';
    my (undef, undef, $by) = keys_list();
    ok !$by->{$old_kid}, 'no longer listed';
};

subtest 'ledger: one KEY_REMOVED, whichever sidecar removed it' => sub {
    my @rows;
    for (1 .. 20) { @rows = purpose_rows($p_retire); last if @rows >= 4; sleep 0.5 }
    is types(@rows), 'REQUEST AUTHZ_DECISION KEY_RETIRED KEY_REMOVED', 'REQUEST AUTHZ_DECISION KEY_RETIRED KEY_REMOVED';
    my ($removed) = grep { $_->{event_type} eq 'KEY_REMOVED' } @rows;
    is $removed->{details}{kid}, $old_kid, 'KEY_REMOVED names the kid';
    is $removed->{tenant_id}, $slug, 'and the tenant';
    sleep 3;    # both removers have had passes since
    is scalar(grep { $_->{event_type} eq 'KEY_REMOVED' } purpose_rows($p_retire)), 1, 'exactly one KEY_REMOVED';
};

END {
    local $?;
    stop($sc_pid) if $sc_pid;
    if ($op && $slug) { api(DELETE => "/tenants/$slug", token => operator_token(), purpose => 'e2e 038 cleanup') }
    if ($nginx_pid) {
        kill 'QUIT', $nginx_pid;
        for (1 .. 50) { last unless kill 0, $nginx_pid; sleep 0.1 }
        remove_tree($prefix) unless $ENV{TEST_NGINX_NO_CLEAN} || !Test::More->builder->is_passing;
    }
}

done_testing;
