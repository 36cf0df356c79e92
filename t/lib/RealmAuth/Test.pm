package RealmAuth::Test;

# Glue between the module suites and Test::Nginx::Socket (ours in t/lib/mini
# or the real one). In a suite:
#
#   use Test::Nginx::Socket 'no_plan';
#   use RealmAuth::Test;
#
# This starts the fake issuer once for the file (stopped at exit), makes
# every block load the module (a preprocessor prepends
# `load_module $TEST_NGINX_REALM_AUTH_MODULE;` to --- main_config), and
# exports the issuer helpers (token, bearer, ...) to the suite and to
# Test::Base's `eval` filter, so `--- more_headers eval` can call them.
#
# Extra block sections (checked after the block's last request):
#   --- issuer_fetches     lines "<realm or /path> [op] N": requests the
#                          issuer received for that realm's JWKS (or path)
#                          during this block; op is = (default), <=, >=
#   --- backend_hits: N    requests that reached the /echo/ upstream
#   --- status_json        lines "<dotted.key> [op] N" checked against the
#                          JSON body of the last response (auth_realm_status)
#   --- status_prometheus  lines "<series> [op] N" checked against the last
#                          response parsed as Prometheus text by the official
#                          client's parser (scripts/check-metrics.py, which
#                          also checks the naming and histogram rules);
#                          <series> is name{label="v",...}, labels sorted.
#                          An absent series fails.
#   --- fresh_more_headers Perl code run when the block starts (not when the
#                          file is parsed, like `--- more_headers eval`); its
#                          value becomes --- more_headers. For tokens whose
#                          timing matters (about to expire).
# and one checked after every request:
#   --- reason             the refusal the module must log at info for this
#                          request: "realm_auth: token refused: <reason>"
#                          (alternatives as "a|b"); for several requests an
#                          eval array where undef means "no refusal logged".
#                          Unlike --- error_log, it only reads the lines
#                          logged during that request.
#
# Environment for configs: TEST_NGINX_REALM_AUTH_MODULE (default
# build/modules/ngx_http_realm_auth_module.so of this checkout),
# TEST_NGINX_ISSUER (http://127.0.0.1:<port>), TEST_NGINX_ISSUER_PORT,
# TEST_NGINX_CLOSED_PORT (a port nothing listens on),
# TEST_NGINX_BLACKHOLE_PORT (a port that accepts connections and never
# answers, like a hung server), TEST_NGINX_REDIS_HMAC_KEY_FILE (a fleet key
# for auth_realm_redis hmac_key_file=).

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use IO::Socket::INET;
use JSON::PP ();
use Test::More ();

use RealmAuth::Prometheus qw(parse_prometheus);
use RealmAuth::Redis ();
use RealmAuth::Issuer qw(:all);

our @HELPERS = (@RealmAuth::Issuer::EXPORT_OK, qw(auth block_defaults));

sub module_path {
    my $root = abs_path(dirname(__FILE__) . '/../../..');
    return $ENV{TEST_NGINX_REALM_AUTH_MODULE}
        ||= "$root/build/modules/ngx_http_realm_auth_module.so";
}

# "Authorization: Bearer <token>" for a token built elsewhere.
sub auth { 'Authorization: Bearer ' . $_[0] }

sub free_port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Proto => 'tcp', Listen => 1, ReuseAddr => 1)
        or die "no free port: $!";
    my $p = $s->sockport;
    close $s;
    return $p;
}

# block_defaults(config => '...', request => 'GET /api/x', ...): sections a
# block gets when it does not define them itself. A code ref value is
# called with the block and returns the section's value.
sub block_defaults {
    my (%defaults) = @_;
    Test::Nginx::Socket::add_block_preprocessor(sub {
        my ($block) = @_;
        for my $section (keys %defaults) {
            next if defined $block->$section;
            my $v = $defaults{$section};
            $block->set_value($section, ref $v eq 'CODE' ? $v->($block) : $v);
        }
    });
}

my $JSON = JSON::PP->new;
my $started;
our $BLACKHOLE;

my $no_module = 0;

