#!/usr/bin/perl
# Provisioning at the realm counts where Keycloak is known to slow down
# (issue 13 item 5; its own issues report admin slowdowns from 300 to 1,000
# realms), on the running local stack (`make up`), through nginx with real
# tokens (nginx → realm-sidecar → Keycloak):
#
#   perl bench/provisioning-scale.pl [--tenants 500] [--points 1,100,300,500]
#        [--parallel 2] [--users 3] [--out FILE.md] [--full-token]
#
# At each measured point k (the k-th tenant this run creates; nothing else
# runs meanwhile) it times, client side:
#   - POST /tenants for tenant k (alone),
#   - POST /tenants/k/users, --users times (median and max),
#   - the provisioner's own token (client_credentials, as the sidecar gets
#     it): its size in bytes, and one Admin API call with it
#     (GET /admin/realms/<realm k>: what each provisioner call of the
#     sidecar pays),
#   - GET /admin/realms?briefRepresentation=true with that token: what
#     listing every realm costs (the sidecar does this in its background
#     reconcile only, never on a request), and the realm count it returns.
# The tenants between two points ("filler") are created through the same
# sidecar, --parallel at a time, untimed except in total. Every HTTP status
# is counted; a 431 or a timeout (HTTP::Tiny's 599) makes the run fail.
# Tenants are kept (the realm count is the point); `make clean-state`
# starts over.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/e2e/lib";
use Getopt::Long;
use POSIX qw(strftime);
use Time::HiRes qw(time);
use E2E::Stack qw(env secret http_json token);
use E2E::Sidecar qw(api operator_token);

my %o = (tenants => 500, points => '1,100,300,500', parallel => 2, users => 3, out => '');
GetOptions(\%o, 'tenants=i', 'points=s', 'parallel=i', 'users=i', 'out=s', 'full-token!') or die "bad options\n";
my @points = sort { $a <=> $b } grep { $_ <= $o{tenants} } split /,/, $o{points};
die "no measured point within --tenants $o{tenants}\n" unless @points;
my $run = sprintf 'pb%04x', int(rand(0xffff));
my $kc  = env('KEYCLOAK_URL');
my %status;  # "what HTTP" => count, every call
my $t_start = time;

