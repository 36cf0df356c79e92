#!/usr/bin/perl
# Keycloak clustered (issue 10 item 4): two production-mode nodes
# (scripts/stack/keycloak.sh, `start --optimized`) on loopback with their
# own ports, one database in the stack's PostgreSQL (keycloak_074) through
# which they find each other (JGroups JDBC_PING, Keycloak 26's default
# stack), behind a private nginx whose upstream holds both: that nginx's URL
# is the nodes' --hostname, so both issue iss=http://127.0.0.1:<nginx>/realms/…
# A private sidecar (own database realm_auth_074, own ledger) provisions
# through that URL, and the same nginx verifies the tenants' tokens with
# the module on /api/.
#
# While tenants and users are created, users log in and /api/ is called,
# one node is SIGKILLed. Asserted: /api/ never refuses a valid token; logins
# and provisioning calls that hit the dying node fail with a clear 503
# (nginx: OAuth `temporarily_unavailable`; sidecar: problem+json naming
# Keycloak) and succeed when retried; nothing is half-created (every
# tenant and user complete in PostgreSQL and Keycloak, `reconcile --check`
# clean); the ledger has one PROVISIONING_FAILED row per failed call and
# one *_CREATED per success, and verifies. A session and a token issued by
# the killed node keep working through the survivor (sessions and keys are
# in the database).
#
# Both databases are kept after a clean run (a second run skips Keycloak's
# schema creation and import: about a minute less); a run that did not
# finish cleanly makes the next one start from empty databases.
#   prove -It/e2e/lib -It/lib t/e2e/074-keycloak-cluster.t
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib", "$FindBin::Bin/../lib";
use File::Path qw(make_path);
use HTTP::Tiny;
use JSON::PP;
use POSIX ();
use Test::More;
use Time::HiRes qw(time sleep);

# The nodes' public URL is this private nginx: every helper that talks to
# "Keycloak" (tokens, provisioner, scripts started from here) must use it,
# so it is set before the first E2E::Stack::env() call reads the settings.
use RealmAuth::Nginx;
my $ngx_port;
BEGIN { $ngx_port = RealmAuth::Nginx::free_port(); $ENV{KEYCLOAK_URL} = "http://127.0.0.1:$ngx_port" }
use E2E::Stack qw(env root secret token http_json random_slug);
use E2E::Sidecar qw(first_login new_password);
use E2E::Util qw(free_port stop psql_path);
use E2E::Outage qw(private_sidecar pid_of);

BAIL_OUT('psql not installed') unless psql_path();
RealmAuth::Nginx::require_module();
my $JSON = JSON::PP->new->utf8->canonical;
my $root = root();
my $kc_url = $ENV{KEYCLOAK_URL};
my $work = env('STATE_DIR') . '/e2e/074';
make_path($work);
my $t_suite = time;
my ($sidecar, $ngx, @slugs, $op);

# --- databases ----------------------------------------------------------------
my ($KC_DB, $SC_DB) = qw(keycloak_074 realm_auth_074);
my $fresh = !-e "$work/clean";
unlink "$work/clean";
sub sh { my ($cmd) = @_; system("$cmd >>$work/074-scripts.log 2>&1") == 0 }
if ($fresh) {
    # The head published for the dropped ledger would (rightly) fail `audit verify`.
    unlink "$work/ledger-head";
    ok sh("$root/scripts/stack/postgres.sh drop-db $KC_DB") && sh("$root/scripts/stack/postgres.sh drop-db $SC_DB"),
        'previous run unfinished (or first run): databases start empty';
}
ok sh("$root/scripts/stack/postgres.sh ensure-db $SC_DB " . env('POSTGRES_USER') . ' postgres.password')
    && sh("POSTGRES_DB=$SC_DB $root/scripts/stack/sidecar.sh migrate"),
    "sidecar database $SC_DB migrated" or BAIL_OUT("see $work/074-scripts.log");