# `use RealmAuth::Test 'no_module';` is for the harness self-tests only:
# plain nginx configs, no load_module.
sub import {
    my ($class, @flags) = @_;
    my $caller = caller;
    $no_module = 1 if grep { $_ eq 'no_module' } @flags;
    no strict 'refs';
    for my $name (@HELPERS) {
        *{"${caller}::$name"} = \&{$name};
        *{"Test::Base::Filter::$name"} = \&{$name};
    }
    return if $started++;

    my $so = module_path();
    $no_module or Test::More::BAIL_OUT("realm-auth module not found at $so: run `make build` "
        . "or set TEST_NGINX_REALM_AUTH_MODULE") unless -f $so;

    # Test::Base evaluates every `eval` section when the file is parsed, so
    # tokens are minted minutes before the last block runs (the real
    # Test::Nginx needs ~2 s a block): give them an hour unless a test says
    # otherwise (exp_in => ...; --- fresh_more_headers for tight timing).
    $RealmAuth::Issuer::EXP_IN = 3600;
    start_issuer();
    # the realms most blocks use exist from the start, with all algorithms
    ensure_realm($_) for qw(tenant-a tenant-b platform);
    $ENV{TEST_NGINX_CLOSED_PORT} ||= free_port();
    # listening but never accepting: the kernel completes the handshake,
    # then nothing is ever read or written
    $BLACKHOLE = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                       Proto => 'tcp', Listen => 128)
        or die "blackhole socket: $!";
    $ENV{TEST_NGINX_BLACKHOLE_PORT} = $BLACKHOLE->sockport;
    $ENV{TEST_NGINX_REDIS_HMAC_KEY_FILE} ||= RealmAuth::Redis::scratch_key_file();

    Test::Nginx::Socket::add_block_preprocessor(\&_preprocess);
    Test::Nginx::Socket::add_response_body_check(\&_check_counters);
}

# Load the module, and note the counters the block's checks will compare.
sub _preprocess {
    my ($block) = @_;
    _check_evals($block);
    if (defined(my $code = $block->fresh_more_headers)) {
        my $v = eval "package Test::Base::Filter; $code";
        die $block->name . " - --- fresh_more_headers failed: $@" if $@;
        $block->set_value(more_headers => $v);
    }
    my $main = $block->main_config // '';
    $block->set_value(main_config => "load_module $ENV{TEST_NGINX_REALM_AUTH_MODULE};\n$main")
        unless $no_module || $main =~ /ngx_http_realm_auth_module/;

    my %base;
    for my $c (_counter_specs($block->issuer_fetches)) {
        $base{ $c->{what} } = _fetches($c->{what});
    }
    $base{'@echo'} = echo_hits() if defined $block->backend_hits;
    $block->{_realm_baseline} = \%base;
    $block->{_realm_log_pos} = 0;    # nginx starts each block with a new log
}

# Lines added to the block's error.log since the last call.
sub _new_log_lines {
    my ($block) = @_;
    my $file = Test::Nginx::Socket::server_root() . '/logs/error.log';
    open my $fh, '<', $file or return [];
    seek $fh, $block->{_realm_log_pos} // 0, 0;
    my @lines = <$fh>;
    $block->{_realm_log_pos} = tell $fh;
    return \@lines;
}

sub _check_reason {
    my ($block, $req_idx) = @_;
    my $spec = $block->reason;
    return unless defined $spec;
    my $want = ref $spec eq 'ARRAY' ? $spec->[$req_idx] : $spec;
    my $name = $block->name;
    my $lines = _new_log_lines($block);
    if (!defined $want) {
        my @hit = grep { /realm_auth: token refused/ } @$lines;
        Test::More::ok(!@hit, "$name - no refusal logged (req $req_idx)")
            or Test::More::diag(join '', @hit);
        return;
    }
    $want =~ s/^\s+|\s+$//g;
    my @hit = grep { /\[info\] .*realm_auth: token refused: (?:$want)\b/ } @$lines;
    Test::More::ok(scalar @hit, "$name - refusal \"$want\" logged at info (req $req_idx)")
        or Test::More::diag("refusal lines logged during this request:\n",
                            map { "  $_" } grep { /realm_auth/ } @$lines);
    # REALM_AUTH_SHOW_REASONS=1: which of the accepted reasons was logged
    Test::More::diag("$name: $1") if $ENV{REALM_AUTH_SHOW_REASONS} && @hit
        && $hit[0] =~ /token refused: (\w+)/;
}

