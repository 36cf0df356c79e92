# Sender constraints and per-location authorization together: a DPoP
# request is authenticated first (token, then proof), authorized second;
# a rule's refusal keeps the scheme the client used (RFC 9449 §7.1: a
# DPoP client gets a DPoP challenge, here error="insufficient_scope");
# a DPoP-bound token read through auth_realm_token has no DPoP
# presentation and is refused as a bearer token.
use strict;
use warnings;
use Test::More;

use HTTP::Tiny;

use RealmAuth::Dpop qw(:all);
use RealmAuth::Issuer qw(:all);
use RealmAuth::Nginx;

RealmAuth::Nginx::require_module();
start_issuer();
ensure_realm('tenant-a', algs => ['RS256']);

my $loc = sub {
    my ($path, $extra) = @_;
    return qq{
        location $path {
            auth_realm on;
            auth_realm_issuer \$TEST_NGINX_ISSUER/realms/tenant-*;
            auth_realm_dpop on;
            $extra
            add_header X-Realm-Error \$realm_auth_error always;
            proxy_pass http://127.0.0.1:\$TEST_NGINX_ISSUER_PORT/echo/;
        }
    };
};
my $ngx = RealmAuth::Nginx->start(
    http   => "auth_realm_zone realm_auth:10m;\n",
    server => join('', $loc->('/admin/', 'auth_realm_require_role admin;'),
                       $loc->('/cookie/', 'auth_realm_token $cookie_at;')),
);
my $base = 'http://127.0.0.1:' . $ngx->port;
sub req { HTTP::Tiny->new(timeout => 15)->request('GET', "$base$_[0]", { headers => { @_[1 .. $#_] } }) }

my $K = dpop_key('ES256');
my $admin = dpop_token($K, claims => { realm_access => { roles => ['admin'] } });
my $officer = dpop_token($K, claims => { realm_access => { roles => ['officer'] } });
my $proof = sub { dpop_proof($K, token => $_[0], htm => 'GET', htu => "$base$_[1]") };

my $r = req('/admin/x', Authorization => "DPoP $admin", DPoP => $proof->($admin, '/admin/x'));
is($r->{status}, 200, 'DPoP, role held, fresh proof: 200');

$r = req('/admin/x', Authorization => "DPoP $officer", DPoP => $proof->($officer, '/admin/x'));
is($r->{status}, 403, 'DPoP, role missing: 403');
is($r->{headers}{'x-realm-error'}, 'require_role', '... named require_role');
like($r->{headers}{'www-authenticate'} // '', qr/^DPoP algs="[^"]+", error="insufficient_scope", error_description="[^"]+"$/,
     '... with a DPoP challenge, error="insufficient_scope"');

$r = req('/admin/x', Authorization => "DPoP $officer", DPoP => $proof->($officer, '/admin/x'));
is($r->{status}, 403, 'the same from the verified-token cache: 403');

$r = req('/admin/x', Authorization => "DPoP $officer");
is($r->{status}, 401, 'role missing and no proof: authentication first, 401');
like($r->{headers}{'www-authenticate'} // '', qr/^DPoP .*error="invalid_dpop_proof"/, '... invalid_dpop_proof');

$r = req('/admin/x', Authorization => "DPoP $admin", DPoP => $proof->($admin, '/other'));
is($r->{status}, 401, 'role held, proof for another URL: 401');

my $plain = token(claims => { realm_access => { roles => ['officer'] } });
$r = req('/admin/x', Authorization => "Bearer $plain");
is($r->{status}, 403, 'Bearer, role missing: 403');
like($r->{headers}{'www-authenticate'} // '', qr/^Bearer error="insufficient_scope"/, '... with a Bearer challenge');

$r = req('/cookie/x', Cookie => "at=$admin", DPoP => $proof->($admin, '/cookie/x'));
is($r->{status}, 401, 'a DPoP-bound token from auth_realm_token: 401');
is($r->{headers}{'x-realm-error'}, 'dpop_bound_as_bearer', '... as a bound token presented as bearer');
$r = req('/cookie/x', Cookie => 'at=' . token());
is($r->{status}, 200, 'an unbound token from the cookie: 200');

done_testing();