sub note { printf STDERR "%s %s\n", strftime('%H:%M:%S', gmtime), join '', @_ }
sub slug_of { sprintf '%s-%04d', $run, $_[0] }
sub count { my ($what, $st) = @_; $status{"$what $st"}++; return $st }
sub median { my @s = sort { $a <=> $b } @_; return @s ? $s[$#s / 2] : 0 }

# One operator login per few minutes (tokens live 5). Logins never run
# at once: two password grants for the same user within a second trip the
# platform realm's brute-force detection (user_temporarily_disabled for a
# minute). The parent logs in before it forks; worker w renews after
# $max_age - 30 * w seconds, and a refused login is retried after that
# minute.
my ($tok, $tok_at, $worker) = (undef, 0, 0);
sub op_token {
    my ($max_age) = @_;
    $max_age //= 240 - 30 * $worker;
    return $tok if $tok && time - $tok_at <= $max_age;
    for my $try (1 .. 3) {
        my $t = operator_token();
        if ($t) { ($tok, $tok_at) = ($t, time); return $tok }
        sleep 65 if $try < 3;
    }
    die "no operator token\n";
}

sub create_tenant {
    my ($i) = @_;
    my $t0 = time;
    my ($st, $b) = api(POST => '/tenants', token => op_token(), purpose => 'benchmark',
                       json => { slug => slug_of($i), display_name => "Bench $i", departments => ['ops'] });
    return ($st, time - $t0, ref $b ? $b->{detail} // '' : substr($b // '', 0, 200));
}

sub add_user {
    my ($i, $n) = @_;
    my $name = "user$n";
    my $t0 = time;
    my ($st, $b) = api(POST => '/tenants/' . slug_of($i) . '/users', token => op_token(), purpose => 'benchmark',
                       json => { username => $name, email => "$name\@bench.localhost", first_name => 'Bench',
                                 last_name => "User $n", roles => ['officer'] });
    return ($st, time - $t0, ref $b ? $b->{detail} // '' : '');
}

# Filler tenants [from, to], --parallel processes each taking every Pth.
sub filler {
    my ($from, $to) = @_;
    return if $from > $to;
    my $t0 = time;
    my @kids;
    op_token(60);  # fresh for the workers
    for my $w (0 .. $o{parallel} - 1) {
        pipe(my $r, my $wr) or die "pipe: $!";
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            close $r;
            $worker = $w;
            my %mine;
            for (my $i = $from + $w; $i <= $to; $i += $o{parallel}) {
                my ($st, $dt, $why) = create_tenant($i);
                $mine{"POST /tenants (filler) $st"}++;
                warn "filler tenant $i: HTTP $st $why\n" unless $st == 201;
            }
            print $wr join("\n", map { "$_\t$mine{$_}" } keys %mine), "\n";
            close $wr;
            POSIX::_exit(0);
        }
        close $wr;
        push @kids, [$pid, $r];
    }
    for my $k (@kids) {
        my $fh = $k->[1];
        while (my $l = <$fh>) { chomp $l; my ($key, $n) = split /\t/, $l; $status{$key} += $n if $key }
        waitpid $k->[0], 0;
        $status{'filler worker died (exit ' . ($? >> 8) . ')'}++ if $?;
    }
    my $n = $to - $from + 1;
    note sprintf 'filler %d..%d: %d tenants in %.0f s (%.2f s each, %d at a time)', $from, $to, $n,
        time - $t0, (time - $t0) / $n, $o{parallel};
}

# The sidecar's own Keycloak calls so far (its /metrics, loopback): every
# Admin API and token call, the background reconcile's included.
sub kc_calls {
    my (undef, $m) = http_json(GET => 'http://127.0.0.1:' . env('SIDECAR_PORT') . '/metrics');
    my ($n, $s) = (0, 0);
    for (split /\n/, $m // '') {
        $n += $1 if /^realm_sidecar_keycloak_request_duration_seconds_count\S* (\S+)/;
        $s += $1 if /^realm_sidecar_keycloak_request_duration_seconds_sum\S* (\S+)/;
    }
    return ($n, $s, time);
}

my @rows;
my $done = 0;
my @kc0 = kc_calls();
for my $k (@points) {
    filler($done + 1, $k - 1);
    my @kc1 = kc_calls();
    my $seg_min = ($kc1[2] - $kc0[2]) / 60;
    my $kc_rate = $seg_min > 0 ? ($kc1[0] - $kc0[0]) / $seg_min : 0;
    my $kc_mean = $kc1[0] > $kc0[0] ? ($kc1[1] - $kc0[1]) / ($kc1[0] - $kc0[0]) : 0;
    my ($cst, $cdt, $why) = create_tenant($k);
    count('POST /tenants', $cst);
    die "tenant $k: HTTP $cst $why\n" unless $cst == 201;
    my (@udt, @ust);
    for my $n (1 .. $o{users}) {
        my ($st, $dt, $uwhy) = add_user($k, $n);
        count('POST /tenants/{id}/users', $st);
        die "tenant $k user $n: HTTP $st $uwhy\n" unless $st == 201;
        push @udt, $dt;
        push @ust, $st;
    }
    my $t0 = time;
    my $prov = token('master', env('PROVISIONER_CLIENT_ID'), secret => secret('provisioner.secret'))
        // die "no provisioner token at tenant $k\n";
    my $tok_s = time - $t0;
    $t0 = time;
    my ($gst) = http_json(GET => "$kc/admin/realms/tenant-" . slug_of($k), token => $prov);
    my $get_s = time - $t0;
    count('provisioner GET /admin/realms/{realm}', $gst);
    $t0 = time;
    my ($lst, $list) = http_json(GET => "$kc/admin/realms?briefRepresentation=true", token => $prov);
    my $list_s = time - $t0;
    count('provisioner GET /admin/realms', $lst);
    my $realms = ref $list eq 'ARRAY' ? scalar @$list : '?';
    push @rows, { k => $k, create => $cdt, user_med => median(@udt), user_max => (sort { $b <=> $a } @udt)[0],
                  bytes => length $prov, tok_s => $tok_s, get_s => $get_s, get_st => $gst,
                  list_s => $list_s, list_st => $lst, realms => $realms, kc_rate => $kc_rate, kc_mean => $kc_mean,
                  statuses => "$cst; " . join(',', @ust) . "; $gst; $lst" };
    note sprintf 'tenant %d: create %.2f s, add-user median %.2f s, provisioner token %d bytes, '
        . 'GET realm %.2f s, list %s realms %.2f s', $k, $cdt, median(@udt), length $prov, $get_s, $realms, $list_s;
    $done = $k;
    @kc0 = kc_calls();
}

# What the lightweight access token saves: at the last point, the same
# client's token with lightweight tokens switched off for a moment (by the
# bootstrap admin; switched back right after, also on failure), its size and
# what Keycloak answers to it.
my ($full, $roles) = ('', '');
# The bootstrap admin's password as the stack scripts resolve it (never printed).
sub admin_password {
    return $ENV{KEYCLOAK_ADMIN_PASSWORD} if defined $ENV{KEYCLOAK_ADMIN_PASSWORD};
    my $common = "$FindBin::Bin/../scripts/stack/common.sh";
    my $pw = `COMPONENT=bench bash -c '. "\$1"; printf %s "\$KEYCLOAK_ADMIN_PASSWORD"' _ '$common'`;
    return $pw;
}
sub set_lightweight {
    my ($adm, $cid, $on) = @_;
    my ($st, $c) = http_json(GET => "$kc/admin/realms/master/clients/$cid", token => $adm);
    die "reading the provisioner client: HTTP $st\n" unless $st == 200 && ref $c;
    $c->{attributes}{'client.use.lightweight.access.token.enabled'} = $on ? 'true' : 'false';
    ($st) = http_json(PUT => "$kc/admin/realms/master/clients/$cid", token => $adm, json => $c);
    die "setting lightweight=$on on the provisioner client: HTTP $st\n" unless $st == 204;
}
if ($o{'full-token'}) {
    my $adm = token('master', 'admin-cli', user => env('KEYCLOAK_ADMIN_USER'), password => admin_password())
        // die "no bootstrap admin token\n";
    my ($st, $list) = http_json(GET => "$kc/admin/realms/master/clients?clientId=" . env('PROVISIONER_CLIENT_ID'), token => $adm);
    my $cid = ref $list eq 'ARRAY' && @$list ? $list->[0]{id} : die "no provisioner client (HTTP $st)\n";
    set_lightweight($adm, $cid, 0);
    my $ft = eval { token('master', env('PROVISIONER_CLIENT_ID'), secret => secret('provisioner.secret')) };
    my ($fst) = $ft ? http_json(GET => "$kc/admin/realms/tenant-" . slug_of($points[-1]), token => $ft) : (0);
    set_lightweight($adm, $cid, 1);
    # The roles the service account holds: create-realm, plus what Keycloak
    # granted it as the creator of each realm (that realm's <realm>-realm
    # client roles in master).
    my (undef, $sa) = http_json(GET => "$kc/admin/realms/master/clients/$cid/service-account-user", token => $adm);
    my (undef, $maps) = http_json(GET => "$kc/admin/realms/master/users/$sa->{id}/role-mappings", token => $adm);
    my @realm_roles = map { $_->{name} } @{ $maps->{realmMappings} // [] };
    my $cm = $maps->{clientMappings} // {};
    my $client_roles = 0;
    $client_roles += scalar @{ $cm->{$_}{mappings} // [] } for keys %$cm;
    $roles = sprintf "The provisioner's service account then held the realm roles [%s] and %d client roles "
        . "of %d `<realm>-realm` clients.\n", join(', ', @realm_roles), $client_roles, scalar keys %$cm;
    $full = sprintf "\nThe same client's token with lightweight access tokens off (switched off for this one "
        . "check at %d tenants, then on again): %s bytes; Keycloak answered GET /admin/realms/{realm} with it: HTTP %s.\n",
        $points[-1], $ft ? length $ft : 'no token,', $fst;
    note $full, $roles;
}

my $total = time - $t_start;
# The listing of every realm is reported, not judged: the sidecar does not
# make that call on any request or in its periodic pass.
my @bad = grep { !/^provisioner GET \/admin\/realms / && (/\s(431|599)$/ || / 5\d\d$/ || /died/) } keys %status;
my $md = '';
$md .= "| tenant # | create s | add-user s (median / max of $o{users}) | provisioner token bytes | "
     . "provisioner token s | provisioner GET realm s | list all realms s | realms listed (tenant realms; + master, platform) | sidecar → Keycloak calls/min, mean s (since last point) | HTTP statuses |\n";
$md .= "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n";
for my $r (@rows) {
    $md .= sprintf "| %d | %.2f | %.2f / %.2f | %d | %.3f | %.3f | %.2f | %s | %.0f, %.3f | %s |\n", $r->{k}, $r->{create},
        $r->{user_med}, $r->{user_max}, $r->{bytes}, $r->{tok_s}, $r->{get_s}, $r->{list_s}, $r->{realms},
        $r->{kc_rate}, $r->{kc_mean}, $r->{statuses};
}
$md .= sprintf "\n%d tenants created in %.0f s (run `%s`, %d at a time between the measured points). "
    . "Statuses of every call:\n\n", $o{tenants} >= $points[-1] ? $points[-1] : $o{tenants}, $total, $run, $o{parallel};
$md .= join '', map { "- $_: $status{$_}\n" } sort keys %status;
$md .= "\nNo 431, no timeout, no 5xx.\n" unless @bad;
$md .= $full . ($roles ? "\n$roles" : '');
$md .= "\n**Failures: @bad**\n" if @bad;
if ($o{out}) {
    open my $fh, '>', $o{out} or die "$o{out}: $!";
    print $fh $md;
    close $fh;
}
print $md;
exit(@bad ? 1 : 0);
