# Mistakes in the authorization and token-source directives fail `nginx -t`
# with a message naming the directive (as 080-config-errors.t does for the
# others): unknown operators, missing values, values that are not JSON
# literals, bad error= values, rules in a location that does not verify
# tokens (they would never be checked). Good configurations pass.
use strict;
use warnings;
use Test::More;

use RealmAuth::Nginx;

RealmAuth::Nginx::require_module();

my $ZONE = 'auth_realm_zone realm_auth:10m;';
my $ISSUER = 'auth_realm_issuer http://127.0.0.1:8080/realms/tenant-*;';

sub api {
    my ($directives) = @_;
    return "location /api/ {\n auth_realm on;\n $ISSUER\n $directives\n proxy_pass http://127.0.0.1:9/;\n}\n";
}

my @cases = (
    # [ name, server-level text, text the [emerg] message must contain ]
    ['require_role without roles', api('auth_realm_require_role;'), 'auth_realm_require_role'],
    ['require_role with an empty role', api('auth_realm_require_role admin "";'),
     'auth_realm_require_role'],
    ['require_role with a comma', api('auth_realm_require_role admin,auditor;'),
     'auth_realm_require_role'],
    ['require_claim unknown operator', api(q{auth_realm_require_claim tier equals '"gold"';}),
     'auth_realm_require_claim'],
    ['require_claim operator in capitals', api(q{auth_realm_require_claim tier EQ '"gold"';}),
     'unknown operator'],
    ['require_claim missing value', api('auth_realm_require_claim tier eq;'),
     'auth_realm_require_claim'],
    ['require_claim name only', api('auth_realm_require_claim tier;'),
     'auth_realm_require_claim'],
    ['require_claim eq with two values', api(q{auth_realm_require_claim tier eq '"a"' '"b"';}),
     'auth_realm_require_claim'],
    ['require_claim bare word (quotes stripped by nginx)', api('auth_realm_require_claim tier eq "gold";'),
     'auth_realm_require_claim'],
    ['require_claim unterminated string', api(q{auth_realm_require_claim tier eq '"gold';}),
     'not a JSON literal'],
    ['require_claim True', api('auth_realm_require_claim ok eq True;'), 'auth_realm_require_claim'],
    ['require_claim array literal', api(q{auth_realm_require_claim tier in '["gold"]';}),
     'JSON scalars'],
    ['require_claim object literal', api(q{auth_realm_require_claim tier eq '{}';}),
     'JSON scalars'],
    ['require_claim fraction', api('auth_realm_require_claim level eq 1.5;'), 'integers'],
    ['require_claim 2^53', api('auth_realm_require_claim level eq 9007199254740992;'), 'integers'],
    ['require_claim smuggled member', api(q{auth_realm_require_claim tier eq '1,"x":2';}),
     'auth_realm_require_claim'],
    ['require_claim empty name', api(q{auth_realm_require_claim "" eq 1;}), 'auth_realm_require_claim'],
    ['require without variables', api('auth_realm_require admin;'), 'auth_realm_require'],
    ['require error=404', api('auth_realm_require $arg_x error=404;'), 'auth_realm_require'],
    ['require error=forbidden', api('auth_realm_require $arg_x error=forbidden;'),
     'auth_realm_require'],
    ['require error= not last', api('auth_realm_require error=403 $arg_x;'), 'auth_realm_require'],
    ['require error= only', api('auth_realm_require error=401;'), 'auth_realm_require'],
    ['require with an empty value', api('auth_realm_require $arg_x "";'), 'auth_realm_require'],
    ['token without a variable', api('auth_realm_token access_token;'), 'auth_realm_token'],
    ['token given twice', api('auth_realm_token $cookie_a; auth_realm_token $cookie_b;'),
     'auth_realm_token'],
    ['require_role where auth_realm is off',
     "location /api/ { auth_realm_require_role admin; proxy_pass http://127.0.0.1:9/; }",
     'auth_realm_require_role'],
    ['require_claim where auth_realm is off',
     "location /api/ { auth_realm_require_claim tier eq 1; proxy_pass http://127.0.0.1:9/; }",
     'auth_realm_require_claim'],
    ['require where auth_realm is off',
     "location /api/ { auth_realm_require \$arg_x; proxy_pass http://127.0.0.1:9/; }",
     'auth_realm_require'],
    ['token where auth_realm is off',
     "location /api/ { auth_realm_token \$cookie_at; proxy_pass http://127.0.0.1:9/; }",
     'auth_realm_token'],
    ['require_role explicitly turned off in a nested location',
     "location /api/ { auth_realm on; $ISSUER location /api/x/ { auth_realm off; "
     . "auth_realm_require_role admin; } }",
     'auth_realm_require_role'],
);

for my $c (@cases) {
    my ($name, $server, $want) = @$c;
    my ($ok, $out) = RealmAuth::Nginx->config_test(http => $ZONE, server => $server);
    ok(!$ok, "nginx -t fails: $name") or diag($out);
    like($out, qr/\[emerg\].*\Q$want\E/, "  ... and the message names $want") or diag($out);
    unlike($out, qr/signal|core dumped|Segmentation/i, "  ... without crashing");
}

# Every form done right passes; rules at server level are inherited by
# locations that verify, and a location without auth_realm may inherit them.
my ($ok, $out) = RealmAuth::Nginx->config_test(
    http => "$ZONE\nmap \$jwt_claim_tier \$is_gold { gold 1; default 0; }",
    server => join("\n",
        'auth_realm_require_role officer;',
        q{auth_realm_require_claim tier in '"gold"' '"silver"';},
        'location /public/ { return 204; }',
        api(join "\n",
            'auth_realm_require_role admin auditor;',
            'auth_realm_require_role "tenant admin";',
            q{auth_realm_require_claim tier eq '"gold"';},
            q{auth_realm_require_claim tier in '"gold"' '"silver"' 3 true false null;},
            q{auth_realm_require_claim groups contains '"ops"';},
            'auth_realm_require_claim level eq -9007199254740991;',
            q{auth_realm_require_claim a.b eq '"\u00e9"';},
            'auth_realm_require $is_gold $jwt_claim_tenant;',
            'auth_realm_require $is_gold error=401;',
            'auth_realm_require x$is_gold error=403;',
            'auth_realm_token $cookie_access_token;')),
);
ok($ok, 'a config using every authorization form passes nginx -t') or diag($out);

for my $source ('$arg_access_token', '$http_x_token', '$cookie_at', 'off') {
    ($ok, $out) = RealmAuth::Nginx->config_test(
        http => $ZONE, server => api("auth_realm_token $source;"));
    ok($ok, "auth_realm_token $source passes") or diag($out);
}

done_testing();