# --- nginx: upstream of both nodes + the module --------------------------------
my @free;
sub port { my $p; do { $p = free_port() } while grep { $_ == $p } @free, $ngx_port; push @free, $p; $p }
my %node = map { $_ => { http => port(), mgmt => port(), dir => "$work/kc-$_" } } qw(a b);
# JGroups' ports: below the ephemeral range, and 50000 above them (its
# failure detector) still a valid port; next to the stack's own (its
# KEYCLOAK_MGMT_PORT + 1).
$node{a}{cluster} = env('KEYCLOAK_MGMT_PORT') + 2;
$node{b}{cluster} = env('KEYCLOAK_MGMT_PORT') + 3;

my $secrets = env('SECRETS_DIR');
$ngx = RealmAuth::Nginx->start(
    port    => $ngx_port,
    workers => 2,
    master  => 1,
    main    => 'thread_pool realm_auth threads=2;',
    http    => "auth_realm_zone realm_auth_074:8m;\n"
             . "auth_realm_thread_pool realm_auth;\n"
             . 'auth_realm_redis 127.0.0.1:' . env('REDIS_PORT') . ' prefix=realm_auth: timeout=200ms user=nginx '
             . "password_file=$secrets/redis-nginx.password hmac_key_file=$secrets/redis-hmac.key;\n"
             # A node that refuses or drops a connection is out for 10 s;
             # a request not yet sent (connect refused) goes to the other.
             . "upstream keycloak_cluster {\n"
             . "    server 127.0.0.1:$node{a}{http} max_fails=1 fail_timeout=10s;\n"
             . "    server 127.0.0.1:$node{b}{http} max_fails=1 fail_timeout=10s;\n"
             . "    keepalive 8;\n"
             . "}\n",
    server  => "location / {\n"
             . "    proxy_pass http://keycloak_cluster;\n"
             . "    proxy_http_version 1.1;\n"
             . "    proxy_set_header Connection '';\n"
             . "    proxy_set_header Host \$host:\$server_port;\n"
             . "    proxy_set_header X-Forwarded-For \$remote_addr;\n"
             . "    proxy_set_header X-Forwarded-Proto \$scheme;\n"
             . "    proxy_connect_timeout 2s;\n"
             . "    proxy_read_timeout 60s;\n"
             . "    proxy_next_upstream error timeout http_502 http_503;\n"
             . "    proxy_next_upstream_tries 2;\n"
             . "    proxy_intercept_errors off;\n"
             . "    error_page 502 504 = \@kc_down;\n"
             . "}\n"
             # What a client sees when its request was on the node that
             # died: a clear, retryable 503 (RFC 6749 temporarily_unavailable).
             . "location \@kc_down {\n"
             . "    default_type application/json;\n"
             . "    return 503 '{\"error\":\"temporarily_unavailable\",\"error_description\":\"Keycloak node lost during the request; retry\"}';\n"
             . "}\n"
             . "location /api/ {\n"
             . "    auth_realm on;\n"
             . "    auth_realm_issuer $kc_url/realms/tenant-*;\n"
             . "    add_header X-Auth-Error \$realm_auth_error always;\n"
             . "    try_files /.realm-auth-verified \@verified;\n"
             . "}\n"
             . "location \@verified { return 200 'ok \$realm_tenant_id\\n'; }\n",
);
ok $ngx, "nginx on :$ngx_port, upstream :$node{a}{http} :$node{b}{http}";

# --- two Keycloak nodes ------------------------------------------------------------
sub kc_env {
    my ($n) = @_;
    my $o = $node{$n};
    return "KEYCLOAK_STATE_DIR=$o->{dir} KEYCLOAK_PORT=$o->{http} KEYCLOAK_MGMT_PORT=$o->{mgmt} "
         . "KEYCLOAK_CLUSTER_PORT=$o->{cluster} KEYCLOAK_URL=$kc_url KEYCLOAK_DB_NAME=$KC_DB "
         . "KEYCLOAK_START_TIMEOUT=900 KEYCLOAK_MODE=prod";
}
sub kc { my ($n, $action) = @_; sh(kc_env($n) . " $root/scripts/stack/keycloak.sh $action") }
END {
    # Leave nothing running: the nodes (stop copes with a killed one).
    kc($_, 'stop') for grep { -e "$node{$_}{dir}/keycloak.pid" } qw(a b);
}

