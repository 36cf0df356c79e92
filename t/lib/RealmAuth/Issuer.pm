package RealmAuth::Issuer;

# A fake Keycloak for the module tests: one process that signs tokens for
# any number of realms and an HTTP server that publishes their JWKS at
#   GET /realms/<realm>/protocol/openid-connect/certs
# exactly where the module looks for them.
#
# Everything the server does is driven by files in a state directory, so the
# test process can change a realm's behaviour (delay, outage, garbage body,
# rotated keys) between requests without talking to the server:
#
#   realms/<realm>/jwks.json   the document served
#   realms/<realm>/delay       seconds to sleep before answering
#   realms/<realm>/down        "close" (drop the connection) or "503"
#   realms/<realm>/body        raw body served instead of jwks.json
#   files/<path>               any other GET path (attacker JWKS for jku/x5u)
#   counts/<path>              one line appended per request to that path
#   echo.log                   one line per request to the /echo/ backend
#
# The server forks per connection, so a slow realm never blocks another.
# It also serves /echo/<anything>: a stand-in upstream that answers with the
# x-* request headers it received, so tests see what nginx forwarded.

use strict;
use warnings;

use Exporter 'import';
use Carp qw(croak);
use Cwd qw(abs_path);
use Digest::MD5 qw(md5_hex);
use Digest::SHA qw(sha256);
use File::Basename qw(dirname);
use File::Path qw(make_path remove_tree);
use File::Temp qw(tempdir);
use JSON::PP ();
use POSIX ();
use Time::HiRes qw(sleep);

use Crypt::JWT qw(encode_jwt);
use Crypt::Misc qw(encode_b64u decode_b64u);
use Crypt::PK::ECC;
use Crypt::PK::Ed25519;
use Crypt::PK::RSA;
use HTTP::Daemon;
use HTTP::Response;

our @EXPORT_OK = qw(
    start_issuer stop_issuer issuer_url issuer_port issuer_state_dir
    realm_iss ensure_realm realm_kid realm_key realm_jwks user_id
    token bearer claims sign_raw raw_token b64u stranger_key jwk_of
    set_delay set_down set_body serve_file rotate_key
    fetch_count fetch_count_path echo_hits reset_issuer
    certs_path ALGORITHMS
);
our %EXPORT_TAGS = (all => \@EXPORT_OK);

use constant ALGORITHMS =>
    qw(RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512 EdDSA);

# Which pool of keys an algorithm draws from.
my %KEY_TYPE = (
    (map { ($_ => 'rsa') } qw(RS256 RS384 RS512 PS256 PS384 PS512)),
    ES256 => 'p256', ES384 => 'p384', ES512 => 'p521', EdDSA => 'ed25519',
);

my $JSON = JSON::PP->new->canonical->utf8;

my ($STATE, $PORT, $SERVER_PID, $OWNER_PID);
my %REALMS;        # realm => { keys => [ {alg kid key jwk use} ... ] }
my %NEXT_POOL;     # key type => next index in the on-disk key pool

# ---------------------------------------------------------------- keys ---

# Generating RSA keys costs ~0.1 s each and a suite needs dozens, so keys
# come from a pool cached on disk (t/servroot-keys, ignored by git). Each
# key is handed out once per process, which keeps realms' keys distinct.
sub _key_dir {
    return $ENV{REALM_AUTH_KEY_CACHE} if $ENV{REALM_AUTH_KEY_CACHE};
    my $t = abs_path(dirname(__FILE__) . '/../..');    # t/
    return "$t/servroot-keys";
}

sub _generate {
    my ($type) = @_;
    return Crypt::PK::RSA->new->generate_key(256, 65537) if $type eq 'rsa';
    return Crypt::PK::Ed25519->new->generate_key if $type eq 'ed25519';
    my %curve = (p256 => 'secp256r1', p384 => 'secp384r1', p521 => 'secp521r1');
    return Crypt::PK::ECC->new->generate_key($curve{$type});
}

sub _load {
    my ($type, $file) = @_;
    return Crypt::PK::RSA->new($file) if $type eq 'rsa';
    return Crypt::PK::Ed25519->new($file) if $type eq 'ed25519';
    return Crypt::PK::ECC->new($file);
}

