#!/usr/bin/perl
# Every answer on the API paths is application/problem+json (RFC 9457),
# including the ones nginx gives itself (run `make up`):
#   401/403 from the module (WWW-Authenticate kept), 413 for a 2 MB body
#   (and no [error] line in nginx's log for it), 429 from limit_req,
#   the same 413 for bodies sent chunked (no Content-Length) on every
#   location of the shipped config, refused before the whole body was
#   sent and with no [error] line either,
#   404/405 for unknown paths and methods, 502/504 when the sidecar is down
#   or hangs, and no error text that names a library's internals.
# Each case runs against a private nginx rendered from the stack's config
# (its own ports, logs and pid; the stack's module, Redis and Keycloak), so
# its error log holds only this suite's requests.
#   prove -It/e2e/lib t/e2e/080-problem-json.t
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use File::Temp qw(tempdir);
use HTTP::Tiny;
use JSON::PP;
use Test::More;
use E2E::Stack qw(root env token random_slug require_keycloak);
use E2E::Sidecar qw(operator_token require_sidecar create_tenant delete_tenant new_active_user);
use IO::Select;
use IO::Socket::INET;
use E2E::Util qw(free_port stop);
use E2E::Outage qw(hung_listener);

require_keycloak();
require_sidecar();
my $op = operator_token() or BAIL_OUT('no operator token');
my $ua = HTTP::Tiny->new(timeout => 30);
my $work = tempdir('e2e-080-XXXX', TMPDIR => 1, CLEANUP => 1);
chmod 0755, $work;

