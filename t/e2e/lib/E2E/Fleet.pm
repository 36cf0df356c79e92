package E2E::Fleet;
# A fleet of private nginx instances in front of the running local stack,
# for the revocation suite and benchmark: each instance runs the built
# module with `workers` worker processes, shares the stack's Redis (logged
# in as the stack's nginx user, the fleet's seal key) and verifies tokens of
# the stack's tenant realms. And a stopwatch: the moment each instance first
# refuses a token, measured by one polling process per instance.
#
#   my @fleet = start_fleet(2, workers => 2);
#   my $w = watch_refusal(\@fleet, $token);   # starts polling now
#   ... the action that revokes ...; my $t0 = time;
#   my @at = $w->(5);                          # epoch time of first 401 per instance (undef: none)
use strict;
use warnings;
use Exporter 'import';
use File::Basename qw(dirname);
use lib dirname(__FILE__) . '/../../../lib';
use HTTP::Tiny;
use POSIX ();
use Time::HiRes qw(time sleep);
use RealmAuth::Nginx;
use E2E::Stack qw(root env);

our @EXPORT_OK = qw(start_fleet watch_refusal call);

sub start_fleet {
    my ($n, %o) = @_;
    my $secrets = env('SECRETS_DIR');
    my $kc = env('KEYCLOAK_URL');
    my $redis = '127.0.0.1:' . env('REDIS_PORT');
    my %conf = (
        workers => $o{workers} // 2,
        master  => 1,
        main    => 'thread_pool realm_auth threads=2;',
        http    => "auth_realm_zone realm_auth_fleet:8m;\n"
                 . "auth_realm_thread_pool realm_auth;\n"
                 . "auth_realm_redis $redis prefix=realm_auth: timeout=200ms user=nginx "
                 . "password_file=$secrets/redis-nginx.password "
                 . "hmac_key_file=$secrets/redis-hmac.key;\n"
                 . ($o{http} // ''),
        # `return` would answer in the rewrite phase, before auth_realm's
        # access phase ever ran: the answer comes from a named location
        # reached by try_files, which runs after access (as in
        # conf/nginx/realm-auth.conf.in).
        server  => "location /api/ {\n"
                 . "    auth_realm on;\n"
                 . "    auth_realm_issuer $kc/realms/tenant-*;\n"
                 . "    add_header X-Auth-Error \$realm_auth_error always;\n"
                 . "    try_files /.realm-auth-verified \@verified;\n"
                 . "}\n"
                 . "location \@verified {\n"
                 . "    add_header X-Auth-Error \$realm_auth_error always;\n"
                 . "    return 200 'ok \$realm_tenant_id\\n';\n"
                 . "}\n"
                 . "location = /realm-auth/status { auth_realm_status; }\n",
    );
    return map { RealmAuth::Nginx->start(%conf) } 1 .. $n;
}

# Status of one GET /api/x with the token on a new connection (so calls
# spread over the instance's workers), and the auth error nginx named.
sub call {
    my ($ngx, $token) = @_;
    my $r = $ngx->get('/api/x', Authorization => "Bearer $token");
    return wantarray ? ($r->{status}, $r->{headers}{'x-auth-error'} // '') : $r->{status};
}

# Forks one poller per instance; each calls as fast as it can until the
# token is refused as token_revoked (or `limit` seconds pass) and reports
# the epoch time of that first refusal. Returns a closure that waits at most
# `timeout` more seconds and returns those times (undef when none).
sub watch_refusal {
    my ($fleet, $token, $limit) = @_;
    $limit //= 10;
    my @kids;
    for my $ngx (@$fleet) {
        pipe my $rd, my $wr or die "pipe: $!";
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            close $rd;
            my $deadline = time + $limit;
            my $at = '';
            while (time < $deadline) {
                my ($st, $err) = call($ngx, $token);
                if ($st == 401 && $err eq 'token_revoked') { $at = sprintf '%.6f', time; last }
                sleep 0.002;
            }
            print $wr $at;
            close $wr;
            POSIX::_exit(0);
        }
        close $wr;
        push @kids, [$pid, $rd];
    }
    return sub {
        my @at;
        for my $k (@kids) {
            my ($pid, $fh) = @$k;
            local $/;
            my $v = <$fh>;
            close $fh;
            waitpid $pid, 0;
            push @at, (defined $v && length $v) ? $v + 0 : undef;
        }
        return @at;
    };
}

1;
