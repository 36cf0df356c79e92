#!/usr/bin/perl
# scripts/docs/check-reference.py notices drift: on a copy of the tracked
# tree it passes; then each change below (one at a time, on a fresh copy's
# file) must make it exit 1 and name the problem. Seconds, no build.
#   prove t/docs/010-check-reference.t
use strict;
use warnings;
use File::Temp qw(tempdir);
use FindBin;
use Test::More;

my $root = "$FindBin::Bin/../..";
my $tmp = tempdir(CLEANUP => 1);
system("cd '$root' && git ls-files -z | xargs -0 cp --parents -t '$tmp' 2>/dev/null") == 0
    or BAIL_OUT('cannot copy the tracked tree');
system("cd '$tmp' && git init -q && git add -A") == 0 or BAIL_OUT('git init');

sub check {
    my $out = `cd '$tmp' && python3 scripts/docs/check-reference.py 2>&1`;
    return ($? >> 8, $out);
}

my ($rc, $out) = check();
is $rc, 0, 'the tree as committed passes' or diag $out;

# Each case: a name, a file, an edit of its text ($_ holds it; returns true
# when it applied) and the line(s) the check must print.
my @cases = (
    ['a directive without its row', 'docs/MODULE.md', sub { s/^\| `auth_realm_jwks_stale time`.*\n//m },
     qr/^directives: auth_realm_jwks_stale is in ngx_realm_auth\/src/m],
    ['a context dropped', 'docs/MODULE.md', sub { s/(\| `auth_realm_leeway time` \| http, server), location/$1/ },
     qr/^directives: auth_realm_leeway: contexts/m],
    ['an argument count', 'docs/MODULE.md',
     sub { s/`auth_realm_token_max_size size`/`auth_realm_token_max_size size …`/ },
     qr/^directives: auth_realm_token_max_size takes 1 argument/m],
    ['a variable the module does not register', 'docs/MODULE.md',
     sub { s/^(\| `\$realm_email` .*\n)/$1| `\$realm_phone` | phone |\n/m },
     qr/^variables: \$realm_phone is in docs/m],
    ['a client text changed in code', 'ngx_realm_auth/core/status.cc',
     sub { s/\{"expired", "token expired"\}/{"expired", "token has expired"}/ },
     qr/^reasons: expired: the client text/m],
    ['used_pages in the status example', 'docs/MODULE.md', sub { s/"pages":/"used_pages":/ },
     qr/^status: zone\.used_pages is in docs\/MODULE\.md Status JSON example/m],
    ['a status member the table lacks', 'ngx_realm_auth/src/zone.cc',
     sub { s/",\\"free_pages\\":"/",\\"spare_pages\\":" + std::to_string(free_pages) + ",\\"free_pages\\":"/ },
     qr/^status: zone\.spare_pages is in ngx_realm_auth\/src\/zone\.cc/m],
    ['a sidecar setting nobody documented', 'sidecar/src/config.cc',
     sub { s/(  if \(has\("JWKS_TTL"\))/  if (has("FOO_BAR")) return false;\n$1/ },
     qr/^settings: FOO_BAR is in the sidecar's sources but not in docs\/CONFIGURATION\.md.*\n^settings: FOO_BAR is in the sidecar's sources but not in realm-sidecar --help/m],
    ['a setting --help forgets', 'sidecar/src/main.cc', sub { s/  JWKS_TTL \(300 s\)  /  / },
     qr/^settings: JWKS_TTL is in the sidecar's sources but not in realm-sidecar --help/m],
    ['a flag the docs do not show', 'sidecar/src/main.cc',
     sub { s/a == "--help" \|\| a == "-h"/a == "--help" || a == "-h" || a == "--verbose"/ },
     qr/^flags: --verbose \(sidecar\/src\/main\.cc\) is not in docs/m],
    ['a route the docs do not list', 'sidecar/src/api/routes.cc',
     sub { s/(      \{"GET", "\/audit", bind\(app, read_audit\)\},)/$1\n      {"GET", "\/audit\/export", bind(app, read_audit)},/ },
     qr/^routes: GET \/audit\/export is in sidecar\/src\/api\/routes\.cc but not in docs\/API\.md/m],
    ['a stale path in a comment', 'ngx_realm_auth/src/zone.cc', sub { s/\A/\/\/ see docs\/NOPE.md and t\/module\/999\n/ },
     qr/^comment-paths: ngx_realm_auth\/src\/zone\.cc:1: docs\/NOPE\.md does not exist\n^comment-paths: ngx_realm_auth\/src\/zone\.cc:1: t\/module\/999 does not exist/m],
    ['a broken section link', 'docs/IDENTITY_CONTRACT.md', sub { s/\(MODULE\.md#jwks-tiers\)/(MODULE.md#jwks-tier)/ },
     qr/^links: docs\/IDENTITY_CONTRACT\.md: \(MODULE\.md#jwks-tier\): docs\/MODULE\.md has no section #jwks-tier/m],
);

for my $c (@cases) {
    my ($name, $file, $edit, $want) = @$c;
    system("cd '$tmp' && git checkout -q -- .") == 0 or die 'git checkout';
    open my $in, '<:raw', "$tmp/$file" or die "$file: $!";
    local $_ = do { local $/; <$in> };
    close $in;
    ok $edit->(), "$name: the edit applies to $file" or next;
    open my $o, '>:raw', "$tmp/$file" or die $!;
    print $o $_;
    close $o;
    ($rc, $out) = check();
    is $rc, 1, "$name: the check fails";
    like $out, $want, "$name: and says so" or diag $out;
}

done_testing;
