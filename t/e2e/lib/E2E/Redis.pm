package E2E::Redis;
# The local stack's Redis for the end-to-end suites, as realm-sidecar sees
# it: ACL logins from .state/secrets/redis-<user>.password and the fleet
# key (.state/secrets/redis-hmac.key) to seal and read values the way the
# module and the sidecar do (t/lib/RealmAuth/Redis.pm, docs/REDIS_TRUST.md).
#   my $r = stack_redis();
#   $r->cmd_as('sidecar', 'SET', $key, $r->seal($key, 'active'));
#   $r->payload($r->cmd('GET', $key));     # admin login
use strict;
use warnings;
use Exporter 'import';
use File::Basename qw(dirname);
use lib dirname(__FILE__) . '/../../../lib';
use RealmAuth::Redis;
use E2E::Stack qw(env secret);

our @EXPORT_OK = qw(stack_redis);

sub stack_redis {
    return RealmAuth::Redis->attach(
        port => env('REDIS_PORT'),
        pw   => { map { $_ => secret("redis-$_.password") } qw(admin nginx sidecar) },
        hmac => secret('redis-hmac.key'));
}

1;