sub _pool_key {
    my ($type) = @_;
    my $dir = _key_dir();
    make_path($dir);
    my $n = $NEXT_POOL{$type}++;
    my $file = "$dir/$type-$n.pem";
    my $key = -s $file ? eval { _load($type, $file) } : undef;
    return $key if $key;
    $key = _generate($type);
    # write-then-rename: parallel test files may fill the pool at once
    my $tmp = "$file.$$.tmp";
    open my $fh, '>', $tmp or croak "cannot write $tmp: $!";
    print $fh $key->export_key_pem('private');
    close $fh;
    rename $tmp, $file or croak "rename $tmp: $!";
    return $key;
}

# Public JWK of a key, Keycloak style: kid, kty, alg, use (+ n/e or crv/x/y).
sub jwk_of {
    my ($key, $alg, $use) = @_;
    my $jwk = $key->export_key_jwk('public', 1);
    $jwk->{kid} = _thumbprint($jwk);
    $jwk->{alg} = $alg;
    $jwk->{use} = $use // 'sig';
    return $jwk;
}

# RFC 7638 thumbprint (CryptX has none for Ed25519): SHA-256 over the
# required members in lexicographic order. Used as kid, like many IdPs do.
sub _thumbprint {
    my ($jwk) = @_;
    my @members = $jwk->{kty} eq 'RSA' ? qw(e kty n)
                : $jwk->{kty} eq 'EC'  ? qw(crv kty x y)
                :                        qw(crv kty x);
    my $canon = '{' . join(',', map { qq("$_":"$jwk->{$_}") } @members) . '}';
    return encode_b64u(sha256($canon));
}

