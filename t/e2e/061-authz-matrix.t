#!/usr/bin/perl
# Authorization matrix, end to end, against the running local stack (`make up`):
# six actors (platform_admin of realm platform; tenant_admin, officer and
# auditor of tenant A; tenant_admin of tenant B; no token) × every governed
# endpoint of realm-sidecar (GET /audit included), the resource being tenant A. Each cell sends a
# unique X-Purpose and asserts
#   - the HTTP status the built-in policy (docs/GOVERNANCE.md §2) implies;
#   - the ledger rows of that request: REQUEST, AUTHZ_DECISION (allow/deny and
#     the exact reason), then for an allowed mutation its outcome event
#     (TENANT_CREATED, USER_CREATED, SECRET_ROTATED, KEY_ROTATED, KEY_RETIRED,
#     TENANT_UPDATED, TENANT_DELETED, USER_DISABLED, USER_DELETED, PASSWORD_RESET,
#     SESSIONS_REVOKED) — and nothing else (reads, GET /audit included, have
#     no outcome event); for a call without a token: 401 and no row at all
#     (nginx, or the sidecar's own token check, refuses first).
# The user's life (user.read, user.update, user.delete, user.password.reset,
# user.sessions.revoke, tenant.sessions.revoke) acts on a fresh user of
# tenant A per cell; after an allowed tenant.sessions.revoke (every session
# and token of tenant A revoked) tenant A's actors log in again.
# GET /audit also: the rows an auditor of A reads are all tenant A's; an
# auditor asking for tenant B or the whole ledger is denied; bad tenant_id
# or limit is a 400 naming the field (before governance, no ledger row).
# The built-in run goes through nginx (:NGINX_PORT). Then the same matrix
# against a second sidecar whose POLICY_URL points at a real OPA serving
# conf/policy/realm_auth.rego (called directly on its port): the same
# statuses, decisions and reasons, cell by cell.
# Mutations do not disturb later cells: tenant.create makes a throwaway
# tenant that the tenant.delete cell removes; PATCH disable is followed by a
# re-enable (and a wait until tenant A's tokens are accepted again);
# key.retire retires the key key.rotate just added (a day's grace), so
# tenant A keeps its first key active.
#   prove -It/e2e/lib -It/lib t/e2e/061-authz-matrix.t
# Needs psql, build/bin/realm-sidecar (or REALM_SIDECAR_BIN) and OPA (OPA or
# scripts/install-opa.sh).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use IO::Socket::INET;
use JSON::PP;
use POSIX ':sys_wait_h';
use E2E::Stack qw(root env http_json token random_slug require_keycloak);
use E2E::Util qw(sql_rows ledger_rows free_port wait_http spawn stop);
use E2E::Sidecar qw(gateway operator_token create_tenant activate_user new_password require_sidecar);

require_keycloak();
require_sidecar();
my $psql = -x '/usr/bin/psql' ? '/usr/bin/psql' : `command -v psql` =~ s/\s+\z//r;
BAIL_OUT('psql not installed') unless $psql && -x $psql;

my $root = root();
my $bin  = $ENV{REALM_SIDECAR_BIN} // "$root/build/bin/realm-sidecar";
my $work = env('STATE_DIR') . '/e2e';
mkdir $work;

# ---------------------------------------------------------------- helpers ---

# call(METHOD, BASE, PATH, token => T, purpose => P, json => REF)
# → (status, decoded body, response headers)
sub call {
    my ($method, $base, $path, %o) = @_;
    my ($st, $body, $res) = http_json($method, "$base$path", %o);
    return ($st, $body, $res->{headers});
}

# Ledger rows carrying exactly this purpose, in seq order.
sub ledger_by_purpose {
    my ($purpose) = @_;
    die "unsafe purpose" unless $purpose =~ /\A[A-Za-z0-9 ._:\/()-]+\z/;
    return ledger_rows("purpose = '$purpose'");
}
sub types { join ' ', map { $_->{event_type} } @_ }


# ------------------------------------------------------------------ setup ---

