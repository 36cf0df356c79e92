#!/usr/bin/perl
# Property-based API fuzzing driven by sidecar/openapi.yaml (Schemathesis,
# pinned in scripts/deps/python-requirements.txt), against the running
# sidecar through the stack's nginx with a real platform operator token
# (run `make up`):
#   - no 5xx, every status, Content-Type, header and body as the spec says;
#   - bounded: positive data only (negative data could name any tenant),
#     FUZZ_EXAMPLES (5) examples per operation, FUZZ_SECONDS (120) for the
#     whole run, one worker, 4 requests/s (under the per-actor rate limits);
#     derandomized (--generation-deterministic: the same cases every run);
#   - confined: the fuzzer's copy of the spec allows only tenant slugs
#     fz-a … fz-c, so it can create, change and delete those and nothing
#     else (a bystander tenant, the demo tenant and other suites' tenants are
#     checked untouched);
#   - afterwards nothing is half-created: the fz-* tenants it made are
#     deleted through the API and `realm-sidecar reconcile --check` is clean.
#   prove -It/e2e/lib t/e2e/082-api-fuzz.t
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use File::Temp qw(tempdir);
use JSON::PP;
use Test::More;
use E2E::Stack qw(root env random_slug require_keycloak);
use E2E::Sidecar qw(api gateway operator_token create_tenant delete_tenant sidecar_cli require_sidecar);

require_keycloak();
require_sidecar();
my $root = root();
chomp(my $bin = `$root/scripts/install-pytools.sh`);
ok -x "$bin/schemathesis", 'schemathesis installed' or BAIL_OUT('no pytools');
my $op = operator_token() or BAIL_OUT('no operator token');
my $work = tempdir('e2e-082-XXXX', TMPDIR => 1, CLEANUP => !$ENV{KEEP});

my $tenants = sub {
    my ($st, $b) = api(GET => '/tenants', token => operator_token());
    return $st == 200 ? { map { ($_->{tenant_id} => $_->{status}) } @{ $b->{tenants} } } : undef;
};
# A bystander: a tenant of its own the fuzzer must leave alone.
my $bystander = random_slug('e2ef');
my ($cst) = create_tenant($op, $bystander);
is $cst, 201, "bystander tenant $bystander created" or BAIL_OUT('no bystander');
my $before = $tenants->() or BAIL_OUT('cannot list tenants');
my @others = grep { !/^fz-/ } sort keys %$before;

# The fuzzer's spec: the real one with the Slug schema narrowed.
my $spec = "$work/openapi-fuzz.yaml";
system("$bin/python", '-c', <<'PY', "$root/sidecar/openapi.yaml", $spec) == 0 or BAIL_OUT('fuzz spec');
import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
d["components"]["schemas"]["Slug"] = {"type": "string", "pattern": "^fz-[a-c]$"}
yaml.safe_dump(d, open(sys.argv[2], "w"), sort_keys=False)
PY

my $examples = $ENV{FUZZ_EXAMPLES} // 5;
my $seconds = $ENV{FUZZ_SECONDS} // 120;
my @cmd = ("$bin/schemathesis", 'run', $spec, '--url', gateway(),
           '--header', "Authorization: Bearer $op",
           '--mode', 'positive', '--phases', 'examples,coverage,fuzzing',
           '--max-examples', $examples, '--max-time', $seconds,
           '--generation-deterministic', '--workers', 1, '--rate-limit', '4/s',
           '--request-timeout', 120, '--no-color',
           '--exclude-path-regex', '^/(status|readyz|healthz|metrics)$',
           '--checks', join(',', qw(not_a_server_error status_code_conformance content_type_conformance
                                    response_headers_conformance response_schema_conformance)),
           '--report', 'junit', '--report-dir', $work, '--output-sanitize', 'true');
my $log = "$work/schemathesis.log";
# From the scratch directory: Schemathesis keeps a cache in its working one.
my $rc = system("cd '$work' && " . join(' ', map { "'$_'" } @cmd) . " >'$log' 2>&1");
open my $fh, '<', $log or die $!;
my $out = do { local $/; <$fh> };
$out =~ s/\Q$op\E/[token]/g;
is $rc, 0, 'schemathesis: no failure (no 5xx, every response as the spec says)' or diag $out;
my ($summary) = $out =~ /(=+ [^\n]*(?:passed|failed|error)[^\n]* =+)/;
diag $summary // substr($out, -600);
unlike $out, qr/No operations|0 operations/i, 'operations were exercised';

# Confinement: every other tenant is still there, in its state.
my $after = $tenants->() or BAIL_OUT('cannot list tenants');
is_deeply { map { ($_ => $after->{$_}) } @others }, { map { ($_ => $before->{$_}) } @others },
    'tenants other than fz-* untouched (' . scalar(@others) . ')';

# Clean up what it created, then nothing may be half-done.
for my $t (grep { /^fz-/ } sort keys %$after) {
    my ($st, $b) = api(DELETE => "/tenants/$t", token => operator_token(), purpose => "e2e cleanup");
    ok $st == 204 || $st == 404, "fuzz tenant $t deleted ($st)" or diag explain $b;
}
is delete_tenant(operator_token(), $bystander), 204, 'bystander deleted';
my $left = $tenants->();
is_deeply [grep { /^fz-/ } sort keys %$left], [], 'no fz-* tenant left';
my ($crc, @cout) = sidecar_cli("reconcile", "--check");
is $crc, 0, 'realm-sidecar reconcile --check: no drift' or diag @cout;

done_testing;