# A copy of the stack's rendered nginx.conf with its own listen port, state
# and, if given, another sidecar port; started with nginx -p. (port, dir)
my @masters;
sub private_nginx {
    my ($name, %o) = @_;
    my $state = env('STATE_DIR') . '/nginx';
    open my $in, '<', "$state/nginx.conf" or BAIL_OUT("no rendered nginx.conf (make up): $!");
    my $conf = do { local $/; <$in> };
    my $dir = "$work/$name";
    mkdir $dir;
    mkdir "$dir/$_" for qw(tmp empty);
    mkdir "$dir/tmp/$_" for qw(client_body proxy fastcgi uwsgi scgi);
    system('chown', '-R', 'www-data', "$dir/tmp") if $> == 0;
    my ($port, $bport) = (free_port(), free_port());
    my ($nport, $sport, $kport) = (env('NGINX_PORT'), env('SIDECAR_PORT'), env('BACKEND_PORT'));
    $conf =~ s/\Q$state\E/$dir/g;
    $conf =~ s/listen 127\.0\.0\.1:$nport;/listen 127.0.0.1:$port;/ or die 'no listen';
    $conf =~ s/listen 127\.0\.0\.1:$kport;/listen 127.0.0.1:$bport;/ or die 'no backend listen';
    $conf =~ s/server 127\.0\.0\.1:$kport;/server 127.0.0.1:$bport;/;
    $conf =~ s/(server [^:\s]+):$sport;/$1:$o{sidecar_port};/ if $o{sidecar_port};
    my $kc = env('KEYCLOAK_URL');
    $conf =~ s{(\n\s*location / \{)}{
        location = /probe-403 {
            auth_realm on;
            auth_realm_issuer $kc/realms/platform;
            auth_realm_audience realm-sidecar;
            auth_realm_require_role no-such-role-e2e;
            try_files /.realm-auth-verified =204;
        }$1} or die 'no location /';
    # A small burst: nginx's own 429 comes before the sidecar's bucket (60).
    my $burst = $o{burst} // 5;
    $conf =~ s/zone=realm_actor burst=80 nodelay;/zone=realm_actor burst=$burst nodelay;/ or die 'no limit_req';
    $conf =~ s/proxy_read_timeout 120s;/proxy_read_timeout $o{read_timeout};/ if $o{read_timeout};
    open my $out, '>', "$dir/nginx.conf" or die $!;
    print $out $conf;
    close $out;
    system('nginx', '-q', '-p', $dir, '-c', "$dir/nginx.conf") == 0 or BAIL_OUT("private nginx $name");
    push @masters, "$dir/nginx.pid";
    for (1 .. 50) { last if -s "$dir/nginx.pid"; select undef, undef, undef, 0.1 }
    return ("http://127.0.0.1:$port", $dir);
}
END {
    for my $pf (@masters) {
        open my $fh, '<', $pf or next;
        my $pid = <$fh>;
        kill 'QUIT', $pid + 0 if $pid;
    }
}

# One request: the problem document checked for shape. Returns the response.
sub problem_ok {
    my ($name, $method, $url, $code, %o) = @_;
    my $res = $ua->request($method, $url, { headers => $o{headers} // {},
                                            (defined $o{content} ? (content => $o{content}) : ()) });
    subtest $name => sub {
        is $res->{status}, $code, "status $code" or diag substr($res->{content} // '', 0, 300);
        is $res->{headers}{'content-type'}, 'application/problem+json', 'Content-Type';
        my $p = eval { decode_json($res->{content}) };
        ok ref $p eq 'HASH', 'body is a JSON object' or return diag $res->{content};
        is $p->{status}, $code, 'status member';
        ok defined $p->{title} && length $p->{title}, 'title';
        ok defined $p->{detail} && length $p->{detail}, 'detail';
        like $p->{request_id} // '', qr/^[0-9a-f]{32}$/, 'request_id';
        is $p->{type} // 'about:blank', 'about:blank', 'type';
        unlike $res->{content}, qr/JSON_ALLOW_NUL|jansson|libpq|PQ[a-z]|curl|<html/i,
            'no library internals, no HTML';
    };
    return $res;
}

sub detail_of { my ($res) = @_; my $p = eval { decode_json($res->{content}) }; return ref $p eq "HASH" ? $p->{detail} // "" : "" }

my ($gw, $dir) = private_nginx('gw');
my $slug = random_slug('e2ep');

# 401 without a token, and with a bad one: the module's RFC 6750 header.
my $r = problem_ok('401 no token', GET => "$gw/tenants", 401);
like $r->{headers}{'www-authenticate'} // '', qr/^Bearer\b/, 'WWW-Authenticate kept (no token)';
$r = problem_ok('401 bad token', GET => "$gw/tenants", 401,
                headers => { Authorization => 'Bearer a.b.c' });
like $r->{headers}{'www-authenticate'} // '', qr/^Bearer .*error="invalid_token"/,
    'WWW-Authenticate error="invalid_token" kept';
like detail_of($r), qr/\(error=invalid_token\)/, 'detail names the RFC 6750 error';
problem_ok('401 on /audit', GET => "$gw/audit", 401);

# 403 from the module: the private copy adds a location that requires a
# role nobody has (an authorization rule refuses after verification).
$r = problem_ok('403 from the module (require_role)', GET => "$gw/probe-403", 403,
                headers => { Authorization => "Bearer $op" });
like $r->{headers}{'www-authenticate'} // '', qr/^Bearer .*error="insufficient_scope"/,
    'WWW-Authenticate error="insufficient_scope" kept';
like detail_of($r), qr/\(error=insufficient_scope\)/, 'detail names it';
$r = problem_ok('401 platform token on /api/', GET => "$gw/api/whoami", 401,
                headers => { Authorization => "Bearer $op", 'X-Purpose' => 'e2e' });
like $r->{headers}{'www-authenticate'} // '', qr/^Bearer /, 'WWW-Authenticate on /api/';

# 2 MB body: 413 problem+json before authentication, and no [error] line.
my $big = '{"slug":"' . ('a' x (2 * 1024 * 1024)) . '"}';
my $errlog = "$dir/error.log";
my $before = -s $errlog // 0;
problem_ok('413 for a 2 MB body', POST => "$gw/tenants", 413,
           headers => { Authorization => "Bearer $op", 'X-Purpose' => 'e2e',
                        'Content-Type' => 'application/json' }, content => $big);
problem_ok('413 for a 2 MB body, no token', POST => "$gw/tenants", 413,
           headers => { 'Content-Type' => 'application/json' }, content => $big);
problem_ok('413 on back-channel logout (> 16 KiB)', POST => "$gw/backchannel-logout/$slug", 413,
           headers => { 'Content-Type' => 'application/x-www-form-urlencoded' },
           content => 'logout_token=' . ('a' x 20000));
select undef, undef, undef, 0.3;
open my $el, '<', $errlog or die $!;
seek $el, $before, 0;
my @errors = grep { /\[(error|crit|alert|emerg)\]/ } <$el>;
is scalar @errors, 0, 'no [error] line in the error log for the large bodies' or diag @errors;

# 64 KiB exactly still reaches the sidecar (the limit is > 65536, not >=).
$r = $ua->request(POST => "$gw/tenants", { headers => { Authorization => "Bearer $op",
    'X-Purpose' => 'e2e', 'Content-Type' => 'application/json' },
    content => '{"x":"' . ('a' x (65536 - 8)) . '"}' });
isnt $r->{status}, 413, 'a body of exactly 64 KiB is not refused by nginx';
is $r->{headers}{'content-type'}, 'application/problem+json', '… the sidecar answers problem+json';

# Bodies without Content-Length (Transfer-Encoding: chunked) and bodies
# with one, on every location of the shipped config: each answer is
# problem+json, over-limit bodies get 413 wherever the body would be read,
# the server answers before the client has sent the body (nothing buffered
# beyond the limit) and none of it writes an [error] line.
# raw_post(BASE, PATH, LENGTH, chunked => 0|1, headers => {...}) →
# { status, headers, content, sent } (sent: body bytes written before the
# answer arrived; the client stops sending once nginx has answered).
sub raw_post {
    my ($base, $path, $len, %o) = @_;
    my ($host, $port) = $base =~ m{^http://([^:/]+):(\d+)} or die "bad base $base";
    my $s = IO::Socket::INET->new(PeerAddr => $host, PeerPort => $port, Timeout => 10)
        or die "connect $base: $!";
    my $head = "POST $path HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        . "Content-Type: application/json\r\n"
        . join('', map { "$_: $o{headers}{$_}\r\n" } sort keys %{ $o{headers} // {} })
        . ($o{chunked} ? "Transfer-Encoding: chunked\r\n" : "Content-Length: $len\r\n") . "\r\n";
    local $SIG{PIPE} = 'IGNORE';
    syswrite $s, $head or die "write: $!";
    my $sel = IO::Select->new($s);
    my ($sent, $piece) = (0, 'a' x 16384);
    while ($sent < $len && !$sel->can_read(0)) {
        my $n = $len - $sent < 16384 ? $len - $sent : 16384;
        my $data = $o{chunked} ? sprintf("%x\r\n%s\r\n", $n, substr($piece, 0, $n)) : substr($piece, 0, $n);
        last unless defined syswrite $s, $data;
        $sent += $n;
    }
    syswrite $s, "0\r\n\r\n" if $o{chunked} && $sent >= $len;
    my $buf = '';
    while ($sel->can_read(15)) {
        my $n = sysread $s, $buf, 65536, length $buf;
        last unless $n;
        if ($buf =~ /\r\n\r\n/ && $buf =~ /^Content-Length: *(\d+)/mi) {
            my $need = index($buf, "\r\n\r\n") + 4 + $1;
            last if length $buf >= $need;
        }
    }
    close $s;
    my ($hdr, $body) = split /\r\n\r\n/, $buf, 2;
    my ($status) = ($hdr // '') =~ m{^HTTP/1\.\d (\d{3})};
    my %h = map { /^([^:]+):\s*(.*)$/ ? (lc $1 => $2) : () } split /\r\n/, $hdr // '';
    return { status => $status // 0, headers => \%h, content => $body // '', sent => $sent };
}

sub raw_problem_ok {
    my ($name, $res, $code) = @_;
    subtest $name => sub {
        is $res->{status}, $code, "status $code" or diag substr($res->{content}, 0, 300);
        is $res->{headers}{'content-type'}, 'application/problem+json', 'Content-Type';
        my $p = eval { decode_json($res->{content}) };
        ok ref $p eq 'HASH', 'body is a JSON object' or return diag $res->{content};
        is $p->{status}, $code, 'status member';
        like $p->{request_id} // '', qr/^[0-9a-f]{32}$/, 'request_id';
        unlike $res->{content}, qr/<html/i, 'no HTML';
    };
}

# A tenant user's token for /api/ (tenant issuer, tenant-services audience).
my $tslug = random_slug('e2eb');
my ($tst, $tbody) = create_tenant($op, $tslug);
is $tst, 201, 'tenant for /api/ created' or BAIL_OUT(explain $tbody);
my (undef, $tpw) = new_active_user($op, $tslug, 'bodies');
my $tenant_tok = token("tenant-$tslug", 'admin-console', user => 'bodies', password => $tpw)
    or BAIL_OUT('tenant user cannot log in');
my %optok = (Authorization => "Bearer $op", 'X-Purpose' => 'e2e');
my %ttok = (Authorization => "Bearer $tenant_tok", 'X-Purpose' => 'e2e');

my $BIG = 64 * 1024 * 1024;    # 64 MiB offered; a refusal comes long before
# Its own copy: many calls of one actor, which the burst of 5 would refuse.
my ($bgw, $bdir) = private_nginx('bodies', burst => 1000);
my $berrlog = "$bdir/error.log";
my $before_b = -s $berrlog // 0;
for my $case (
    # [ name, path, headers, limit ]: every location that reads a body
    [ '/tenants', '/tenants', \%optok, 65536 ],
    [ '/tenants (tenant token)', "/tenants/$tslug/users", \%ttok, 65536 ],
    [ '/audit', '/audit', \%optok, 65536 ],
    [ '/backchannel-logout/', "/backchannel-logout/$tslug", {}, 16384 ],
    [ '/api/', '/api/orders', \%ttok, 65536 ],
) {
    my ($name, $path, $hdrs, $limit) = @$case;
    for my $chunked (1, 0) {
        my $how = $chunked ? 'chunked' : 'Content-Length';
        my $r = raw_post($bgw, $path, $BIG, chunked => $chunked, headers => $hdrs);
        raw_problem_ok("$name: $how body over the limit → 413", $r, 413);
        cmp_ok $r->{sent}, '<', 16 * 1024 * 1024, "$name: $how refused before the body was sent ($r->{sent} bytes)";
        $r = raw_post($bgw, $path, $limit + 1, chunked => $chunked, headers => $hdrs);
        raw_problem_ok("$name: $how body of limit + 1 ($limit + 1) → 413", $r, 413);
    }
    my $r = raw_post($bgw, $path, $limit, chunked => 1, headers => $hdrs);
    isnt $r->{status}, 413, "$name: a chunked body of exactly the limit ($limit) is not refused by nginx";
}
# Locations that never read a body answer without it (and discard it);
# with a Content-Length over the limit they refuse it first.
for my $case ([ '/', 405 ], [ '/console/console.js', 405 ], [ '/console/config.json', 200 ],
              [ '/nothing-here', 404 ], [ '/api/whoami', 401 ], [ '/tenants', 401 ]) {
    my ($path, $code) = @$case;
    my $r = raw_post($bgw, $path, $BIG, chunked => 1);
    is $r->{status}, $code, "$path: chunked body, no token → $code";
    raw_problem_ok("$path: chunked → problem+json", $r, $code) if $code >= 400;
    $r = raw_post($bgw, $path, $BIG, chunked => 0);
    raw_problem_ok("$path: Content-Length over the limit → 413", $r, 413);
}
select undef, undef, undef, 0.3;
open $el, '<', $berrlog or die $!;
seek $el, $before_b, 0;
@errors = grep { /\[(error|crit|alert|emerg)\]/ } <$el>;
is scalar @errors, 0, 'no [error] line in the error log for chunked or over-limit bodies'
    or diag @errors;
delete_tenant($op, $tslug);

# 404 / 405.
problem_ok('404 unknown path', GET => "$gw/nothing-here", 404);
problem_ok('404 unknown tenant path (sidecar)', GET => "$gw/tenants/$slug/nothing", 404,
           headers => { Authorization => "Bearer $op", 'X-Purpose' => 'e2e' });
problem_ok('405 unknown method (sidecar)', PUT => "$gw/tenants", 405,
           headers => { Authorization => "Bearer $op", 'X-Purpose' => 'e2e' });
problem_ok('405 GET on back-channel logout', GET => "$gw/backchannel-logout/$slug", 405);

# Library-neutral parse errors: a NUL in a string names no jansson flag.
$r = problem_ok('400 NUL in a JSON string', POST => "$gw/tenants", 400,
                headers => { Authorization => "Bearer $op", 'X-Purpose' => 'e2e',
                             'Content-Type' => 'application/json' },
                content => '{"slug":"a\u0000b"}');
like detail_of($r), qr/\\u0000/, 'detail says what is wrong';

# 429 from nginx's limit_req (this copy: burst 5 on @realm_sidecar).
my $seen429;
for (1 .. 40) {
    my $x = $ua->request(GET => "$gw/tenants/zz-no-such", { headers => {
        Authorization => "Bearer $op", 'X-Purpose' => 'e2e' } });
    if ($x->{status} == 429) { $seen429 = $_; last }
}
ok $seen429, 'limit_req refused the flood' . ($seen429 ? " after $seen429 calls" : '');
$r = problem_ok('429 from limit_req', GET => "$gw/tenants/zz-no-such", 429,
                headers => { Authorization => "Bearer $op", 'X-Purpose' => 'e2e' });
like $r->{content}, qr/"detail":"rate limit exceeded; retry later"/, '… nginx\'s own (not the sidecar\'s)';

# 502: sidecar down (nothing listens on its port).
my ($down) = private_nginx('down', sidecar_port => free_port());
problem_ok('502 sidecar down', GET => "$down/tenants", 502,
           headers => { Authorization => "Bearer $op", 'X-Purpose' => 'e2e' });

# 504: sidecar hangs (a listener that never answers, read timeout 2s).
my $hlog = "$work/hung.log";
my ($hpid, $hport) = hung_listener($hlog);
my ($hung) = private_nginx('hung', sidecar_port => $hport, read_timeout => '2s');
problem_ok('504 sidecar hangs', GET => "$hung/tenants", 504,
           headers => { Authorization => "Bearer $op", 'X-Purpose' => 'e2e' });
stop($hpid);

done_testing;