my $op = operator_token() or BAIL_OUT('no operator token');
my ($A, $B) = (random_slug('mxa'), random_slug('mxb'));
my @cleanup = ($A, $B);
END {
    if ($op) {
        for my $t (@cleanup) { call(DELETE => gateway(), "/tenants/$t", token => operator_token(), purpose => 'e2e 061 cleanup') }
    }
}
for my $t ($A, $B) {
    my ($st, $b) = create_tenant($op, $t);
    is $st, 201, "tenant $t created" or BAIL_OUT('cannot create tenants: ' . join '', explain $b);
}

# Tenant users, activated (permanent password, no pending action); their
# tokens are fetched again when older than two minutes.
my %login;   # actor → [realm, username, password]
for my $u ([tenant_admin_A => $A, 'tadmin', 'tenant_admin'], [officer_A => $A, 'officer', 'officer'],
           [auditor_A => $A, 'auditor', 'auditor'], [tenant_admin_B => $B, 'tadmin', 'tenant_admin']) {
    my ($actor, $t, $name, $role) = @$u;
    my ($st, $b) = E2E::Sidecar::api(POST => "/tenants/$t/users", token => $op, purpose => 'e2e 061 setup',
        json => { username => $name, email => "$name\@$t.example", first_name => 'E2E', last_name => ucfirst $name,
                  roles => [$role] });
    is $st, 201, "$actor: user $name created in $t" or BAIL_OUT('cannot create users: ' . join '', explain $b);
    my $pw = new_password();
    ok activate_user("tenant-$t", $b->{user_id}, $pw), "$actor: activated" or BAIL_OUT('cannot activate');
    $login{$actor} = ["tenant-$t", $name, $pw];
}
my %tok_cache;
sub tok {
    my ($actor) = @_;
    return undef if $actor eq 'anonymous';
    my $c = $tok_cache{$actor};
    return $c->[0] if $c && time - $c->[1] < 120;
    my $t = $actor eq 'platform_admin' ? operator_token() : token($login{$actor}[0], 'admin-console',
                                                                 user => $login{$actor}[1], password => $login{$actor}[2]);
    $tok_cache{$actor} = [$t, time];
    return $t;
}
for my $actor (keys %login) { ok tok($actor), "$actor logs in" or BAIL_OUT("no token for $actor") }

# ----------------------------------------------------------------- matrix ---

my @ACTORS = qw(platform_admin tenant_admin_A tenant_admin_B officer_A auditor_A anonymous);
my %REALM  = (platform_admin => 'platform', tenant_admin_A => "tenant-$A", officer_A => "tenant-$A",
              auditor_A => "tenant-$A", tenant_admin_B => "tenant-$B");