# Test::Base's eval filter turns a Perl error into the section's value
# (a request header saying "syntax error at (eval 12)..."). Make it loud.
sub _check_evals {
    my ($block) = @_;
    my $map = $block->_section_map || {};
    for my $section (sort keys %$map) {
        next unless ($map->{$section}{filters} // '') =~ /\beval\b/;
        for my $v ($block->$section) {
            for my $item (ref $v eq 'ARRAY' ? @$v : ($v)) {
                next unless defined $item && !ref $item && $item =~ / at \(eval \d+\) line \d+/;
                Test::More::fail($block->name . " - --- $section eval failed: $item");
            }
        }
    }
}

sub _fetches {
    my ($what) = @_;
    return $what =~ m{^/} ? fetch_count_path($what) : fetch_count($what);
}

sub _counter_specs {
    my ($text) = @_;
    return () unless defined $text;
    my @specs;
    for my $line (split /\n/, $text) {
        next unless $line =~ /\S/;
        $line =~ /^\s*(\S+)\s*(=|==|<=|>=|<|>)?\s*(\d+)\s*$/
            or die "bad counter line: $line\n";
        push @specs, { what => $1, op => $2 // '==', n => $3 };
    }
    return @specs;
}

sub _cmp {
    my ($got, $op, $want) = @_;
    return $got == $want if $op eq '=' || $op eq '==';
    return eval "$got $op $want";
}

sub _check_counters {
    my ($block, $body, $req_idx, $rep, $dry_run) = @_;
    _check_reason($block, $req_idx);
    my $reqs = ref $block->request eq 'ARRAY' ? scalar @{ $block->request } : 1;
    return if $req_idx != $reqs - 1 || $rep != Test::Nginx::Socket::repeat_each() - 1;
    my $name = $block->name;
    my $base = $block->{_realm_baseline} || {};

    for my $c (_counter_specs($block->issuer_fetches)) {
        my $got = _fetches($c->{what}) - ($base->{ $c->{what} } // 0);
        Test::More::ok(_cmp($got, $c->{op}, $c->{n}),
            "$name - issuer fetches for $c->{what}: $got $c->{op} $c->{n}");
    }

    if (defined(my $want = $block->backend_hits)) {
        $want =~ s/\s+//g;
        my $got = echo_hits() - ($base->{'@echo'} // 0);
        Test::More::is($got, $want, "$name - requests that reached the backend");
    }

    if (defined(my $spec = $block->status_prometheus)) {
        my ($series, $err) = parse_prometheus($body);
        Test::More::ok($series, "$name - status body parses as Prometheus text")
            or Test::More::diag("$err\n" . ($body // ''));
        for my $line (split /\n/, $spec) {
            next unless $line =~ /\S/;
            $line =~ /^\s*(\S+)\s*(=|==|<=|>=|<|>)?\s*(\d+(?:\.\d+)?)\s*$/
                or die "bad status_prometheus line: $line\n";
            my ($key, $op, $n) = ($1, $2 // '==', $3);
            my $got = $series ? $series->{$key} : undef;
            Test::More::ok(defined $got && _cmp($got, $op, $n),
                "$name - metric $key: " . ($got // 'absent') . " $op $n");
        }
    }

    if (defined(my $spec = $block->status_json)) {
        my $doc = eval { $JSON->decode($body // '') };
        Test::More::ok($doc, "$name - status body is JSON") or Test::More::diag($body);
        for my $line (split /\n/, $spec) {
            next unless $line =~ /\S/;
            $line =~ /^\s*(\S+)\s*(=|==|<=|>=|<|>)?\s*(\d+)\s*$/
                or die "bad status_json line: $line\n";
            my ($path, $op, $n) = ($1, $2 // '==', $3);
            my $v = $doc;
            for my $k (split /\./, $path) { $v = ref $v eq 'HASH' ? $v->{$k} : undef }
            # an absent counter counts as zero (e.g. a refusal never seen)
            my $got = defined $v && !ref $v ? $v : (defined $v ? 'not a number' : 0);
            Test::More::ok($got =~ /^\d+$/ && _cmp($got, $op, $n),
                "$name - status $path: $got $op $n");
        }
    }
}

1;
