package E2E::Util;

# Helpers shared by the governance suites (060, 061, 062): ledger rows read
# with psql, and private processes (a second sidecar, OPA) started, awaited
# and stopped.

use strict;
use warnings;

use Exporter 'import';
use HTTP::Tiny;
use IO::Socket::INET;
use JSON::PP;
use POSIX ':sys_wait_h';
use E2E::Stack qw(env);

our @EXPORT_OK = qw(psql_path sql_rows ledger_rows free_port wait_http spawn stop);

# psql, or undef when it is not installed.
sub psql_path {
    my $p = -x '/usr/bin/psql' ? '/usr/bin/psql' : `command -v psql` =~ s/\s+\z//r;
    return $p && -x $p ? $p : undef;
}

# Output lines of one SQL statement against the stack's database.
sub sql_rows {
    my ($sql) = @_;
    my $psql = psql_path() or die "psql not installed\n";
    local $ENV{PGPASSFILE} = env('SECRETS_DIR') . '/pgpass';
    my @cmd = ($psql, '-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1', '-p', env('POSTGRES_PORT'),
               '-U', env('POSTGRES_USER'), '-d', env('POSTGRES_DB'), '-c', $sql);
    open my $fh, '-|', @cmd or die "psql: $!";
    my @lines = <$fh>;
    close $fh or die "psql failed: $sql\n";
    chomp @lines;
    return @lines;
}

# Audit ledger rows matching WHERE (built by the caller from checked
# values), oldest first, as hashes.
sub ledger_rows {
    my ($where) = @_;
    return map { JSON::PP->new->utf8->decode($_) } sql_rows(
        "SELECT json_build_object('seq', seq, 'event_type', event_type, 'request_id', request_id,"
      . " 'actor_realm', actor_realm, 'tenant_id', tenant_id, 'action', action, 'purpose', purpose,"
      . " 'decision', decision, 'reason', reason, 'details', details::json)"
      . " FROM audit_ledger WHERE $where ORDER BY seq");
}

sub free_port {
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1', LocalPort => 0, Proto => 'tcp') or die $!;
    my $p = $s->sockport;
    close $s;
    return $p;
}

# True once GET url answers 200, within `secs`.
sub wait_http {
    my ($url, $secs) = @_;
    my $ua = HTTP::Tiny->new(timeout => 2);
    for (1 .. $secs * 5) {
        return 1 if $ua->get($url)->{status} == 200;
        select undef, undef, undef, 0.2;
    }
    return 0;
}

# spawn(LOG, cmd => [...], ENV => value, ...): a process in its own group,
# output appended to LOG.
sub spawn {
    my ($log, %env) = @_;
    my @cmd = @{ delete $env{cmd} };
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        @ENV{ keys %env } = values %env;
        open STDOUT, '>>', $log or die;
        open STDERR, '>&', \*STDOUT or die;
        setpgrp(0, 0);
        exec @cmd or die "exec @cmd: $!";
    }
    return $pid;
}

sub stop {
    my ($pid) = @_;
    return unless $pid && kill 0, $pid;
    kill 'TERM', $pid;
    for (1 .. 50) { return if waitpid($pid, WNOHANG) == $pid; select undef, undef, undef, 0.1 }
    kill 'KILL', $pid;
    waitpid $pid, 0;
}

1;
