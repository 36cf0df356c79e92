#!/usr/bin/perl
# make soak: a long run of the real stack (`make up`) under a mixed load
# while tenants, users and keys change underneath it.
#
#   make soak                                    # 10 minutes, 100 tenants
#   make soak SOAK_SECONDS=60 SOAK_REALMS=10     # a quick check
#
# Set-up: SOAK_REALMS tenants soak-000… through realm-sidecar (kept between
# runs and reused), each with a user whose tokens come from Keycloak's
# password grant; tenant soak-000 issues 10-second tokens (the source of
# expired ones, with tokens kept from the last run). Then SOAK_CLIENTS load
# clients (bench/lib/Soak/Load.pm) send GET /api/soak through the stack's
# nginx with valid, expired, forged (signature altered, claims altered,
# signed by another key) and revoked tokens, and tokens of tenants being
# disabled and deleted, while this controller creates, disables, enables
# and deletes tenants, creates users and disables them or ends their
# sessions, and rotates signing keys, all through realm-sidecar. Every
# request is judged against its token's timeline (bench/lib/Soak/Expect.pm).
#
# Afterwards: the module's auth_realm_status counters (a snapshot before and
# after) must reconcile exactly with what the clients sent and got; no
# wrong answer; the RSS of every nginx worker and of realm-sidecar (sampled
# every SOAK_SAMPLE_SECONDS) must be flat (least-squares slope within
# SOAK_RSS_SLOPE_MAX_KB per minute after the first fifth of the run); no
# line above info in nginx's error log caused by a client, no error in the
# sidecar's log; no worker or sidecar restarted; `realm-sidecar audit
# verify` intact. Results: bench/results/<date>-soak.md (runs of 10 minutes
# or more) or .state/soak/<date>-soak-<N>s.md, and a summary on stdout.
# Exit status 1 when a check fails.
#
# Control calls go to the sidecar's own port (it verifies tokens itself), so
# that nginx's counters hold the load and nothing else.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib", "$FindBin::Bin/../t/e2e/lib";
use Crypt::PK::RSA;
use File::Path qw(make_path remove_tree);
use HTTP::Tiny;
use JSON::PP;
use MIME::Base64 qw(encode_base64url decode_base64url);
use POSIX qw(strftime _exit);
use Time::HiRes qw(time sleep);
use Test::More ();
use E2E::Stack qw(env token http_json jwt_payload root);
use E2E::Sidecar qw(operator_token kc_admin activate_user new_password sidecar_cli);
use Soak::Expect qw(reason_groups LEEWAY);
use Soak::Pool qw(write_pool add_tokens);
use Soak::Load;
use Soak::Memory qw(processes sample_loop read_samples slope);

# The e2e helpers report through Test::More; their diagnostics still reach
# stderr, their "ok" lines are not this program's output.
Test::More->builder->no_plan;
Test::More->builder->output('/dev/null');
Test::More->builder->no_ending(1);    # else "no tests run" makes the exit status 255
$| = 1;

my %S = (
    seconds     => $ENV{SOAK_SECONDS} // 600,
    realms      => $ENV{SOAK_REALMS} // 100,
    clients     => $ENV{SOAK_CLIENTS} // 3,
    rate        => $ENV{SOAK_RATE} // 150,      # requests/s per client (0: unthrottled)
    sample      => $ENV{SOAK_SAMPLE_SECONDS} // 5,
    slope_max   => $ENV{SOAK_RSS_SLOPE_MAX_KB} // 256,
    prefix      => $ENV{SOAK_PREFIX} // 'soak',
    parallel    => $ENV{SOAK_SETUP_PARALLEL} // 2,
    churn_every => $ENV{SOAK_CHURN_EVERY} // 20,    # a new short-lived tenant every N s
    user_every  => $ENV{SOAK_USER_EVERY} // 8,      # a new user to revoke every N s
    key_every   => $ENV{SOAK_KEY_EVERY} // 20,      # a signing-key rotation every N s
);
die "SOAK_REALMS must be at least 2\n" if $S{realms} < 2;
my %MIX = (valid => 55, expired => 10, forged => 15, revoked => 10, disabled => 5, deleted => 5);
my $ANNOUNCE = 1.5;    # clients re-read the pool every 0.2 s
# How long after the sidecar answered a change may still be unknown to a
# worker: revocation records are polled from a Redis stream (about 0.1 s
# here, 2 s in t/e2e/039); tenant records are re-read every
# auth_realm_tenant_state_interval (5 s unless the stack's nginx.conf says).
my $WINDOW_REVOKE = 3;
my $WINDOW_TENANT;
# An unknown kid makes nginx refetch an issuer's keys at most once per
# auth_realm_jwks_refetch_interval (30 s): a second rotation of one tenant
# within it is refused until the interval ends (documented rate limit, see
# bench/results/2026-12-01-soak.md). Rotations here keep that far apart.
my $REFETCH_INTERVAL;
my $SHORT_LIFESPAN = 10;