# Expected cells: "STATUS allow|deny REASON" (or "401"); {A} and {B} stand for
# the tenants. Reasons are those of docs/GOVERNANCE.md §2 (the checklist).
my $PA = 'platform_admin of realm platform';
sub only_pa { "403 deny $_[0] requires platform_admin of realm platform" }
sub needs   { "403 deny $_[0] requires platform_admin of realm platform or $_[1] of the same tenant" }
my $CROSS = '403 deny actor of tenant {B} may not act on tenant {A}';
my %MATRIX = (
    #                  platform_admin     tenant_admin_A                               tenant_admin_B                                officer_A                                   auditor_A                                     anonymous
    'tenant.create' => ["201 allow $PA", only_pa('tenant.create'),                   only_pa('tenant.create'),                     only_pa('tenant.create'),                   only_pa('tenant.create'),                     '401'],
    'tenant.list'   => ["200 allow $PA", '200 allow scoped to own tenant {A} (tenant_admin)', '200 allow scoped to own tenant {B} (tenant_admin)', needs('tenant.list', 'tenant_admin/auditor'), '200 allow scoped to own tenant {A} (auditor)', '401'],
    'tenant.read'   => ["200 allow $PA", '200 allow tenant_admin of tenant {A}',     $CROSS,                                       needs('tenant.read', 'tenant_admin/auditor'), '200 allow auditor of tenant {A}',           '401'],
    'user.create'   => ["201 allow $PA", '201 allow tenant_admin of tenant {A}',     $CROSS,                                       needs('user.create', 'tenant_admin'),        needs('user.create', 'tenant_admin'),         '401'],
    'secret.rotate' => ["200 allow $PA", only_pa('secret.rotate'),                   only_pa('secret.rotate'),                     only_pa('secret.rotate'),                   only_pa('secret.rotate'),                     '401'],
    'key.read'      => ["200 allow $PA", '200 allow tenant_admin of tenant {A}',     $CROSS,                                       needs('key.read', 'tenant_admin/auditor'),  '200 allow auditor of tenant {A}',           '401'],
    'key.rotate'    => ["200 allow $PA", only_pa('key.rotate'),                      only_pa('key.rotate'),                        only_pa('key.rotate'),                      only_pa('key.rotate'),                        '401'],
    'key.retire'    => ["200 allow $PA", only_pa('key.retire'),                      only_pa('key.retire'),                        only_pa('key.retire'),                      only_pa('key.retire'),                        '401'],
    'tenant.update' => ["200 allow $PA", only_pa('tenant.update'),                   only_pa('tenant.update'),                     only_pa('tenant.update'),                   only_pa('tenant.update'),                     '401'],
    'tenant.delete' => ["204 allow $PA", only_pa('tenant.delete'),                   only_pa('tenant.delete'),                     only_pa('tenant.delete'),                   only_pa('tenant.delete'),                     '401'],
    'audit.read'    => ["200 allow $PA", needs('audit.read', 'auditor'),             $CROSS,                                       needs('audit.read', 'auditor'),             '200 allow auditor of tenant {A}',           '401'],
    'user.read'     => ["200 allow $PA", '200 allow tenant_admin of tenant {A}',     $CROSS,                                       needs('user.read', 'tenant_admin/auditor'),  '200 allow auditor of tenant {A}',           '401'],
    'user.read (one)' => ["200 allow $PA", '200 allow tenant_admin of tenant {A}',   $CROSS,                                       needs('user.read', 'tenant_admin/auditor'),  '200 allow auditor of tenant {A}',           '401'],
    'user.update'   => ["200 allow $PA", '200 allow tenant_admin of tenant {A}',     $CROSS,                                       needs('user.update', 'tenant_admin'),        needs('user.update', 'tenant_admin'),         '401'],
    'user.password.reset' => ["200 allow $PA", '200 allow tenant_admin of tenant {A}', $CROSS,                                     needs('user.password.reset', 'tenant_admin'), needs('user.password.reset', 'tenant_admin'), '401'],
    'user.sessions.revoke' => ["200 allow $PA", '200 allow tenant_admin of tenant {A}', $CROSS,                                    needs('user.sessions.revoke', 'tenant_admin'), needs('user.sessions.revoke', 'tenant_admin'), '401'],
    'user.delete'   => ["204 allow $PA", '204 allow tenant_admin of tenant {A}',     $CROSS,                                       needs('user.delete', 'tenant_admin'),        needs('user.delete', 'tenant_admin'),         '401'],
    'tenant.sessions.revoke' => ["200 allow $PA", '200 allow tenant_admin of tenant {A}', $CROSS,                                  needs('tenant.sessions.revoke', 'tenant_admin'), needs('tenant.sessions.revoke', 'tenant_admin'), '401'],
);

# A fresh officer of tenant A for one cell of the user's life.
my $uniq = 0;
sub victim {
    my $n = 'mxv' . ++$uniq . lc random_slug('u');
    my ($st, $b) = E2E::Sidecar::api(POST => "/tenants/$A/users", token => operator_token(), purpose => 'e2e 061 setup',
        json => { username => $n, email => "$n\@$A.example", first_name => 'Mx', last_name => 'Victim', roles => ['officer'] });
    die "victim not created: HTTP $st" unless $st == 201;
    return $b->{user_id};
}

