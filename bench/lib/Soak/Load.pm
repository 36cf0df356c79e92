package Soak::Load;
# One load client of the soak: sends GET /api/soak through the stack's nginx
# with tokens drawn from the pool the controller keeps up to date
# (Soak::Pool), judges every answer against the token's timeline
# (Soak::Expect) and, when told to stop, writes what it sent and got as JSON.
use strict;
use warnings;
use HTTP::Tiny;
use JSON::PP;
use Time::HiRes qw(time sleep);
use Soak::Expect qw(expectation judge outcome_of window_of);
use Soak::Pool;

# run(url => URL, dir => RUN_DIR, out => FILE, stop => FILE, rate => req/s
#     (0: as fast as it can), mix => {category => weight}, seed => N)
sub run {
    my (%o) = @_;
    srand($o{seed} // $$);
    my $pool = Soak::Pool::Reader->new($o{dir});
    my (%by_cat, %got, @wrong, %wrong_n, %win);
    my ($sent, $transport, $checked, $per_conn) = (0, 0, 0, 0);
    my $ua;
    my $interval = $o{rate} ? 1 / $o{rate} : 0;
    my $next = time;
    my @cats = sort keys %{ $o{mix} };
    my $total_w = 0;
    $total_w += $o{mix}{$_} for @cats;

    while (1) {
        my $now = time;
        if ($now - $checked >= 0.2) {
            $checked = $now;
            last if -e $o{stop};
            $pool->refresh;
        }
        if ($interval) {
            my $d = $next - $now;
            sleep $d if $d > 0;
            $next += $interval;
            $next = time if $next < time - 1;    # fell behind: no burst to catch up
        }
        # A category by weight; an empty one falls back to valid.
        my $r = rand $total_w;
        my $cat = $cats[-1];
        for (@cats) { if (($r -= $o{mix}{$_}) < 0) { $cat = $_; last } }
        my $e = $pool->draw($cat);
        ($cat, $e) = ('valid', $pool->draw('valid')) unless $e;
        unless ($e) { sleep 0.05; next }

        # A new connection now and then, so requests spread over the workers.
        if (!$ua || ++$per_conn > 50) {
            $ua = HTTP::Tiny->new(timeout => 60, keep_alive => 1, agent => 'realm-auth-soak/1');
            $per_conn = 0;
        }
        my $t0 = time;
        my $res = $ua->get($o{url}, { headers => { Authorization => "Bearer $e->{tok}", 'X-Purpose' => 'soak load' } });
        my $t1 = time;
        $sent++;
        if ($res->{status} == 599) {
            $transport++;
            push @wrong, { t => $t0, cat => $cat, id => $e->{id}, why => 'transport',
                           got => substr($res->{content} // '', 0, 120) } if @wrong < 200;
            $ua = undef;
            next;
        }
        my $got = outcome_of($res);
        $got{$got}++;
        $by_cat{$cat}{$got}++;
        # Right if right at either end of the request: the module decided
        # somewhere in between.
        my $tp = $pool->tenant_phases($e->{tenant});
        # Inside an announced change: when it stopped passing (or started).
        if (!$e->{forged} && (my $k = window_of($e, $tp, $t0))) {
            my $w = $win{$k} //= {};
            my $side = $got eq 'ok' ? 'ok' : 'refused';
            $w->{$side}++;
            $w->{"first_$side"} //= $t0;
            $w->{"last_$side"} = $t1;
        }
        my $w0 = judge(expectation($e, $tp, $t0), $got);
        my $w1 = $w0 ? judge(expectation($e, $tp, $t1), $got) : '';
        next unless $w0 && $w1;
        $wrong_n{$w0}++;
        next if @wrong >= 200;
        my $x = expectation($e, $tp, $t0);
        push @wrong, { t => sprintf('%.3f', $t0), dt => sprintf('%.3f', $t1 - $t0), cat => $cat, id => $e->{id},
                       tenant => $e->{tenant}, why => $w0, got => $got,
                       expected => join('|', ($x->{ok} ? 'ok' : ()), sort keys %{ $x->{reasons} }) };
    }
    open my $fh, '>', "$o{out}.tmp" or die "$o{out}: $!";
    print $fh JSON::PP->new->canonical->encode({ sent => $sent, transport_errors => $transport, got => \%got,
                                                by_cat => \%by_cat, wrong => \%wrong_n, wrong_samples => \@wrong,
                                                windows => \%win });
    close $fh;
    rename "$o{out}.tmp", $o{out} or die "rename: $!";
}

1;
