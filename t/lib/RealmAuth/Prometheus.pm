package RealmAuth::Prometheus;

# Prometheus text parsed by the official Python client's parser, through
# scripts/check-metrics.py (which also checks HELP/TYPE, names, _total and
# the histogram rules):
#   my ($series, $err) = parse_prometheus($text);
#   $series->{'realm_auth_requests_total{result="verified"}'}   # labels sorted
# (undef, the complaint) when the text does not parse or breaks a rule.

use strict;
use warnings;

use Cwd qw(abs_path);
use Exporter 'import';
use File::Basename qw(dirname);
use File::Temp ();
use JSON::PP ();

our @EXPORT_OK = qw(parse_prometheus);

my $SCRIPT = abs_path(dirname(__FILE__) . '/../../../scripts/check-metrics.py');

sub parse_prometheus {
    my ($text) = @_;
    my $in = File::Temp->new;
    print {$in} $text // '';
    close $in;
    my $err = File::Temp->new;
    my $out = `/usr/bin/python3 $SCRIPT < @{[$in->filename]} 2> @{[$err->filename]}`;
    if ($? != 0) {
        open my $fh, '<', $err->filename or return (undef, "check-metrics.py failed");
        local $/;
        return (undef, scalar <$fh>);
    }
    my $doc = eval { JSON::PP->new->decode($out) };
    return $doc ? ($doc->{series}) : (undef, "bad JSON from check-metrics.py: $out");
}

1;