# The endpoints, in the order they run. path/json get (actor, run state);
# tenant.create by platform_admin makes a throwaway tenant that
# tenant.delete by platform_admin removes (denied deletes aim at tenant A).
my @ENDPOINTS = (
    [ 'tenant.create', POST => sub { '/tenants' }, 'TENANT_CREATED',
      sub { my ($actor, $s) = @_; my $slug = random_slug('mxt'); $s->{new} = $slug if $actor eq 'platform_admin';
            { slug => $slug, display_name => "matrix $slug" } } ],
    [ 'tenant.list',   GET  => sub { '/tenants' }, undef, undef ],
    [ 'tenant.read',   GET  => sub { "/tenants/$A" }, undef, undef ],
    [ 'user.create',   POST => sub { "/tenants/$A/users" }, 'USER_CREATED',
      sub { my $n = 'mx' . ++$uniq . lc random_slug('u');
            { username => $n, email => "$n\@$A.example", first_name => 'Mx', last_name => 'User', roles => ['officer'] } } ],
    [ 'secret.rotate', POST => sub { "/tenants/$A/secrets/tenant-services:rotate" }, 'SECRET_ROTATED', undef ],
    [ 'key.read',      GET  => sub { "/tenants/$A/keys" }, undef, undef ],
    [ 'key.rotate',    POST => sub { "/tenants/$A/keys:rotate" }, 'KEY_ROTATED', undef ],
    [ 'key.retire',    POST => sub { "/tenants/$A/keys/" . ($_[1]{kid} // 'no-such-kid') . ':retire' }, 'KEY_RETIRED',
      sub { { grace_seconds => 86400 } } ],
    [ 'tenant.update', PATCH => sub { "/tenants/$A" }, 'TENANT_UPDATED', sub { { enabled => JSON::PP::false } } ],
    [ 'tenant.delete', DELETE => sub { $_[0] eq 'platform_admin' ? "/tenants/$_[1]{new}" : "/tenants/$A" }, 'TENANT_DELETED', undef ],
    [ 'audit.read',    GET  => sub { "/audit?tenant_id=$A" }, undef, undef ],
    [ 'user.read',     GET  => sub { "/tenants/$A/users?max=5" }, undef, undef ],
    [ 'user.read (one)', GET => sub { "/tenants/$A/users/" . victim() }, undef, undef ],
    [ 'user.update',   PATCH => sub { "/tenants/$A/users/" . victim() }, 'USER_DISABLED', sub { { enabled => JSON::PP::false } } ],
    [ 'user.password.reset', POST => sub { "/tenants/$A/users/" . victim() . '/password:reset' }, 'PASSWORD_RESET', undef ],
    [ 'user.sessions.revoke', POST => sub { "/tenants/$A/users/" . victim() . '/sessions:revoke' }, 'SESSIONS_REVOKED', undef ],
    [ 'user.delete',   DELETE => sub { "/tenants/$A/users/" . victim() }, 'USER_DELETED', undef ],
    # Last: an allowed one revokes every token of tenant A.
    [ 'tenant.sessions.revoke', POST => sub { "/tenants/$A/sessions:revoke" }, 'SESSIONS_REVOKED', undef ],
);

my @ROW_KEYS = sort qw(seq occurred_at event_type request_id actor_id actor_realm tenant_id action purpose
                      decision reason details prev_hash row_hash tenant_incarnation key_id);

# GET /audit beyond the matrix cell: other tenants, the whole ledger, bad
# parameters. Each case: [label, actor, query, status, decision, reason|field].
my @AUDIT_EXTRAS = (
    [ 'auditor A asks for tenant B',      'auditor_A',      "?tenant_id={B}", 403, 'deny', 'actor of tenant {A} may not act on tenant {B}' ],
    [ 'auditor A asks for the whole ledger', 'auditor_A',   '',               403, 'deny', 'audit.read of all tenants requires platform_admin of realm platform' ],
    [ 'tenant_admin A asks for the whole ledger', 'tenant_admin_A', '',       403, 'deny', 'audit.read of all tenants requires platform_admin of realm platform' ],
    [ 'platform_admin reads the whole ledger', 'platform_admin', '?limit=5', 200, 'allow', $PA ],
    [ 'platform_admin reads tenant B',    'platform_admin', "?tenant_id={B}&limit=1000", 200, 'allow', $PA ],
    [ 'limit 0',                          'platform_admin', '?limit=0',       400, '', 'limit' ],
    [ 'limit 1001',                       'platform_admin', '?limit=1001',    400, '', 'limit' ],
    [ 'limit not a number',               'platform_admin', '?limit=ten',     400, '', 'limit' ],
    [ 'tenant_id not a slug',             'auditor_A',      '?tenant_id=Not_A_Slug', 400, '', 'tenant_id' ],
    [ 'unknown parameter',                'auditor_A',      "?tenant_id={A}&since=1", 400, '', 'since' ],
);

sub audit_extras {
    my ($base, $label, $got) = @_;
    for my $c (@AUDIT_EXTRAS) {
        my ($name, $actor, $query, $want_st, $want_dec, $want) = @$c;
        $_ = s/\{A\}/$A/gr =~ s/\{B\}/$B/gr for $query, $want;
        subtest "$label: GET /audit, $name → $want_st" => sub {
            my $purpose = "e2e 061 $label audit extra $actor " . random_slug('p');
            my ($st, $b, $h) = call(GET => $base, "/audit$query", token => tok($actor), purpose => $purpose);
            is $st, $want_st, "GET /audit$query: HTTP $want_st" or diag explain $b;
            my @rows = ledger_by_purpose($purpose);
            if ($want_st == 400) {
                is $b->{field}, $want, "problem names field $want";
                is scalar(@rows), 0, 'no ledger row: refused before governance';
                $got->{"audit: $name"} = "$st $b->{field}";
                return;
            }
            is types(@rows), 'REQUEST AUTHZ_DECISION', 'ledger: REQUEST AUTHZ_DECISION, no outcome event for a read';
            my ($req) = grep { $_->{event_type} eq 'REQUEST' } @rows;
            my ($dec) = grep { $_->{event_type} eq 'AUTHZ_DECISION' } @rows;
            my $tenant = $query =~ /tenant_id=([^&]+)/ ? $1 : '';
            is $req->{details}{resource}{type}, 'audit', 'REQUEST: resource type audit';
            is $req->{details}{resource}{tenant_id}, $tenant, "REQUEST: resource tenant '$tenant'";
            is $dec->{decision}, $want_dec, "AUTHZ_DECISION $want_dec";
            is $dec->{reason}, $want, "reason: $want";
            like $b->{detail} // '', qr/\Q$want\E/, '403 detail carries the reason' if $st == 403;
            $got->{"audit: $name"} = join ' ', $st, $dec->{decision} // '?', $dec->{reason} // '?';
            return unless $st == 200;
            my @lr = @{ $b->{rows} // [] };
            if ($tenant) {
                ok scalar(@lr) > 0, 'rows returned';
                is_deeply [grep { $_->{tenant_id} ne $tenant } @lr], [], "every row belongs to tenant $tenant";
            } else {
                is scalar(@lr), 5, 'limit=5: five rows';
                is_deeply [map { $_->{seq} } @lr], [$lr[0]{seq} .. $lr[0]{seq} + 4], 'consecutive seqs, oldest first';
                is_deeply [map { $_->{prev_hash} } @lr[1 .. $#lr]], [map { $_->{row_hash} } @lr[0 .. $#lr - 1]],
                    'hash chain: each prev_hash is the row_hash before it';
                is $lr[-1]{request_id}, $h->{'x-request-id'}, 'newest row: this very read';
            }
        };
    }
}

# Resource tenant the REQUEST row must name.
sub resource_tenant {
    my ($action, $path, $json) = @_;
    return $json->{slug} if $action eq 'tenant.create';
    return '' if $action eq 'tenant.list';
    return $path =~ /[?&]tenant_id=([^&]+)/ ? $1 : '' if $action eq 'audit.read';
    return $path =~ m{^/tenants/([^/]+)} ? $1 : '';
}

# Tenant A's tokens may be refused for a few seconds after a disable
# (nginx re-reads the tenant state every few seconds): wait until accepted.
sub wait_tenant_usable {
    my ($base) = @_;
    for (1 .. 60) {
        my ($st) = call(GET => $base, "/tenants/$A", token => tok('tenant_admin_A'), purpose => 'e2e 061 wait for re-enable');
        return 1 if $st == 200;
        select undef, undef, undef, 0.5;
    }
    return 0;
}

# Runs the whole matrix against BASE; returns {action}{actor} → "STATUS decision reason".
sub run_matrix {
    my ($base, $label) = @_;
    my (%got, %state);
    for my $ep (@ENDPOINTS) {
        my ($cell, $method, $path_of, $outcome, $json_of) = @$ep;
        my $action = $cell =~ s/ \(.*\)\z//r;    # "user.read (one)": action user.read
        # platform_admin's PATCH disables tenant A: run it last in its row.
        my @order = $action eq 'tenant.update' ? (@ACTORS[1 .. $#ACTORS], $ACTORS[0]) : @ACTORS;
        for my $actor (@order) {
            my $i = (grep { $ACTORS[$_] eq $actor } 0 .. $#ACTORS)[0];
            my $want = $MATRIX{$cell}[$i] =~ s/\{A\}/$A/gr =~ s/\{B\}/$B/gr;
            my ($want_st, $want_dec, $want_reason) = split / /, $want, 3;
            subtest "$label: $actor × $cell → $want_st" . ($want_dec ? " $want_dec" : '') => sub {
                my $json    = $json_of ? $json_of->($actor, \%state) : undef;
                my $path    = $path_of->($actor, \%state);
                my $purpose = "e2e 061 $label $action $actor " . random_slug('p');
                my ($st, $b, $h) = call($method => $base, $path, token => tok($actor), purpose => $purpose,
                                        $json ? (json => $json) : ());
                is $st, $want_st, "$method $path: HTTP $want_st" or diag explain $b;
                my @rows = ledger_by_purpose($purpose);
                if ($want_st == 401) {
                    is scalar(@rows), 0, 'no ledger row: refused before governance';
                    $got{$cell}{$actor} = "$st";
                    return;
                }
                my $types = 'REQUEST AUTHZ_DECISION' . ($want_dec eq 'allow' && $outcome ? " $outcome" : '');
                is types(@rows), $types, "ledger: $types" or diag explain \@rows;
                my %rids = map { $_->{request_id} => 1 } @rows;
                is scalar(keys %rids), 1, 'one request id on all rows';
                is $rows[0]{request_id}, $h->{'x-request-id'}, 'it is the X-Request-Id of the answer'
                    if $h->{'x-request-id'} && @rows;
                my ($req) = grep { $_->{event_type} eq 'REQUEST' } @rows;
                my ($dec) = grep { $_->{event_type} eq 'AUTHZ_DECISION' } @rows;
                is $req->{details}{action}, $action, 'REQUEST: action';
                is $req->{details}{resource}{tenant_id}, resource_tenant($action, $path, $json), 'REQUEST: resource tenant';
                is $req->{actor_realm}, $REALM{$actor}, 'REQUEST: actor realm';
                is $dec->{decision}, $want_dec, "AUTHZ_DECISION $want_dec";
                is $dec->{reason}, $want_reason, "reason: $want_reason";
                like $b->{detail} // '', qr/\Q$want_reason\E/, '403 detail carries the reason' if $st == 403;
                $got{$cell}{$actor} = join ' ', $st, $dec->{decision} // '?', $dec->{reason} // '?';

                # What the allowed calls did.
                if ($action eq 'tenant.list' && $st == 200) {
                    my @ids = sort map { $_->{tenant_id} } @{ $b->{tenants} // [] };
                    if ($actor eq 'platform_admin') {
                        ok((grep { $_ eq $A } @ids) && (grep { $_ eq $B } @ids), 'platform_admin sees A and B');
                    } else {
                        my $own = $actor =~ /_B\z/ ? $B : $A;
                        is_deeply \@ids, [$own], "only its own tenant ($own)";
                    }
                }
                if ($action eq 'tenant.read' && $st == 200) { is $b->{tenant_id}, $A, 'tenant A read' }
                if ($action eq 'audit.read' && $st == 200) {
                    my @lr = @{ $b->{rows} // [] };
                    ok scalar(@lr) > 0, 'ledger rows returned';
                    is_deeply [grep { $_->{tenant_id} ne $A } @lr], [], "every row belongs to tenant A";
                    is_deeply [sort keys %{ $lr[0] // {} }], [@ROW_KEYS], 'row fields';
                    is $lr[-1]{request_id}, $h->{'x-request-id'}, 'newest row: this very read (its AUTHZ_DECISION)';
                    is $lr[-1]{event_type}, 'AUTHZ_DECISION', 'newest row is the decision';
                }
                if ($action eq 'user.create' && $st == 201) {
                    is $rows[2]{details}{username}, $json->{username}, 'USER_CREATED: username';
                    is_deeply $rows[2]{details}{roles}, ['officer'], 'USER_CREATED: roles';
                }
                if ($action eq 'secret.rotate' && $st == 200) {
                    is $b->{rotated}, JSON::PP::true, 'rotated';
                    is $rows[2]{details}{client_id}, 'tenant-services', 'SECRET_ROTATED: client id, no secret';
                }
                if ($action eq 'key.read' && $st == 200) {
                    ok((grep { $_->{alg} eq 'RS256' && $_->{status} eq 'ACTIVE' } @{ $b->{keys} // [] }),
                       'an active RS256 key listed');
                }
                if ($action eq 'key.rotate' && $st == 200) {
                    ok $b->{kid}, "new kid $b->{kid}";
                    is $rows[2]{details}{kid}, $b->{kid}, 'KEY_ROTATED: the new kid';
                    $state{kid} = $b->{kid};
                }
                if ($action eq 'key.retire' && $st == 200) {
                    is $b->{status}, 'PASSIVE', 'the rotated key is passive';
                    is $rows[2]{details}{kid}, $state{kid}, 'KEY_RETIRED: its kid';
                }
                if ($action eq 'tenant.create' && $st == 201) {
                    is $rows[2]{tenant_id}, $json->{slug}, 'TENANT_CREATED names the new tenant';
                    push @cleanup, $json->{slug};
                }
                if ($action eq 'tenant.delete' && $st == 204) {
                    is $rows[2]{tenant_id}, $state{new}, 'TENANT_DELETED names the throwaway tenant';
                    my ($gst) = call(GET => $base, "/tenants/$state{new}", token => tok('platform_admin'), purpose => "$purpose (check)");
                    is $gst, 404, 'throwaway tenant gone';
                }
                if ($action eq 'tenant.update' && $st == 200) {
                    is $b->{status}, 'disabled', 'tenant A disabled';
                    is $rows[2]{details}{status}, 'disabled', 'TENANT_UPDATED: status disabled';
                    my ($rst, $rb) = call(PATCH => $base, "/tenants/$A", token => tok('platform_admin'),
                                          purpose => "$purpose (re-enable)", json => { enabled => JSON::PP::true });
                    is $rst, 200, 're-enabled';
                    is $rb->{status}, 'active', 'tenant A active again';
                    ok wait_tenant_usable($base), "tenant A's tokens accepted again";
                }
                if ($action =~ /^user\.(?!create)/ && $cell ne 'user.read' && $st < 300) {
                    my ($uid) = $path =~ m{/users/([^/?]+)};
                    is $rows[2]{details}{user_id}, $uid, "$action: the event names the user" if $outcome;
                    is $rows[2]{details}{revocation}{subject}, $uid, "$action: a revocation of that user"
                        if $action =~ /^user\.(update|delete|sessions\.revoke)$/;
                    is $b->{user_id}, $uid, 'the user read' if $cell eq 'user.read (one)';
                    if ($action eq 'user.password.reset') {
                        my $pw = $b->{temporary_password} // '';
                        is length $pw, 20, 'a temporary password';
                        my $ledger = join '', map { JSON::PP->new->canonical->encode($_) } @rows;
                        ok index($ledger, $pw) < 0, 'not in the ledger';
                    }
                }
                if ($action eq 'user.read' && $cell eq 'user.read' && $st == 200) {
                    ok ref $b->{users} eq 'ARRAY' && @{ $b->{users} } > 0, 'users listed';
                }
                if ($action eq 'tenant.sessions.revoke' && $st == 200) {
                    is $rows[2]{details}{revocation}{kind}, 'tenant', 'SESSIONS_REVOKED: a tenant revocation';
                    # Every token of tenant A issued so far is revoked: log in again, a second later.
                    delete $tok_cache{$_} for grep { /_A\z/ } keys %tok_cache;
                    select undef, undef, undef, 1.1;
                }
                if ($st == 403) {
                    # Denials change nothing: tenant A is still active.
                    my ($gst, $gb) = call(GET => $base, "/tenants/$A", token => tok('platform_admin'), purpose => "$purpose (check)");
                    is $gb->{status}, 'active', 'tenant A untouched' if $action =~ /^tenant\.(update|delete)$/;
                }
            };
        }
    }
    audit_extras($base, $label, \%got);
    return \%got;
}

my $builtin = run_matrix(gateway(), 'built-in');

# ------------------------------------------------------- the same via OPA ---

my ($opa_pid, $sc_pid);
END { stop($sc_pid); stop($opa_pid) }
ok -x $bin, "sidecar binary $bin" or BAIL_OUT('no sidecar binary (REALM_SIDECAR_BIN)');
my $opa = $ENV{OPA} // `$root/scripts/install-opa.sh 2>/dev/null` =~ s/\s+\z//r;
ok $opa && -x $opa, "OPA at $opa" or BAIL_OUT('OPA not available (scripts/install-opa.sh)');

my $opa_port = free_port();
$opa_pid = spawn("$work/061-opa.log", cmd => [$opa, 'run', '--server', '--addr', "127.0.0.1:$opa_port",
                 '--log-level', 'error', '--skip-version-check', "$root/conf/policy/realm_auth.rego"]);
ok wait_http("http://127.0.0.1:$opa_port/health", 30), "OPA serving realm_auth.rego on :$opa_port" or BAIL_OUT('OPA did not start');
my $sc_port = free_port();
$sc_pid = spawn("$work/061-sidecar-opa.log", cmd => ["$root/scripts/stack/sidecar.sh", 'run', 'serve'],
                REALM_SIDECAR_BIN => $bin, SIDECAR_PORT => $sc_port, POLICY_TIMEOUT_MS => 2000,
                POLICY_URL => "http://127.0.0.1:$opa_port/v1/data/realm_auth/decision");
my $sc2 = "http://127.0.0.1:$sc_port";
ok wait_http("$sc2/healthz", 30), "second sidecar with POLICY_URL on :$sc_port" or BAIL_OUT('sidecar did not start');

my $viaopa = run_matrix($sc2, 'OPA');

subtest 'OPA and built-in: identical statuses, decisions and reasons in every cell' => sub {
    my $cells = 0;
    for my $ep (@ENDPOINTS) {
        for my $actor (@ACTORS) {
            my $cell = $ep->[0];
            is $viaopa->{$cell}{$actor}, $builtin->{$cell}{$actor}, "$actor × $cell";
            $cells++;
        }
    }
    is $cells, 6 * @ENDPOINTS, scalar(@ENDPOINTS) . ' endpoints × 6 actors';
    for my $k (sort grep { /^audit: / } keys %$builtin) {
        is $viaopa->{$k}, $builtin->{$k}, $k;
    }
};

stop($sc_pid);
stop($opa_pid);
undef $sc_pid;
undef $opa_pid;

subtest 'cleanup: tenants deleted through the API' => sub {
    my $tok = operator_token();
    for my $t (splice @cleanup) {
        my ($st) = call(DELETE => gateway(), "/tenants/$t", token => $tok, purpose => 'e2e 061 cleanup');
        ok $st == 204 || $st == 404, "$t deleted (HTTP $st)";
    }
};

done_testing;
