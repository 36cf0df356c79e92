#!/usr/bin/env perl
# Writes N sealed revocation records, as realm-sidecar appends them (core
# revocation_feed.h), in Redis protocol for `redis-cli --pipe`:
#   revocation_records.pl <prefix> <hmac key file> <N> | redis-cli -p PORT --pipe
# User and session records of made-up subjects spread over 100 tenants
# (demo among them), expiring in two hours; plus one tenant record for demo
# from an hour ago, which the benchmark token (issued now) outlives: its
# tenant's lookup finds a record, its user and session lookups find none.
use strict;
use warnings;
use Digest::SHA qw(hmac_sha256_hex sha256_hex);

my ($prefix, $key_file, $n) = @ARGV;
open my $fh, '<', $key_file or die "$key_file: $!";
my $secret = <$fh>;
$secret =~ s/\s+\z//;
my $kid = substr(sha256_hex($secret), 0, 8);
my $stream = "${prefix}revocations";
my $now = time;
my $issued = $now * 1000;

sub resp { '*' . @_ . "\r\n" . join('', map { '$' . length($_) . "\r\n$_\r\n" } @_) }
sub sealed {
    my ($text, $exp) = @_;
    my $msg = join "\n", 'ra1', length($stream), $stream, $kid, $issued, $exp * 1000, $text;
    return join '.', 'ra1', $kid, $issued, $exp * 1000, hmac_sha256_hex($msg, $secret), $text;
}
binmode STDOUT;
my $exp = $now + 7200;
print resp('DEL', $stream);
print resp('XADD', $stream, '*', 'r', sealed("tenant demo - " . ($now - 3600) . " $exp", $exp)) if $n > 0;
for my $i (1 .. $n - 1) {
    my $tenant = $i % 100 == 0 ? 'demo' : 't' . ($i % 100);
    my $kind = $i % 3 == 0 ? 'session' : 'user';
    my $h = sha256_hex("subject $i");
    my $subject = join '-', substr($h, 0, 8), substr($h, 8, 4), substr($h, 12, 4), substr($h, 16, 4),
        substr($h, 20, 12);
    print resp('XADD', $stream, '*', 'r', sealed("$kind $tenant $subject " . ($now + 1) . " $exp", $exp));
}