# A key that belongs to no realm (wrong-key and attacker tests).
# Returns ($private_key, $public_jwk).
sub stranger_key {
    my ($alg) = @_;
    $alg //= 'RS256';
    my $key = _pool_key($KEY_TYPE{$alg} // croak "unknown alg $alg");
    return ($key, jwk_of($key, $alg));
}

# ------------------------------------------------------------- realms ---

sub issuer_url  { $ENV{TEST_NGINX_ISSUER} // croak 'issuer not started' }
sub issuer_port { $PORT }
sub issuer_state_dir { $STATE }
sub realm_iss   { issuer_url() . '/realms/' . $_[0] }
sub certs_path  { "/realms/$_[0]/protocol/openid-connect/certs" }

# Creates a realm with one signing key per algorithm (all ten unless
# algs => [...] says otherwise) and Keycloak's RSA-OAEP encryption key.
sub ensure_realm {
    my ($realm, %opt) = @_;
    return $REALMS{$realm} if $REALMS{$realm};
    my @algs = @{ $opt{algs} || [ALGORITHMS] };
    my $r = $REALMS{$realm} = { keys => [] };
    for my $alg (@algs) {
        my $key = _pool_key($KEY_TYPE{$alg} // croak "unknown alg $alg");
        push @{ $r->{keys} }, { alg => $alg, key => $key, jwk => jwk_of($key, $alg) };
    }
    my $enc = _pool_key('rsa');
    push @{ $r->{keys} },
        { alg => 'RSA-OAEP', key => $enc, jwk => jwk_of($enc, 'RSA-OAEP', 'enc') };
    _write_jwks($realm) if $STATE;
    return $r;
}

# Newest signing key of the realm for that algorithm.
sub _active {
    my ($realm, $alg) = @_;
    my $r = ensure_realm($realm);
    for my $k (reverse @{ $r->{keys} }) {
        return $k if $k->{alg} eq $alg;
    }
    croak "realm $realm has no $alg key";
}

sub realm_kid  { _active($_[0], $_[1] // 'RS256')->{jwk}{kid} }
sub realm_key  { _active($_[0], $_[1] // 'RS256')->{key} }
sub realm_jwks { +{ keys => [ map { $_->{jwk} } @{ ensure_realm($_[0])->{keys} } ] } }

sub _realm_dir {
    my ($realm) = @_;
    croak 'issuer not started' unless $STATE;
    my $dir = "$STATE/realms/$realm";
    make_path($dir);
    return $dir;
}

sub _write_file {
    my ($file, $content) = @_;
    # rename makes the swap atomic for a server child reading concurrently
    open my $fh, '>', "$file.tmp" or croak "cannot write $file: $!";
    print $fh $content;
    close $fh;
    rename "$file.tmp", $file or croak "rename $file: $!";
}

sub _write_jwks {
    my ($realm) = @_;
    _write_file(_realm_dir($realm) . '/jwks.json', $JSON->encode(realm_jwks($realm)));
}

# New signing key (new kid) for one algorithm, published immediately.
# The old key stays in the JWKS (Keycloak keeps rotated keys as passive)
# unless drop_old => 1. Returns the new kid.
sub rotate_key {
    my ($realm, %opt) = @_;
    my $alg = $opt{alg} // 'RS256';
    my $r = ensure_realm($realm);
    @{ $r->{keys} } = grep { $_->{alg} ne $alg } @{ $r->{keys} } if $opt{drop_old};
    my $key = _pool_key($KEY_TYPE{$alg});
    my $jwk = jwk_of($key, $alg);
    push @{ $r->{keys} }, { alg => $alg, key => $key, jwk => $jwk };
    _write_jwks($realm);
    return $jwk->{kid};
}

sub _set_or_clear {
    my ($file, $value) = @_;
    if (defined $value && $value ne '' && $value ne '0') {
        _write_file($file, $value);
    } else {
        unlink $file;
    }
}

# set_delay('tenant-slow', 3): sleep 3 s before answering (0 clears).
sub set_delay { _set_or_clear(_realm_dir($_[0]) . '/delay', $_[1]) }

# set_down('tenant-x', 'close' | '503'); set_down('tenant-x', 0) clears.
sub set_down { _set_or_clear(_realm_dir($_[0]) . '/down', $_[1]) }

# set_body('tenant-x', 'not json'): serve this instead of the JWKS (undef clears).
sub set_body { _set_or_clear(_realm_dir($_[0]) . '/body', $_[1]) }

# serve_file('/attacker/certs', $json): any other path the server should answer.
sub serve_file {
    my ($path, $content) = @_;
    my $file = "$STATE/files$path";
    make_path(dirname($file));
    _write_file($file, $content);
}

sub _count_file { "$STATE/counts/" . _count_key($_[0]) }
sub _count_key { my $p = shift; $p =~ s{[^A-Za-z0-9._-]}{_}g; $p }

sub _lines {
    my ($file) = @_;
    open my $fh, '<', $file or return 0;
    my $n = 0;
    $n++ while defined(my $line = <$fh>);    # not <$fh> alone: that clobbers $_
    return $n;
}

# Requests received for a path (counted on arrival, before any delay).
sub fetch_count_path { _lines(_count_file($_[0])) }

# JWKS fetches received for a realm.
sub fetch_count { fetch_count_path(certs_path($_[0])) }

# Requests that reached the /echo/ upstream.
sub echo_hits { _lines("$STATE/echo.log") }

# Forget delays, outages, bodies and counters; republish every JWKS.
sub reset_issuer {
    remove_tree("$STATE/counts", "$STATE/files");
    unlink "$STATE/echo.log";
    make_path("$STATE/counts", "$STATE/files");
    for my $realm (keys %REALMS) {
        my $dir = _realm_dir($realm);
        unlink "$dir/delay", "$dir/down", "$dir/body";
        _write_jwks($realm);
    }
}

# ------------------------------------------------------------- tokens ---

# (copy first: CryptX's XS ignores magic, e.g. a substr() passed directly)
sub b64u { my ($data) = @_; encode_b64u($data) }

# Stable UUID-looking subject per (realm, user), like Keycloak user ids.
sub user_id {
    my ($realm, $user) = @_;
    my $h = md5_hex("$realm/" . ($user // 'alice'));
    return join '-', substr($h, 0, 8), substr($h, 8, 4), '4' . substr($h, 13, 3),
        '8' . substr($h, 17, 3), substr($h, 20, 12);
}

# Default token lifetime, Keycloak's 300 s. Block suites raise it (see
# RealmAuth::Test): they mint every token when the file is parsed.
our $EXP_IN = 300;

my $SEQ = 0;
sub _uuid { user_id('jti', $$ . '-' . time . '-' . $SEQ++) }

# The claims of a Keycloak access token for `username` in `realm`.
sub _default_claims {
    my (%a) = @_;
    my $realm = $a{realm};
    my $user  = $a{username} // 'alice';
    my $now   = time;
    my %c = (
        exp => $now + ($a{exp_in} // $EXP_IN),
        iat => $now,
        auth_time => $now,
        jti => _uuid(),
        iss => $a{iss} // realm_iss($realm),
        sub => user_id($realm, $user),
        typ => 'Bearer',
        azp => 'admin-console',
        session_state => _uuid(),
        sid => _uuid(),
        acr => '1',
        'allowed-origins' => ['http://localhost:3000'],
        realm_access => {
            roles => [ "default-roles-$realm", 'offline_access', 'uma_authorization',
                       @{ $a{roles} // ['officer'] } ],
        },
        resource_access => {
            account => { roles => [qw(manage-account manage-account-links view-profile)] },
        },
        scope => 'openid profile email',
        email_verified => JSON::PP::true,
        name => ucfirst($user) . ' Example',
        preferred_username => $user,
        given_name => ucfirst($user),
        family_name => 'Example',
        email => "$user\@example.com",
    );
    $c{aud} = $a{aud} if defined $a{aud};
    return \%c;
}

# A signed access token. Options:
#   realm     'tenant-a' (default)       issuer realm (iss, default claims)
#   alg       'RS256' (default)
#   username  'alice'; roles => [...] (custom realm roles, default ['officer'])
#   aud       string or array
#   exp_in    seconds until exp (default $EXP_IN; negative for expired tokens)
#   iss       iss override
#   claims    { name => value } merged over the defaults; undef deletes
#   header    { name => value } merged over {typ, kid}; undef deletes
#   kid       kid override
#   sign_realm  realm whose key and kid sign the token (default: realm)
#   key       private key object to sign with (kid stays the realm's)
sub token {
    my (%a) = @_;
    my $realm = $a{realm} // 'tenant-a';
    my $alg   = $a{alg} // 'RS256';
    my $signer = _active($a{sign_realm} // $realm, $alg);
    ensure_realm($realm);

    my $claims = claims(%a, realm => $realm);

    my %header = (typ => 'JWT', kid => $a{kid} // $signer->{jwk}{kid});
    _merge(\%header, $a{header});

    return encode_jwt(
        payload => $claims, alg => $alg, key => $a{key} // $signer->{key},
        extra_headers => \%header,
    );
}

sub _merge {
    my ($into, $over) = @_;
    return unless $over;
    for my $k (keys %$over) {
        if (defined $over->{$k}) { $into->{$k} = $over->{$k} }
        else                     { delete $into->{$k} }
    }
}

# The claims token() would sign for the same options, as a hash ref (for
# hand-built tokens: edit, encode, sign_raw).
sub claims {
    my (%a) = @_;
    my $realm = $a{realm} // 'tenant-a';
    my $c = _default_claims(%a, realm => $realm);
    _merge($c, $a{claims});
    return $c;
}

# "Authorization: Bearer <token>" for --- more_headers; same options as token.
sub bearer { 'Authorization: Bearer ' . token(@_) }

# Signs exact header and payload JSON text, for tokens no encoder would make
# (duplicate members, deep nesting, odd types). Options: realm, alg (default
# RS256; not read from the header, which may lie), key.
sub sign_raw {
    my ($header_json, $payload_json, %a) = @_;
    my $alg = $a{alg} // 'RS256';
    my $key = $a{key} // realm_key($a{realm} // 'tenant-a', $alg);
    my $input = b64u($header_json) . '.' . b64u($payload_json);
    return "$input." . b64u(_sign($alg, $key, $input));
}

# Joins the three segments; undef signature gives an empty third segment.
sub raw_token {
    my ($header_json, $payload_json, $sig) = @_;
    return b64u($header_json) . '.' . b64u($payload_json) . '.' . (defined $sig ? b64u($sig) : '');
}

# The same signing as Crypt::JWT (JWA, RFC 7518), on an arbitrary input.
sub _sign {
    my ($alg, $key, $input) = @_;
    return $key->sign_message($input, "SHA$1", 'v1.5') if $alg =~ /^RS(\d+)$/;
    return $key->sign_message($input, "SHA$1", 'pss', $1 / 8) if $alg =~ /^PS(\d+)$/;
    return $key->sign_message_rfc7518($input, "SHA$1") if $alg =~ /^ES(\d+)$/;
    return $key->sign_message($input) if $alg eq 'EdDSA';
    croak "cannot sign with $alg";
}

# ------------------------------------------------------------- server ---

# Starts the JWKS server on 127.0.0.1:<free port> and exports
# TEST_NGINX_ISSUER_PORT and TEST_NGINX_ISSUER for the nginx configs.
sub start_issuer {
    return $PORT if $SERVER_PID;
    $STATE = tempdir('realm-issuer-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    make_path("$STATE/counts", "$STATE/files");

    my $d = HTTP::Daemon->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                              ReuseAddr => 1, Listen => 128)
        or croak "cannot listen: $!";
    $PORT = $d->sockport;
    $ENV{TEST_NGINX_ISSUER_PORT} = $PORT;
    $ENV{TEST_NGINX_ISSUER} = "http://127.0.0.1:$PORT";
    _write_jwks($_) for keys %REALMS;

    $OWNER_PID = $$;
    my $pid = fork // croak "fork: $!";
    if ($pid == 0) {
        POSIX::setpgid(0, 0);    # own group: stop_issuer kills slow children too
        _serve($d);
        POSIX::_exit(0);
    }
    $SERVER_PID = $pid;
    close $d;
    return $PORT;
}

sub stop_issuer {
    return unless $SERVER_PID && $OWNER_PID && $$ == $OWNER_PID;
    kill 'TERM', -$SERVER_PID;
    waitpid $SERVER_PID, 0;
    undef $SERVER_PID;
}

END { stop_issuer() }

sub _serve {
    my ($d) = @_;
    $SIG{CHLD} = 'IGNORE';    # the kernel reaps the per-connection children
    $SIG{TERM} = sub { POSIX::_exit(0) };
    while (1) {
        my $c = $d->accept or next;
        my $pid = fork;
        if (!defined $pid) { close $c; sleep 0.05; next }
        if ($pid == 0) {
            # keep $d open: HTTP::Daemon builds request URIs from it
            eval { _serve_conn($c) };
            POSIX::_exit(0);
        }
        close $c;
    }
}

sub _append {
    my ($file, $line) = @_;
    open my $fh, '>>', $file or return;
    syswrite $fh, "$line\n";    # one small O_APPEND write: safe across children
    close $fh;
}

sub _slurp {
    my ($file) = @_;
    open my $fh, '<', $file or return undef;
    local $/;
    return scalar <$fh>;
}

sub _serve_conn {
    my ($c) = @_;
    $c->timeout(30);
    my $req = $c->get_request or return;
    $c->force_last_request;    # one request per connection keeps it simple
    my $path = $req->uri->path;
    _append(_count_file($path), time);

    my $res;
    if ($path =~ m{^/echo(/|$)}) {
        $res = _echo($req);
    } elsif ($path =~ m{^/realms/([^/]+)/protocol/openid-connect/certs$}) {
        my $dir = "$STATE/realms/$1";
        if (!-d $dir) {
            $res = _json_res(404, '{"error":"Realm does not exist"}');
        } else {
            my $delay = _slurp("$dir/delay");
            sleep $delay if $delay;
            my $down = _slurp("$dir/down") // '';
            return if $down eq 'close';    # drop the connection, no answer
            my $body = _slurp("$dir/body") // _slurp("$dir/jwks.json") // '{"keys":[]}';
            $res = $down eq '503' ? _json_res(503, '{"error":"unavailable"}')
                                  : _json_res(200, $body);
        }
    } elsif (defined(my $body = _slurp("$STATE/files$path"))) {
        $res = _json_res(200, $body);
    } else {
        $res = _json_res(404, '{"error":"not found"}');
    }
    $c->send_response($res);
    $c->close;
}

sub _json_res {
    my ($code, $body) = @_;
    my $res = HTTP::Response->new($code);
    $res->header('Content-Type' => 'application/json');
    $res->header('Cache-Control' => 'no-cache');
    $res->content($body);
    $res->header('Content-Length' => length $body);
    return $res;
}

# The upstream stand-in: answers "uri: <uri>" then every x-* header it
# received as "name: value", names lower-cased and sorted (duplicates kept
# in arrival order), so a test can compare the whole body.
sub _echo {
    my ($req) = @_;
    my $uri = $req->uri->path_query;
    _append("$STATE/echo.log", $req->method . " $uri");
    my $h = $req->headers;
    my $body = "uri: $uri\n";
    for my $name (sort { lc $a cmp lc $b } $h->header_field_names) {
        next unless $name =~ /^(?:x-|dpop$)/i;    # dpop: t/module/210 checks none arrives
        $body .= lc($name) . ": $_\n" for $h->header($name);
    }
    my $res = HTTP::Response->new(200);
    $res->header('Content-Type' => 'text/plain');
    $res->content($body);
    $res->header('Content-Length' => length $body);
    return $res;
}

1;
