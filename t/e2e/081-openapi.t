#!/usr/bin/perl
# sidecar/openapi.yaml stays true (run `make up`):
#   - a real OpenAPI 3.1 validator (openapi-spec-validator, pinned in
#     scripts/deps/python-requirements.txt) accepts it;
#   - its paths and methods are exactly the router's table
#     (sidecar/src/api/routes.cc, api_routes());
#   - the running sidecar (its loopback port) routes every one of them
#     (no 404 "no resource", no 405) and answers 405 for a method the
#     spec does not list.
#   prove -It/e2e/lib t/e2e/081-openapi.t
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use HTTP::Tiny;
use JSON::PP;
use Test::More;
use E2E::Stack qw(root env);

my $root = root();
my $spec = "$root/sidecar/openapi.yaml";
chomp(my $bin = `$root/scripts/install-pytools.sh`);
ok -x "$bin/openapi-spec-validator", 'validator installed' or BAIL_OUT('no pytools');

my $out = `"$bin/openapi-spec-validator" "$spec" 2>&1`;
is $?, 0, 'openapi-spec-validator accepts sidecar/openapi.yaml' or diag $out;
my $json = `"$bin/python" -c 'import json,sys,yaml; d=yaml.safe_load(open(sys.argv[1])); print(json.dumps({"openapi":d["openapi"],"paths":{p:sorted(k for k in v if k in ("get","put","post","patch","delete","head","options")) for p,v in d["paths"].items()}}))' "$spec"`;
my $doc = decode_json($json);
like $doc->{openapi}, qr/^3\.1\./, 'OpenAPI 3.1';
my %spec_ops = map { my $p = $_; map { (uc($_) . " $p" => 1) } @{ $doc->{paths}{$p} } } keys %{ $doc->{paths} };

open my $fh, '<', "$root/sidecar/src/api/routes.cc" or die $!;
my $src = do { local $/; <$fh> };
my %router_ops;
$router_ops{"$1 $2"} = 1 while $src =~ /\{"(GET|POST|PUT|PATCH|DELETE)",\s*"([^"]+)"/g;
cmp_ok scalar(keys %router_ops), '>=', 20, 'routes.cc table parsed (' . scalar(keys %router_ops) . ' routes)';
is_deeply [sort keys %spec_ops], [sort keys %router_ops], 'the spec lists exactly the router\'s routes'
    or diag explain { only_in_spec => [grep { !$router_ops{$_} } sort keys %spec_ops],
                      only_in_router => [grep { !$spec_ops{$_} } sort keys %router_ops] };

# The running sidecar routes each (no token: 401, or the route's own answer).
my $ua = HTTP::Tiny->new(timeout => 30);
my $base = 'http://127.0.0.1:' . env('SIDECAR_PORT');
my %sample = (tenant_id => 'e2e-openapi-none', user_id => '00000000-0000-0000-0000-000000000000',
              kid => 'no-such-kid');
for my $op (sort keys %spec_ops) {
    my ($method, $path) = split / /, $op, 2;
    (my $url = $path) =~ s/\{(\w+)\}/$sample{$1}/g;
    my $res = $ua->request($method, "$base$url", { headers => { 'Content-Type' => 'application/json' },
                                                    content => ($method eq 'GET' ? '' : '{}') });
    my $routed = $res->{status} != 405
        && !($res->{status} == 404 && ($res->{content} // '') =~ /no resource at/);
    ok $routed, "$op is routed by the sidecar ($res->{status})" or diag $res->{content};
    my %listed = map { $_ => 1 } @{ $doc->{paths}{$path} };
    my ($other) = grep { !$listed{lc $_} } qw(PUT DELETE PATCH POST GET);
    $res = $ua->request($other, "$base$url");
    is $res->{status}, 405, "$other $path (not in the spec) is 405";
}

done_testing;
