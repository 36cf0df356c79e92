#!/usr/bin/perl
# Every answer on the API paths is application/problem+json (RFC 9457),
# including the ones nginx gives itself (run `make up`):
#   401/403 from the module (WWW-Authenticate kept), 413 for a 2 MB body
#   (and no [error] line in nginx's log for it), 429 from limit_req,
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
use E2E::Sidecar qw(operator_token require_sidecar);
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
    $conf =~ s/zone=realm_actor burst=80 nodelay;/zone=realm_actor burst=5 nodelay;/ or die 'no limit_req';
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