my $t_kc = time;
# An empty database: the first node creates the schema and imports the
# realm alone (then the second joins); otherwise both boot at once.
if ($fresh) {
    ok kc(a => 'start'), sprintf 'node a started (empty database) in %.0f s', time - $t_kc
        or BAIL_OUT("node a: see $node{a}{dir}/keycloak.log");
    ok kc(b => 'start'), sprintf 'node b started in %.0f s', time - $t_kc or BAIL_OUT("node b: see $node{b}{dir}/keycloak.log");
} else {
    ok kc(a => 'start --no-wait') && kc(b => 'start --no-wait'), 'nodes a and b starting';
    ok kc(a => 'wait'), sprintf 'node a ready after %.0f s', time - $t_kc or BAIL_OUT("see $node{a}{dir}/keycloak.log");
    ok kc(b => 'wait'), sprintf 'node b ready after %.0f s', time - $t_kc or BAIL_OUT("see $node{b}{dir}/keycloak.log");
}
my $kc_secs = time - $t_kc;

# One cluster: each node's log shows a view with both members.
sub view_of_two {
    my ($n) = @_;
    open my $fh, '<', "$node{$n}{dir}/keycloak.log" or return 0;
    my $last = '';
    while (<$fh>) { $last = $_ if /ISPN00009[34]: .*cluster view/ }
    return $last =~ /\(2\) \[/;
}
my $deadline = time + 120;
sleep 1 until (view_of_two('a') && view_of_two('b')) || time > $deadline;
ok view_of_two('a') && view_of_two('b'), 'both nodes in one cluster view of 2 (JDBC_PING through the database)'
    or diag `grep -h 'cluster view' $node{a}{dir}/keycloak.log $node{b}{dir}/keycloak.log`;

ok sh("$root/scripts/stack/keycloak-bootstrap.sh"), 'provisioner client set up through nginx'
    or BAIL_OUT("see $work/074-scripts.log");

# --- the private sidecar ---------------------------------------------------------------
my $sc_url;
($sidecar, $sc_url) = private_sidecar("$work/sidecar.log", KEYCLOAK_URL => $kc_url, POSTGRES_DB => $SC_DB,
    ALLOWED_ISSUERS => "$kc_url/realms/platform $kc_url/realms/tenant-*",
    AUDIT_HEAD_FILE => "$work/ledger-head");
ok $sidecar, "private sidecar on $sc_url, Keycloak $kc_url" or BAIL_OUT("see $work/sidecar.log");
sub sc_env { "KEYCLOAK_URL=$kc_url POSTGRES_DB=$SC_DB AUDIT_HEAD_FILE=$work/ledger-head" }

$op = token(env('PLATFORM_REALM'), env('PLATFORM_CLI_CLIENT_ID'),
            user => env('PLATFORM_OPERATOR_USER'), password => secret('operator.password'))
    or BAIL_OUT('no operator token from the cluster');

sub api {
    my ($method, $path, $json) = @_;
    return http_json($method, "$sc_url$path", token => $op, purpose => 'e2e 074 cluster', json => $json);
}
sub sql {
    my ($q) = @_;
    local $ENV{PGPASSFILE} = "$secrets/pgpass";
    my @l = `psql -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p @{[env('POSTGRES_PORT')]} -U @{[env('POSTGRES_USER')]} -d $SC_DB -c "$q"`;
    chomp @l;
    return @l;
}

# A tenant with an active user, made before any fault.
my $base = random_slug('e2ek');
push @slugs, $base;
my ($st, $body) = api(POST => '/tenants', { slug => $base, display_name => "cluster $base" });
is $st, 201, "tenant $base created through the cluster" or BAIL_OUT(explain $body);
($st, $body) = api(POST => "/tenants/$base/users", { username => 'clerk', email => "clerk\@$base.localhost",
                first_name => 'E2E', last_name => 'Clerk', roles => ['officer'] });
is $st, 201, 'user clerk created' or BAIL_OUT(explain $body);
my $pw = new_password();
ok first_login("tenant-$base", 'clerk', $body->{temporary_password}, $pw), 'clerk: first login (UPDATE_PASSWORD)';

# clerk's login (Authorization Code + PKCE through Keycloak's pages, started
# at URL; admin-console allows no password grant) → (200, token response) or
# (the HTTP status login.py met, {error => the OAuth error, reason => ...}).
sub login_at {
    my ($url) = @_;
    my ($tok, $err) = E2E::Stack::login("tenant-$base", 'admin-console', 'clerk', $pw, start_url => $url);
    return (200, $tok) if $tok;
    my ($st, $oauth) = $err =~ /HTTP (\d{3})(?: ([a-z_]+))?/ ? ($1, $2) : (0, undef);
    return ($st, { error => $oauth // '', reason => $err });
}
sub refresh_at {
    my ($url, $refresh) = @_;
    my $r = HTTP::Tiny->new(timeout => 60)->post_form("$url/realms/tenant-$base/protocol/openid-connect/token",
        { client_id => 'admin-console', grant_type => 'refresh_token', refresh_token => $refresh });
    my $body = eval { $JSON->decode($r->{content}) } // {};
    return ($r->{status}, $body);
}
sub api_x {
    my ($tok) = @_;
    my $r = HTTP::Tiny->new(timeout => 10, keep_alive => 0)
        ->get("http://127.0.0.1:$ngx_port/api/x", { headers => { Authorization => "Bearer $tok" } });
    return ($r->{status}, $r->{headers}{'x-auth-error'} // '');
}
my ($lst, $lb) = login_at($kc_url);
is $lst, 200, 'clerk logs in through nginx' or BAIL_OUT(explain $lb);
my $ut = $lb->{access_token};
is((api_x($ut))[0], 200, 'the module verifies the token (iss = the nginx URL)');

# A session opened on node b itself (the login starts there and its code is
# exchanged there; the form posts go to the public URL Keycloak's pages name;
# the issuer is still the nginx URL): it must outlive b.
my ($bst, $on_b) = login_at("http://127.0.0.1:$node{b}{http}");
is $bst, 200, 'clerk logs in on node b directly' or diag explain $on_b;
my ($claims) = E2E::Stack::jwt_payload($on_b->{access_token} // '');
is $claims->{iss}, "$kc_url/realms/tenant-$base", "node b's token has the cluster's issuer";

# --- load, and node b SIGKILLed in the middle ------------------------------------------------
my $LOAD = $ENV{E2E_074_LOAD_SECONDS} // 30;
my $KILL_AT = 6;
my $t0 = time + 1;
sub worker {
    my ($name, $body) = @_;
    my $pid = fork // die "fork: $!";
    return $pid if $pid;
    open my $out, '>', "$work/load-$name.jsonl" or POSIX::_exit(1);
    $out->autoflush(1);
    sleep 0.05 while time < $t0;
    my $emit = sub { print {$out} $JSON->encode({ t => time - $t0, @_ }), "\n" };
    eval { $body->($emit) };
    print {$out} $JSON->encode({ t => time - $t0, crash => "$@" }), "\n" if $@;
    POSIX::_exit(0);
}
# Provisioning: tenants, each with one user; every call retried (up to 8
# times, 1 s apart) until it succeeds.
my @prov = map {
    my $w = $_;
    worker("prov$w", sub {
        my ($emit) = @_;
        my $i = 0;
        while (time - $t0 < $LOAD) {
            my $slug = sprintf 'e2ek%d%x%02d', $w, $$, $i++;
            for my $step (['tenant', POST => '/tenants', { slug => $slug, display_name => "cluster $slug" }],
                          ['user', POST => "/tenants/$slug/users", { username => 'user1', email => "user1\@$slug.localhost",
                                 first_name => 'E2E', last_name => 'One', roles => ['officer'] }]) {
                my ($what, @req) = @$step;
                for my $try (1 .. 8) {
                    my $a0 = time;
                    my ($s, $r) = api(@req);
                    $emit->(kind => $what, slug => $slug, try => $try, status => $s, secs => time - $a0,
                            detail => ref $r ? ($r->{detail} // '') : substr($r // '', 0, 200));
                    last if $s == 201;
                    sleep 1;
                }
            }
        }
    })
} 1 .. 2;
my $logins = worker('login', sub {
    my ($emit) = @_;
    while (time - $t0 < $LOAD) {
        my $a0 = time;
        my ($s, $r) = login_at($kc_url);
        my @api = $s == 200 ? api_x($r->{access_token}) : ();
        $emit->(kind => 'login', status => $s, secs => time - $a0, error => $r->{error} // '',
                api => $api[0] // 0, api_error => $api[1] // '');
        sleep 0.2;
    }
});
my $calls = worker('api', sub {
    my ($emit) = @_;
    while (time - $t0 < $LOAD) {
        my ($s, $e) = api_x($ut);
        $emit->(kind => 'api', status => $s, error => $e);
        sleep 0.05;
    }
});

sleep 0.1 while time < $t0 + $KILL_AT;
my $bpid = pid_of("e2e/074/kc-b/keycloak.pid") or BAIL_OUT('no pid for node b');
my $t_kill = time - $t0;
kill 'KILL', -$bpid or kill 'KILL', $bpid;
note sprintf 'node b (pid %d) SIGKILLed at t=%.1f s', $bpid, $t_kill;
waitpid $_, 0 for @prov, $logins, $calls;

sub events { my ($f) = @_; open my $fh, '<', "$work/load-$f.jsonl" or return (); map { $JSON->decode($_) } <$fh> }
my @p = map { events("prov$_") } 1 .. 2;
my @l = events('login');
my @a = events('api');
ok !(grep { $_->{crash} } @p, @l, @a), 'load generators ran to the end' or diag explain [grep { $_->{crash} } @p, @l, @a];

# --- what clients saw ------------------------------------------------------------------------
subtest 'module-verified /api/ calls: never refused' => sub {
    cmp_ok scalar(@a), '>', 50, scalar(@a) . ' calls';
    my @bad = grep { $_->{status} != 200 } @a;
    is scalar(@bad), 0, 'every call 200 (keys in the shared zone; the issuer is the same for both nodes)'
        or diag explain [@bad[0 .. ($#bad < 4 ? $#bad : 4)]];
};

subtest 'logins: a clear 503 at worst, then 200' => sub {
    my @after = grep { $_->{t} > $t_kill } @l;
    cmp_ok scalar(@after), '>', 5, scalar(@after) . ' logins after the kill (' . scalar(@l) . ' in all)';
    my @fail = grep { $_->{status} != 200 } @l;
    is scalar(grep { !($_->{status} == 503 && $_->{error} eq 'temporarily_unavailable') } @fail), 0,
        scalar(@fail) . ' failed login(s), each 503 temporarily_unavailable' or diag explain \@fail;
    is scalar(grep { $_->{status} != 200 && $_->{t} > $t_kill + 15 } @l), 0, 'none fails 15 s after the kill';
    is scalar(grep { $_->{status} == 200 && $_->{api} != 200 } @l), 0, 'every fresh token passes the module';
    my ($slowest) = sort { $b <=> $a } map { $_->{secs} } @l;
    note sprintf 'logins: %d, failed %d, slowest %.2f s', scalar(@l), scalar(@fail), $slowest // 0;
};

my (%outcome, %fails);
subtest 'provisioning: failures are 503 naming Keycloak, retries succeed' => sub {
    for my $e (@p) {
        my $k = "$e->{slug}/$e->{kind}";
        if ($e->{status} == 201) { $outcome{$k} = 'created' }
        else { $fails{ $e->{slug} }++; push @{ $outcome{"$k/failures"} }, $e }
    }
    my @slugs_made = do { my %s = map { $_->{slug} => 1 } @p; sort keys %s };
    push @slugs, @slugs_made;
    cmp_ok scalar(@slugs_made), '>=', 2, scalar(@slugs_made) . ' tenants attempted during the load';
    my @bad = grep { $_->{status} != 201 && !($_->{status} == 503 && $_->{detail} =~ /Keycloak/) } @p;
    is scalar(@bad), 0, 'every failed call is 503 naming Keycloak' or diag explain \@bad;
    note "failed call: $_->{kind} $_->{slug} try $_->{try}: $_->{status} $_->{detail}"
        for grep { $_->{status} != 201 } @p;
    for my $s (@slugs_made) {
        my $done = 0;
        # The last tenant may have been cut by the end of the load before its user.
        my @mine = grep { $_->{slug} eq $s } @p;
        is $outcome{"$s/tenant"}, 'created', "$s: tenant created (retried " . (grep { $_->{kind} eq 'tenant' } @mine) . ' time(s))';
        ok !(grep { $_->{kind} eq 'user' } @mine) || ($outcome{"$s/user"} // '') eq 'created', "$s: user created if attempted";
    }
};

subtest 'nothing half-created' => sub {
    for my $s (grep { $_ ne $base } @slugs) {
        my ($gst, $t) = api(GET => "/tenants/$s");
        is $gst, 200, "$s: tenant row";
        is ref $t ? $t->{status} : '', 'active', "$s: active";
        my ($rst) = http_json(GET => "$kc_url/realms/tenant-$s/.well-known/openid-configuration");
        is $rst, 200, "$s: realm tenant-$s in Keycloak";
        if (defined $outcome{"$s/user"}) {
            my ($ust, $users) = E2E::Sidecar::kc_admin(GET => "/tenant-$s/users?username=user1&exact=true");
            is $ust == 200 && ref $users ? scalar(@$users) : -1, 1, "$s: exactly one user user1";
        }
    }
    my ($rc) = sh(sc_env() . " $root/scripts/stack/sidecar.sh run reconcile --check");
    ok $rc, 'reconcile --check: no drift between PostgreSQL and Keycloak'
        or diag `tail -n 20 $work/074-scripts.log`;
};

subtest 'the ledger says what happened' => sub {
    for my $s (grep { $_ ne $base } @slugs) {
        my %n = map { split /\|/ } sql("SELECT event_type, count(*) FROM audit_ledger WHERE tenant_id = '$s'"
                                       . " AND event_type IN ('TENANT_CREATED','USER_CREATED','PROVISIONING_FAILED') GROUP BY 1");
        is $n{TENANT_CREATED} // 0, 1, "$s: one TENANT_CREATED";
        is $n{USER_CREATED} // 0, defined $outcome{"$s/user"} ? 1 : 0, "$s: USER_CREATED as answered";
        is $n{PROVISIONING_FAILED} // 0, $fails{$s} // 0, "$s: one PROVISIONING_FAILED per 503 answered";
    }
    note "ledger: $_" for sql("SELECT tenant_id || ' ' || action || ': ' || reason FROM audit_ledger"
                              . " WHERE event_type = 'PROVISIONING_FAILED' AND tenant_id IN ("
                              . join(',', map { "'$_'" } @slugs) . ') ORDER BY seq');
    ok sh(sc_env() . " $root/scripts/stack/sidecar.sh run audit verify"), 'audit verify: chain intact';
};

subtest "node b's session and token outlive it" => sub {
    is((api_x($on_b->{access_token}))[0], 200, "node b's access token verifies through the module");
    my ($rst, $r) = refresh_at($kc_url, $on_b->{refresh_token});
    is $rst, 200, "node b's refresh token refreshes on node a (the session is in the database)" or diag explain $r;
    my $kid = (E2E::Stack::jwt_payload($on_b->{access_token}))[1]{kid};
    my ($jst, $jwks) = http_json(GET => "http://127.0.0.1:$node{a}{http}/realms/tenant-$base/protocol/openid-connect/certs");
    ok $jst == 200 && grep({ $_->{kid} eq $kid } @{ $jwks->{keys} // [] }), "node a publishes the key node b signed with ($kid)";
    my ($ist) = http_json(GET => "$kc_url/realms/tenant-$base/protocol/openid-connect/userinfo", token => $on_b->{access_token});
    is $ist, 200, "userinfo with node b's token answered by node a";
};

# --- clean up: tenants, processes; the databases stay for the next run ------------------------
my $clean = 1;
for my $s (@slugs) {
    my ($dst) = api(DELETE => "/tenants/$s");
    $clean = 0 unless $dst == 204 || $dst == 200;
}
stop($sidecar);
undef $sidecar;
$ngx->stop;
ok kc(a => 'stop') && kc(b => 'stop'), 'nodes stopped';
if ($clean && Test::More->builder->is_passing) { open my $fh, '>', "$work/clean"; close $fh }
note sprintf 'timing: Keycloak nodes %.0f s (%s database), load %d s, suite %.0f s',
    $kc_secs, $fresh ? 'empty' : 'kept', $LOAD, time - $t_suite;
done_testing();
END { stop($sidecar) if $sidecar }