my $STATE = env('STATE_DIR');
{
    my %v = (auth_realm_tenant_state_interval => 5, auth_realm_jwks_refetch_interval => 30);
    if (open my $fh, '<', "$STATE/nginx/nginx.conf") {
        while (<$fh>) { $v{$1} = $2 / (($3 // 's') eq 'ms' ? 1000 : 1) if /^\s*(auth_realm_\w+_interval)\s+(\d+)(ms|s)?\s*;/ }
    }
    $WINDOW_TENANT = $v{auth_realm_tenant_state_interval} + 1.5;
    $REFETCH_INTERVAL = $v{auth_realm_jwks_refetch_interval};
}
my $DIR = "$STATE/soak";
my $RUN = "$DIR/run";
remove_tree($RUN);
make_path($RUN);
chmod 0700, $DIR;
my $SIDECAR = 'http://' . env('SIDECAR_HOST') . ':' . env('SIDECAR_PORT');
my $NGINX = 'http://127.0.0.1:' . env('NGINX_PORT');
my $JSON = JSON::PP->new->utf8->canonical;
my @failures;
my %ops;    # lifecycle operation → count (and "<op> failed")

sub note { printf STDERR "[soak %s] %s\n", strftime('%H:%M:%S', gmtime), join '', @_ }

# --- control calls (sidecar directly, retried when rate-limited) ----------
my ($op_tok, $op_at) = (undef, 0);
sub op {
    return $op_tok if $op_tok && time - $op_at < 120;
    # Keycloak under the set-up's load now and then refuses a good password
    # (invalid_grant): a few tries before giving up.
    for my $try (1 .. 5) {
        ($op_tok, $op_at) = (operator_token(), time);
        return $op_tok if $op_tok;
        sleep $try;
    }
    die "no operator token\n";
}

sub sc {
    my ($method, $path, %o) = @_;
    for my $try (1 .. 30) {
        my ($st, $b, $res) = http_json($method, "$SIDECAR$path", token => op(), purpose => $o{purpose} // 'soak',
                                       (exists $o{json} ? (json => $o{json}) : ()));
        # 429: rate-limited; 409 "busy": another saga (or the periodic
        # reconcile) holds the tenant for a moment.
        my $busy = $st == 409 && ref $b && ($b->{detail} // '') =~ /is busy; retry/;
        return ($st, $b) unless $st == 429 || $busy;
        $ops{'retried: tenant busy'}++ if $busy;
        sleep($busy ? 0.2 + 0.3 * rand : ($res->{headers}{'retry-after'} // 1) + 0.1 * rand);
    }
    return (429, 'rate limited 30 times');
}

sub read_json {
    my ($f) = @_;
    open my $fh, '<', $f or return;
    local $/;
    return eval { $JSON->decode(<$fh>) };
}

sub write_json {
    my ($f, $v) = @_;
    open my $fh, '>', "$f.tmp" or die "$f: $!";
    chmod 0600, "$f.tmp";
    print $fh $JSON->encode($v);
    close $fh or die "$f: $!";
    rename "$f.tmp", $f or die "rename $f: $!";
}

sub login {
    my ($slug, $user, $pw) = @_;
    return token("tenant-$slug", 'admin-console', user => $user, password => $pw);
}

# A user created through the sidecar, activated for the password grant.
sub new_user {
    my ($slug, $name) = @_;
    my ($st, $b) = sc(POST => "/tenants/$slug/users", purpose => 'soak user', json => {
        username => $name, email => "$name\@$slug.localhost", first_name => 'Soak', last_name => ucfirst $name,
        roles => ['officer'] });
    die "create user $name in $slug: HTTP $st " . (ref $b ? $JSON->encode($b) : $b) . "\n" unless $st == 201;
    my $pw = new_password();
    activate_user("tenant-$slug", $b->{user_id}, $pw) or die "activate $name in $slug failed\n";
    return ($b->{user_id}, $pw);
}

# --- preflight ----------------------------------------------------------
{
    my ($st, undef, $res) = http_json(GET => "$NGINX/tenants");
    die "nginx not answering at $NGINX (HTTP $st): run `make up`\n" unless $st == 401;
    ($st) = http_json(GET => "$SIDECAR/healthz");
    die "realm-sidecar not answering at $SIDECAR (HTTP $st): run `make up`\n" unless $st == 200;
    op();
}

# --- set-up: the tenants (reused when a previous run left them) ---------
my $saved = read_json("$DIR/tenants.json") // {};
my @base = map { sprintf '%s-%03d', $S{prefix}, $_ } 0 .. $S{realms} - 1;
my $short = $base[0];
my %setup = (created => 0, reused => 0, users_created => 0, t0 => time);

sub ensure_tenant {
    my ($slug) = @_;
    my $info = $saved->{$slug} // {};
    my ($st, $b) = sc(GET => "/tenants/$slug", purpose => 'soak set-up');
    my $made = 0;
    if ($st == 404) {
        ($st, $b) = sc(POST => '/tenants', purpose => 'soak set-up', json => { slug => $slug, display_name => "Soak $slug" });
        if ($st == 409 && ref $b && ($b->{detail} // '') =~ /already exists in Keycloak/) {
            # A realm without a row: a creation the sidecar gave up on
            # (Keycloak slower than its timeout) that Keycloak finished
            # later. Ours by name: removed, and the creation tried again.
            my ($dst) = kc_admin(DELETE => "/tenant-$slug");
            note "tenant-$slug existed in Keycloak without a tenant row: deleted it (HTTP $dst), creating again";
            ($st, $b) = sc(POST => '/tenants', purpose => 'soak set-up', json => { slug => $slug, display_name => "Soak $slug" });
        }
        die "create tenant $slug: HTTP $st " . (ref $b ? $JSON->encode($b) : $b) . "\n" unless $st == 201;
        $made = 1;
        $info = {};
    } elsif ($st == 200) {
        if (($b->{status} // '') ne 'active') {
            ($st) = sc(PATCH => "/tenants/$slug", purpose => 'soak set-up', json => { enabled => JSON::PP::true });
            die "enable $slug: HTTP $st\n" unless $st == 200;
        }
    } else {
        die "GET tenant $slug: HTTP $st\n";
    }
    my $user_made = 0;
    unless ($info->{password} && login($slug, 'soak', $info->{password})) {
        my ($lst, $l) = sc(GET => "/tenants/$slug/users?username=soak", purpose => 'soak set-up');
        my ($u) = $lst == 200 && ref $l ? grep { $_->{username} eq 'soak' } @{ $l->{users} // [] } : ();
        if ($u) {
            my $pw = new_password();
            activate_user("tenant-$slug", $u->{user_id} // $u->{id}, $pw) or die "activate soak in $slug failed\n";
            $info = { user_id => $u->{user_id} // $u->{id}, password => $pw };
        } else {
            my ($id, $pw) = new_user($slug, 'soak');
            $info = { user_id => $id, password => $pw };
            $user_made = 1;
        }
    }
    if ($slug eq $short) {    # the source of expired tokens
        my ($kst) = kc_admin(PUT => "/tenant-$slug", json => { accessTokenLifespan => $SHORT_LIFESPAN });
        die "short token lifespan on $slug: HTTP $kst\n" unless $kst == 204;
    }
    return { %$info, made => $made, user_made => $user_made };
}

# Churn tenants an interrupted run left behind.
{
    my ($st, $b) = sc(GET => '/tenants', purpose => 'soak set-up');
    die "GET /tenants: HTTP $st\n" unless $st == 200 && ref $b;
    for my $t (@{ $b->{tenants} // [] }) {
        my $slug = $t->{tenant_id} // $t->{slug} // next;
        next unless $slug =~ /^\Q$S{prefix}\Ec-/ && ($t->{status} // '') =~ /^(active|disabled)$/;
        my ($dst) = sc(DELETE => "/tenants/$slug", purpose => 'soak cleanup');
        note "left by an earlier run: $slug deleted (HTTP $dst)";
    }
}

note "set-up: $S{realms} tenants ($S{prefix}-000…), $S{parallel} at a time";
{
    my @kids;
    for my $k (0 .. $S{parallel} - 1) {
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            my %out;
            for my $i (grep { $_ % $S{parallel} == $k } 0 .. $#base) {
                my $r = eval { ensure_tenant($base[$i]) } // eval { sleep 2; ensure_tenant($base[$i]) };
                $out{ $base[$i] } = $r // { error => "$@" };
            }
            write_json("$RUN/setup-$k.json", \%out);
            _exit(0);
        }
        push @kids, $pid;
    }
    waitpid $_, 0 for @kids;
    for my $k (0 .. $S{parallel} - 1) {
        my $r = read_json("$RUN/setup-$k.json") // die "set-up worker $k wrote nothing\n";
        for my $slug (keys %$r) {
            die "set-up of $slug failed: $r->{$slug}{error}" if $r->{$slug}{error};
            $setup{created}++ if delete $r->{$slug}{made};
            $setup{users_created}++ if delete $r->{$slug}{user_made};
            $saved->{$slug} = $r->{$slug};
        }
    }
    $setup{reused} = @base - $setup{created};
    write_json("$DIR/tenants.json", $saved);
    note sprintf 'set-up: %d tenants created, %d reused, %d users created, %.0f s', @setup{qw(created reused users_created)},
        time - $setup{t0};
}

# --- the pool -----------------------------------------------------------
my (@entries, %tenant_phases, %latest);    # %latest: slug → newest base entry
my $next_id = 0;
my $forger = Crypt::PK::RSA->new;
$forger->generate_key(256, 65537);

sub publish { write_pool($RUN, \@entries, \%tenant_phases) }

sub forge {
    my ($jwt, $how) = @_;
    my ($h, $p, $s) = split /\./, $jwt;
    if ($how eq 'signature') {       # one signature byte changed
        my $raw = decode_base64url($s);
        substr($raw, 17, 1) = chr(ord(substr($raw, 17, 1)) ^ 0x5a);
        return join '.', $h, $p, encode_base64url($raw);
    }
    if ($how eq 'claims') {          # the payload escalated, the signature kept
        my $c = $JSON->decode(decode_base64url($p));
        push @{ $c->{realm_access}{roles} }, 'tenant_admin', 'platform_admin';
        return join '.', $h, encode_base64url($JSON->encode($c)), $s;
    }
    # signed by another key under the realm key's kid
    my $sig = $forger->sign_message("$h.$p", 'SHA256', 'v1.5');
    return join '.', $h, $p, encode_base64url($sig);
}

# add_token(SLUG, JWT, forged => 0|1): a new pool entry (not yet published)
sub add_token {
    my ($slug, $jwt, %o) = @_;
    my ($claims) = jwt_payload($jwt);
    my $e = { id => 'e' . $next_id++, tok => $jwt, exp => $claims->{exp}, tenant => $slug, forged => $o{forged} // 0,
              phases => [], sub => $claims->{sub}, kid => (jwt_payload($jwt))[1]{kid} };
    add_tokens($RUN, $e);
    push @entries, $e;
    return $e;
}

# The base tenant's newest token, and its three forgeries (replacing the
# previous forgeries: forged tokens never pass, one set is enough).
sub refresh_base {
    my ($slug) = @_;
    my $jwt = login($slug, 'soak', $saved->{$slug}{password}) or do { $ops{'token failed'}++; return };
    $ops{'token obtained'}++;
    @entries = grep { !($_->{forged} && $_->{tenant} eq $slug) } @entries;
    my $e = add_token($slug, $jwt);
    add_token($slug, forge($jwt, $_), forged => 1) for qw(signature claims key);
    $latest{$slug} = $e;
    return $e;
}

# Tokens kept from the last run: long expired, still for the same realms.
{
    my $old = read_json("$DIR/tokens.json") // [];
    my %have = map { $_ => 1 } @base;
    my $n = 0;
    for my $t (@$old) {
        next unless $have{ $t->{tenant} } && $t->{exp} + LEEWAY + 5 < time;
        add_token($t->{tenant}, $t->{tok});
        $n++;
    }
    note "expired tokens kept from the last run: $n";
}
refresh_base($_) for @base;
publish();

# --- memory, logs, counters: before ---------------------------------------
my @procs0 = processes($STATE);
die "no nginx worker found (is the stack's nginx running?)\n" unless grep { $_->[0] eq 'nginx worker' } @procs0;
die "no realm-sidecar process found\n" unless grep { $_->[0] eq 'realm-sidecar' } @procs0;
my %log_files = (nginx => "$STATE/nginx/error.log", sidecar => "$STATE/sidecar/sidecar.log");
my %log_off = map { $_ => (-s $log_files{$_} // 0) } keys %log_files;
my $STOP = "$RUN/stop";

sub status_doc {
    my ($st, $b) = http_json(GET => "$NGINX/realm-auth/status");
    die "auth_realm_status: HTTP $st\n" unless $st == 200 && ref $b;
    return $b;
}

my $sampler = fork // die "fork: $!";
if (!$sampler) { sample_loop($STATE, "$RUN/memory.tsv", $STOP, $S{sample}); _exit(0) }

my $before = status_doc();
my $t_start = time;
my @clients;
for my $c (1 .. $S{clients}) {
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        Soak::Load::run(url => "$NGINX/api/soak", dir => $RUN, out => "$RUN/client-$c.json", stop => $STOP,
                        rate => $S{rate}, mix => \%MIX, seed => $c * 7919 + $$);
        _exit(0);
    }
    push @clients, $pid;
}
note "load: $S{clients} clients × $S{rate} req/s for $S{seconds} s";

# --- the run: lifecycle changes under the load ------------------------------
# announce(PHASES, SPEC, CALL, AFTER): the clients learn that a change is
# coming ('either' from a moment later), the call is made, and a bounded
# window after its answer the change must hold (AFTER).
# TARGET: ["T <tenant>" or "E <entry id>", its phases]; the change is named
# as the clients name it (Soak::Expect::window_of) and logged with the
# moment the sidecar answered, for the propagation figures.
my @changes;    # {key, op, t_call, t_answer, to_refusal}
sub announce {
    my ($target, $op, $either, $call, $after) = @_;
    my ($name, $phases) = @$target;
    my $t = time + $ANNOUNCE;
    my $index = @$phases;
    push @$phases, [$t, $either];
    publish();
    sleep $ANNOUNCE + 0.05;
    my $t_call = time;
    my $ok = $call->();
    my $ta = time;
    if (!$ok) {    # nothing changed: back to what held before
        pop @$phases;
        publish();
        return 0;
    }
    push @$phases, [$ta + ($name =~ /^T/ ? $WINDOW_TENANT : $WINDOW_REVOKE), $after];
    push @changes, { key => "$name $index", op => $op, t_call => $t_call, t_answer => $ta, to_refusal => $after ne 'ok' };
    publish();
    return 1;
}

my @churn;      # {slug, entries, due, step}
my @victims;    # {slug, id, entry, due, step, how}
my $t_end = $t_start + $S{seconds};
my %due = (churn => $t_start + 2, user => $t_start + 4, key => $t_start + 6, short => $t_start);
my $victim_n = 0;
my %rotated;    # slug → when its key was last rotated
my @kids_ok = map { $_->[1] } @procs0;

sub hexid { sprintf '%08x', int rand 0xffffffff }

sub op_result {
    my ($name, $ok) = @_;
    $ops{$ok ? $name : "$name FAILED"}++;
    note "$name failed" unless $ok;
    return $ok;
}

while (time < $t_end) {
    my $now = time;
    my $did = 0;
    # base tokens: renewed a minute before they expire (the old ones stay
    # and turn into expired tokens)
    for my $slug (@base[1 .. $#base]) {
        next unless $latest{$slug} && $latest{$slug}{exp} - $now < 60;
        refresh_base($slug);
        $did = 1;
        last;
    }
    if ($now >= $due{short}) {    # 10-second tokens of soak-000
        refresh_base($short);
        $due{short} = $now + 15;
        $did = 1;
    }
    if ($now >= $due{churn}) {    # a tenant that lives ~45 s
        my $slug = "$S{prefix}c-" . hexid();
        my ($st, $b) = sc(POST => '/tenants', purpose => 'soak churn', json => { slug => $slug, display_name => "Soak churn $slug" });
        if (op_result('tenant created', $st == 201)) {
            my $ok = eval { my ($id, $pw) = new_user($slug, 'churn'); my $jwt = login($slug, 'churn', $pw); $jwt ? [$jwt] : undef };
            if ($ok) {
                my @es = map { add_token($slug, $_) } @$ok;
                $tenant_phases{$slug} = [];
                push @churn, { slug => $slug, entries => \@es, due => time + 15,
                               step => (@churn % 2 ? 'delete' : 'disable') };
                $ops{'user created'}++;
            } else {
                op_result('churn user', 0);
                sc(DELETE => "/tenants/$slug", purpose => 'soak churn cleanup');
            }
        }
        publish();
        $due{churn} = time + $S{churn_every};
        $did = 1;
    }
    for my $c (@churn) {
        next if !$c->{step} || $c->{due} > time;
        my $tp = $tenant_phases{ $c->{slug} };
        if ($c->{step} eq 'disable') {
            announce(["T $c->{slug}", $tp], 'tenant disabled', 'either:tenant_disabled|jwks_unavailable',
                     sub { op_result('tenant disabled', (sc(PATCH => "/tenants/$c->{slug}", purpose => 'soak churn', json => { enabled => JSON::PP::false }))[0] == 200) },
                     'refuse:tenant_disabled|jwks_unavailable');
            @$c{qw(step due)} = ('enable', time + 10);
        } elsif ($c->{step} eq 'enable') {
            announce(["T $c->{slug}", $tp], 'tenant enabled', 'either:tenant_disabled|jwks_unavailable',
                     sub { op_result('tenant enabled', (sc(PATCH => "/tenants/$c->{slug}", purpose => 'soak churn', json => { enabled => JSON::PP::true }))[0] == 200) },
                     'ok');
            @$c{qw(step due)} = ('delete', time + 10);
        } elsif ($c->{step} eq 'delete') {
            my $deleted = 'tenant_deleted|tenant_disabled|jwks_unavailable|key_not_found|tenant_unknown';
            announce(["T $c->{slug}", $tp], 'tenant deleted', "either:$deleted",
                     sub { my ($st) = sc(DELETE => "/tenants/$c->{slug}", purpose => 'soak churn'); op_result('tenant deleted', $st == 204 || $st == 200) },
                     "refuse:$deleted");
            @$c{qw(step due)} = ('drop', time + 60);
        } elsif ($c->{step} eq 'drop') {    # its tokens have been refused for a minute: out of the pool
            my %gone = map { $_->{id} => 1 } @{ $c->{entries} };
            @entries = grep { !$gone{ $_->{id} } } @entries;
            $c->{step} = undef;
            publish();
        }
        $did = 1;
        last;
    }
    if ($now >= $due{user}) {    # a user of a base tenant, revoked ~10 s later
        my $slug = $base[1 + int rand $#base];
        my $name = sprintf 'v%s', hexid();
        my $e = eval { my ($id, $pw) = new_user($slug, $name); my $jwt = login($slug, $name, $pw) or die "login\n"; [$id, $jwt] };
        if (op_result('user created', $e)) {
            push @victims, { slug => $slug, id => $e->[0], entry => add_token($slug, $e->[1]), due => time + 10,
                             step => 'revoke', how => $victim_n++ % 2 ? 'sessions' : 'disable' };
            publish();
        }
        $due{user} = time + $S{user_every};
        $did = 1;
    }
    for my $v (@victims) {
        next if !$v->{step} || $v->{due} > time;
        if ($v->{step} eq 'revoke') {
            my $path = "/tenants/$v->{slug}/users/$v->{id}";
            my $call = $v->{how} eq 'disable'
                ? sub { op_result('user disabled', (sc(PATCH => $path, purpose => 'soak revoke', json => { enabled => JSON::PP::false }))[0] == 200) }
                : sub { my ($st) = sc(POST => "$path/sessions:revoke", purpose => 'soak revoke', json => {}); op_result('user sessions revoked', $st == 200 || $st == 204) };
            announce(["E $v->{entry}{id}", $v->{entry}{phases}], $v->{how} eq 'disable' ? 'user disabled' : 'user sessions revoked',
                     'either:token_revoked', $call, 'refuse:token_revoked');
            @$v{qw(step due)} = ('delete', time + 30);
        } elsif ($v->{step} eq 'delete') {
            my ($st) = sc(DELETE => "/tenants/$v->{slug}/users/$v->{id}", purpose => 'soak cleanup');
            op_result('user deleted', $st == 204 || $st == 200);
            $v->{step} = undef;
        }
        $did = 1;
        last;
    }
    if ($now >= $due{key}) {    # a new signing key for a base tenant; its old tokens still pass
        my @fit = grep { ($rotated{$_} // 0) < $now - $REFETCH_INTERVAL - 5 } @base[1 .. $#base];
        my $slug = $fit[int rand @fit];
        my ($st, $b) = sc(POST => "/tenants/$slug/keys:rotate", purpose => 'soak rotate', json => {});
        if (op_result('key rotated', $st == 200 || $st == 201)) {
            my $old = $latest{$slug}{kid} // '';
            my $e = refresh_base($slug);
            $rotated{$slug} = time;
            $ops{'token signed by the new key'}++ if $e && $e->{kid} ne $old;
            publish();
        }
        $due{key} = time + $S{key_every};
        $did = 1;
    }
    # Expired tokens: the newest 100 are plenty.
    my @exp = grep { !$_->{forged} && $_->{exp} + LEEWAY + 60 < $now } @entries;
    if (@exp > 100) {
        my %drop = map { $_->{id} => 1 } (sort { $a->{exp} <=> $b->{exp} } @exp)[0 .. $#exp - 100];
        @entries = grep { !$drop{ $_->{id} } } @entries;
        publish();
    }
    publish() if $did;
    sleep 0.1 unless $did;
}

# --- stop, then the counters after ------------------------------------------
open my $stop_fh, '>', $STOP or die "$STOP: $!";
close $stop_fh;
my $t_stop = time;
waitpid $_, 0 for @clients;
my $after = status_doc();
waitpid $sampler, 0;
my @procs1 = processes($STATE);
my $elapsed = $t_stop - $t_start;
note sprintf 'load stopped after %.0f s', $elapsed;

# Clean-up (after the snapshot: not counted): churn tenants and users left.
for my $c (grep { $_->{step} && $_->{step} ne 'drop' } @churn) {
    sc(DELETE => "/tenants/$c->{slug}", purpose => 'soak cleanup');
}
for my $v (grep { $_->{step} } @victims) { sc(DELETE => "/tenants/$v->{slug}/users/$v->{id}", purpose => 'soak cleanup') }
{   # the next run's expired tokens: base tenants' own, nothing revoked
    my @keep = grep { !$_->{forged} && $saved->{ $_->{tenant} } && !@{ $_->{phases} } } @entries;
    @keep = (sort { $b->{exp} <=> $a->{exp} } @keep)[0 .. ($#keep > 49 ? 49 : $#keep)];
    write_json("$DIR/tokens.json", [map { { tenant => $_->{tenant}, tok => $_->{tok}, exp => $_->{exp} } } @keep]);
}

# --- checks -----------------------------------------------------------------
my (%got, %by_cat, %wrong, @wrong_samples, %win);
my ($sent, $transport) = (0, 0);
for my $c (1 .. $S{clients}) {
    my $r = read_json("$RUN/client-$c.json") or do { push @failures, "client $c wrote no results"; next };
    $sent += $r->{sent};
    $transport += $r->{transport_errors};
    $got{$_} += $r->{got}{$_} for keys %{ $r->{got} };
    for my $k (keys %{ $r->{by_cat} }) { $by_cat{$k}{$_} += $r->{by_cat}{$k}{$_} for keys %{ $r->{by_cat}{$k} } }
    $wrong{$_} += $r->{wrong}{$_} for keys %{ $r->{wrong} };
    push @wrong_samples, @{ $r->{wrong_samples} };
    for my $k (keys %{ $r->{windows} // {} }) {
        my ($a, $w) = ($win{$k} //= {}, $r->{windows}{$k});
        for my $side (qw(ok refused)) {
            next unless $w->{$side};
            $a->{$side} += $w->{$side};
            $a->{"first_$side"} = $w->{"first_$side"} if !defined $a->{"first_$side"} || $w->{"first_$side"} < $a->{"first_$side"};
            $a->{"last_$side"} = $w->{"last_$side"} if !defined $a->{"last_$side"} || $w->{"last_$side"} > $a->{"last_$side"};
        }
    }
}
push @failures, "$transport requests without an answer" if $transport;
my $n_wrong = 0;
$n_wrong += $_ for values %wrong;
push @failures, "$n_wrong wrong answers (" . join(', ', map { "$_ $wrong{$_}" } sort keys %wrong) . ')' if $n_wrong;

# Counters: verified and every refusal reason, after − before.
my %groups = reason_groups();
my %group_of;
for my $g (keys %groups) { $group_of{$_} = $g for @{ $groups{$g} } }
my @recon;    # [name, counter delta, client count]
{
    my %delta = (ok => ($after->{verified} // 0) - ($before->{verified} // 0));
    my %names = map { $_ => 1 } keys %{ $after->{refused} }, keys %{ $before->{refused} };
    for my $n (keys %names) {
        my $d = ($after->{refused}{$n} // 0) - ($before->{refused}{$n} // 0);
        $delta{ $group_of{$n} // $n } += $d;
    }
    my %all = (%delta, %got);
    for my $n (sort { ($b eq 'ok') <=> ($a eq 'ok') || $a cmp $b } keys %all) {
        my ($d, $g) = ($delta{$n} // 0, $got{$n} // 0);
        next unless $d || $g;
        push @recon, [$n, $d, $g];
        push @failures, "counter $n moved by $d, clients got it $g times" if $d != $g;
    }
}

# Memory: slope per process after the warm-up (the first fifth).
my $samples = read_samples("$RUN/memory.tsv");
my @mem;    # [role pid, n, first rss, last rss, max rss, slope rss, slope anon, first shm, last shm]
my $warm = $t_start + $elapsed / 5;
for my $k (sort keys %$samples) {
    my @s = @{ $samples->{$k} };
    my @w = grep { $_->[0] >= $warm } @s;
    my $max = 0;
    $max < $_->[1] and $max = $_->[1] for @s;
    my ($sr, $sa) = (slope(map { [$_->[0], $_->[1]] } @w), slope(map { [$_->[0], $_->[2]] } @w));
    push @mem, [$k, scalar @s, $s[0][1], $s[-1][1], $max, $sr, $sa, $s[0][3], $s[-1][3], $s[0][2], $s[-1][2]];
    # The bound is on private memory (see Soak::Memory): file pages (code
    # paged in on first use) and zone pages touched are reported, not bounded.
    # Over less than two minutes a slope says little (one malloc arena
    # growing reads as hundreds of KB/min): reported, not judged.
    push @failures, sprintf '%s: RssAnon slope %.0f KB/min (bound %d)', $k, $sa, $S{slope_max}
        if abs($sa) > $S{slope_max} && @w >= 5 && $elapsed * 4 / 5 >= 120;
    push @failures, "$k: only " . scalar(@w) . ' samples after the warm-up' if @w < 5;
}
{
    my %p0 = map { ("$_->[0] $_->[1]" => 1) } @procs0;
    my %p1 = map { ("$_->[0] $_->[1]" => 1) } @procs1;
    my @gone = grep { !$p1{$_} } sort keys %p0;
    my @new = grep { !$p0{$_} } sort keys %p1;
    push @failures, "processes gone: @gone; new: @new (a crash or a restart)" if @gone || @new;
}

# Logs. nginx: every line above info is listed; one with a request's
# context (", client: ") was caused by a client and fails the run, as does
# any crit, alert or emerg. The sidecar's log has no levels: its lines at
# error level are 5xx answers and their explanations ("503 creating realm
# …"), which fail the run; reconcile's "unrepaired" drift reports are
# warnings, listed.
my %log_lines;    # file → {message → count}
my %bad_lines;
{
    for my $which (sort keys %log_files) {
        open my $fh, '<', $log_files{$which} or next;
        seek $fh, $log_off{$which}, 0;
        while (my $l = <$fh>) {
            chomp $l;
            my ($show, $bad);
            if ($which eq 'nginx') {
                my ($lvl) = $l =~ /^\S+ \S+ \[(\w+)\]/ or next;
                next if $lvl eq 'info' || $lvl eq 'debug';
                ($show, $bad) = (1, $l =~ /, client: / || $lvl =~ /^(crit|alert|emerg)$/);
            } elsif ($l =~ /^realm-sidecar: (?:[A-Z]+ \S+ -> )?(\d{3})\b/) {
                ($show, $bad) = ($1 >= 500) x 2;
            } else {
                $show = $l =~ /unrepaired|warn|error|fail/i;
            }
            next unless $show;
            (my $m = $l) =~ s/^\d{4}\/\S+ \S+ //;    # nginx's timestamp
            $m =~ s/\d+#\d+: (\*\d+ )?//;
            $m =~ s/request_id=\w+//;
            $m =~ s/\b[0-9a-f]{8}-[0-9a-f-]{27}\b/<uuid>/g;
            $m =~ s/\Q$S{prefix}\Ec?-[0-9a-f]+/<tenant>/g;
            $log_lines{$which}{ ($bad ? 'FAILS: ' : '') . substr($m, 0, 300) }++;
            $bad_lines{$which}++ if $bad;
        }
    }
    for my $which (sort keys %bad_lines) {
        push @failures, "$bad_lines{$which} $which log lines " . ($which eq 'nginx' ? 'above info caused by a client (or crit and above)' : 'at error level (5xx)');
    }
}

# The ledger.
my ($ledger_rc, @ledger_out) = sidecar_cli('audit', 'verify');
chomp @ledger_out;
push @failures, "audit verify exited $ledger_rc: @ledger_out" if $ledger_rc;

# --- report -----------------------------------------------------------------
sub cmd_out { my $o = `@_ 2>&1`; $o =~ s/\s+\z//; return $o }
my $date = strftime('%Y-%m-%d', gmtime);
my $file = $ENV{SOAK_RESULTS} // ($S{seconds} >= 600 ? root() . "/bench/results/$date-soak.md" : "$DIR/$date-soak-$S{seconds}s.md");
my $cpu = cmd_out(q{grep -m1 'model name' /proc/cpuinfo | cut -d: -f2});
my $mem_total = cmd_out(q{awk '/MemTotal/ {printf "%.0f GB", $2/1048576}' /proc/meminfo});
my $ngx_v = cmd_out('nginx -v');
my $pg_v = cmd_out(q{psql --version});
my $redis_v = cmd_out(q{redis-server --version | awk '{print $3}'});
my $commit = cmd_out('git -C ' . root() . ' rev-parse --short HEAD') . (cmd_out('git -C ' . root() . ' status --porcelain -- ngx_realm_auth sidecar') ? ' (with local changes)' : '');
my $kc_v = env('KEYCLOAK_VERSION');
my $cmd = "make soak SOAK_SECONDS=$S{seconds} SOAK_REALMS=$S{realms}"
        . ($S{clients} != 3 ? " SOAK_CLIENTS=$S{clients}" : '') . ($S{rate} != 150 ? " SOAK_RATE=$S{rate}" : '');
my $ok_total = $got{ok} // 0;
my $md = '';
$md .= "# Soak, $date\n\n";
$md .= sprintf "Verdict: **%s**\n\n", @failures ? 'FAILED' : 'passed';
$md .= "- command: `$cmd` (`bench/soak.pl`)\n";
$md .= "- machine: " . cmd_out('nproc') . " cores ($cpu), $mem_total, shared with other sessions' builds and stacks\n";
$md .= "- versions: realm-auth $commit, $ngx_v, Keycloak $kc_v (start-dev), $pg_v, Redis $redis_v\n";
$md .= sprintf "- run: %.0f s of load, %d clients at up to %d req/s each, %d tenants (%d created, %d reused; set-up %.0f s)\n\n",
    $elapsed, $S{clients}, $S{rate}, $S{realms}, $setup{created}, $setup{reused}, $t_start - $setup{t0};
$md .= sprintf "## Load\n\n%d requests (%.0f/s), %d answered, %d without an answer; wrong answers: %d\n\n",
    $sent, $sent / ($elapsed || 1), $sent - $transport, $transport, $n_wrong;
my @outs = sort { ($b eq 'ok') <=> ($a eq 'ok') || $a cmp $b } keys %got;
$md .= '| drawn as | ' . join(' | ', @outs) . " |\n|" . ' --- |' x (@outs + 1) . "\n";
for my $cat (qw(valid expired forged revoked disabled deleted)) {
    next unless $by_cat{$cat};
    $md .= "| $cat | " . join(' | ', map { $by_cat{$cat}{$_} // 0 } @outs) . " |\n";
}
$md .= "\n\"drawn as\" is the token's state when it was drawn; tokens whose state was changing are judged by the\n"
     . "window around the change (announced ${ANNOUNCE} s before the call, settled ${WINDOW_REVOKE} s after its answer for a\n"
     . "revocation, ${WINDOW_TENANT} s for a tenant state).\n\n";
if (@wrong_samples) {
    $md .= "Wrong answers (first " . scalar(@wrong_samples) . "):\n\n| t | took s | drawn as | tenant | expected | got | why |\n| --- | --- | --- | --- | --- | --- | --- |\n";
    $md .= "| $_->{t} | " . ($_->{dt} // '') . " | $_->{cat} | " . ($_->{tenant} // '') . ' | ' . ($_->{expected} // '') . " | $_->{got} | $_->{why} |\n"
        for @wrong_samples[0 .. ($#wrong_samples > 49 ? 49 : $#wrong_samples)];
    $md .= "\n";
}
{
    # For each change: from the sidecar's answer to the last answer of the old
    # kind (the last 200 of a token being refused, the last refusal of a
    # tenant being enabled), over every request that drew an affected token.
    my %by_op;
    for my $c (@changes) {
        my $w = $win{ $c->{key} } // next;
        my $last_old = $c->{to_refusal} ? $w->{last_ok} : $w->{last_refused};
        push @{ $by_op{ $c->{op} } }, [defined $last_old ? $last_old - $c->{t_answer} : undef, $c->{t_answer} - $c->{t_call}];
    }
    $md .= "## How long each change took to reach every worker\n\n"
         . "From the sidecar's answer to the last answer of the old kind among the requests that drew an affected token\n"
         . "(≤ 0: none after the answer). Allowed: $WINDOW_REVOKE s for revocations, $WINDOW_TENANT s for tenant state\n"
         . "(auth_realm_tenant_state_interval + 1.5 s).\n\n"
         . "| change | count | sidecar answered in (max s) | old answers after it: p50 s | max s |\n| --- | --- | --- | --- | --- |\n";
    for my $op (sort keys %by_op) {
        my @v = sort { $a <=> $b } map { $_->[0] // -1e9 } @{ $by_op{$op} };
        my @call = sort { $a <=> $b } map { $_->[1] } @{ $by_op{$op} };
        my $f = sub { $_[0] < -1e8 ? 'none' : sprintf '%.2f', $_[0] };
        $md .= sprintf "| %s | %d | %.2f | %s | %s |\n", $op, scalar @v, $call[-1], $f->($v[int($#v / 2)]), $f->($v[-1]);
    }
    $md .= "\n";
}
$md .= "## Lifecycle during the run\n\n| operation | count |\n| --- | --- |\n";
$md .= "| $_ | $ops{$_} |\n" for sort keys %ops;
$md .= "\n## Counters (auth_realm_status after − before) against the clients\n\n| outcome | counter delta | clients got | |\n| --- | --- | --- | --- |\n";
$md .= sprintf "| %s | %d | %d | %s |\n", @$_, $_->[1] == $_->[2] ? 'equal' : '**differs**' for @recon;
$md .= "\n(`ok` is `verified`; " . join('; ', map { "`$_` counts " . join(' + ', @{ $groups{$_} }) } sort keys %groups)
     . ": they share an error_description.)\n\n";
my $j = sub { my ($k) = @_; join ', ', map { "$_ $after->{$k}{$_}" } grep { !ref $after->{$k}{$_} } sort keys %{ $after->{$k} // {} } };
$md .= "After the run: token_cache: " . $j->('token_cache') . "; jwks: " . $j->('jwks') . "; revocation: " . $j->('revocation') . "\n\n";
$md .= sprintf "## Memory (every %d s; slopes by least squares after the first %.0f s; bound %d KB/min on RssAnon%s)\n\n",
    $S{sample}, $elapsed / 5, $S{slope_max}, $elapsed * 4 / 5 >= 120 ? '' : ', not judged: under two minutes measured';
$md .= "RssAnon is private memory, what a leak grows. VmRSS adds file pages (code paged in on first use) and,\n"
     . "for workers, the shared zone's pages as they are first touched (RssShmem, at most the zone's size).\n\n";
$md .= "| process | samples | VmRSS first → last KB (max) | VmRSS slope KB/min | RssAnon first → last KB | RssAnon slope KB/min | RssShmem first → last KB |\n"
     . "| --- | --- | --- | --- | --- | --- | --- |\n";
$md .= sprintf "| %s | %d | %d → %d (%d) | %+.1f | %d → %d | %+.1f | %d → %d |\n", $_->[0], $_->[1], $_->[2], $_->[3], $_->[4], $_->[5],
    $_->[9], $_->[10], $_->[6], $_->[7], $_->[8] for @mem;
$md .= "\n## Logs\n\n";
for my $which (sort keys %log_files) {
    my $h = $log_lines{$which} // {};
    $md .= sprintf "%s (%s): %s\n\n", $which, $which eq 'nginx' ? 'lines above info' : '5xx answers, drift warnings',
        %$h ? '' : 'none';
    $md .= "    $h->{$_} × $_\n" for sort { $h->{$b} <=> $h->{$a} } keys %$h;
    $md .= "\n" if %$h;
}
$md .= "## Ledger\n\n`realm-sidecar audit verify`: exit $ledger_rc\n\n    " . join("\n    ", @ledger_out) . "\n\n";
$md .= "## Checks failed\n\n" . (@failures ? join('', map { "- $_\n" } @failures) : "none\n");
open my $out, '>', $file or die "$file: $!";
print $out $md;
close $out;

printf "soak: %s — %d requests in %.0f s (%.0f/s), %d wrong answers, counters %s, %d tenants created / %d disabled / %d deleted, %d users revoked, %d keys rotated\n",
    @failures ? 'FAILED' : 'passed', $sent, $elapsed, $sent / ($elapsed || 1), $n_wrong,
    (grep { $_->[1] != $_->[2] } @recon) ? 'DIFFER' : 'reconcile exactly', $ops{'tenant created'} // 0,
    $ops{'tenant disabled'} // 0, $ops{'tenant deleted'} // 0, ($ops{'user disabled'} // 0) + ($ops{'user sessions revoked'} // 0),
    $ops{'key rotated'} // 0;
printf "soak: memory slope KB/min: %s\n", join(', ', map { sprintf '%s %+.0f (anon %+.0f)', $_->[0], $_->[5], $_->[6] } @mem);
print "soak: failed: $_\n" for @failures;
print "soak: results in $file\n";
exit(@failures ? 1 : 0);
