package NginxGw::Status;

# Reading gw_status output in tests, in both of its formats.
#
#   use NginxGw::Status qw(prom_parse prom_value prom_check json_value);
#
#   my $m = prom_parse($text);          # dies on any line that breaks the
#                                       # text exposition format
#   prom_value($m, 'nginx_gw_webhook_requests_total',
#              { scheme => 'github', status => 'verified' });   # 3, or undef
#   my ($ok, $out) = prom_check($text); # promtool check metrics, when the
#                                       # prometheus package is installed
#
#   my $j = decode_json($body);
#   json_value($j, 'webhook', 'requests_total',
#              { scheme => 'github', status => 'verified' });   # 3, or undef
#
# A label set given to prom_value / json_value must match exactly one sample
# on the labels it names (other labels of the sample are free); no match
# gives undef, more than one dies, so a test cannot read the wrong series.

use strict;
use warnings;

use Exporter 'import';
use File::Temp qw(tempfile);

our @EXPORT_OK = qw(prom_parse prom_value prom_check json_value);

my $NAME  = qr/[a-zA-Z_:][a-zA-Z0-9_:]*/;
my $LNAME = qr/[a-zA-Z_][a-zA-Z0-9_]*/;
my $VALUE = qr/[-+]?(?:[0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?|NaN|[-+]?Inf)/;


# A strict reader of Prometheus's text format 0.0.4: every line is a HELP,
# a TYPE or a sample; a family's HELP and TYPE come once, before its
# samples; samples of one family are contiguous; label values use only the
# escapes \\, \" and \n; no series appears twice.

sub prom_parse {
    my ($text) = @_;
    my (%family, %seen, @samples, $current);

    die "prom_parse: output does not end with a line feed\n"
        if length $text && $text !~ /\n\z/;

    my $n = 0;
    for my $line (split /\n/, $text) {
        $n++;
        next if $line eq '';

        if ($line =~ /^# (HELP|TYPE) ($NAME) ?(.*)$/) {
            my ($what, $name, $rest) = ($1, $2, $3);
            die "prom_parse: line $n: second $what for $name\n"
                if exists $family{$name}{lc $what};
            die "prom_parse: line $n: $what for $name after its samples\n"
                if $family{$name}{sampled};
            if ($what eq 'TYPE') {
                die "prom_parse: line $n: bad type '$rest'\n"
                    unless $rest =~ /^(counter|gauge|histogram|summary|untyped)$/;
            } else {
                die "prom_parse: line $n: bad escape in HELP\n"
                    if $rest =~ /\\(?![\\n])/;
            }
            $family{$name}{lc $what} = $rest;
            $current = $name;
            next;
        }

        die "prom_parse: line $n: a comment that is neither HELP nor TYPE\n"
            if $line =~ /^#/;

        $line =~ /^($NAME)(\{(.*)\})? ($VALUE)(?: (-?[0-9]+))?$/
            or die "prom_parse: line $n: not a sample: $line\n";
        my ($name, $lstr, $value) = ($1, $3, $4);

        my %labels;
        if (defined $lstr) {
            my $s = $lstr;
            while (length $s) {
                $s =~ s/^($LNAME)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)//
                    or die "prom_parse: line $n: bad labels {$lstr}\n";
                my ($k, $v) = ($1, $2);
                die "prom_parse: line $n: label $k twice\n"
                    if exists $labels{$k};
                $v =~ s/\\(.)/$1 eq 'n' ? "\n" : $1/ge;
                $labels{$k} = $v;
            }
        }

        (my $base = $name) =~ s/_(sum|count|bucket)$//;
        my $fam = exists $family{$name} ? $name
                : exists $family{$base} ? $base : $name;
        die "prom_parse: line $n: samples of $fam are not contiguous\n"
            if $family{$fam}{sampled} && (!defined $current || $current ne $fam);
        $family{$fam}{sampled} = 1;
        $current = $fam;

        my $id = join "\0", $name, map { "$_=$labels{$_}" } sort keys %labels;
        die "prom_parse: line $n: series $name appears twice\n"
            if $seen{$id}++;

        push @samples, { name => $name, labels => \%labels, value => $value + 0 };
    }

    return { families => \%family, samples => \@samples };
}


sub prom_value {
    my ($m, $name, $want) = @_;
    $want ||= {};

    my @match = grep {
        my $s = $_;
        $s->{name} eq $name
            && !grep { !defined $s->{labels}{$_}
                       || $s->{labels}{$_} ne $want->{$_} } keys %$want
    } @{ $m->{samples} };

    die "prom_value: " . scalar(@match) . " samples of $name match\n"
        if @match > 1;

    return @match ? $match[0]{value} : undef;
}


# promtool's own check (format and naming lint); (1, '') when promtool is
# not installed, so a test can run it unconditionally.

sub prom_check {
    my ($text) = @_;

    my ($promtool) = grep { -x } map { "$_/promtool" } split /:/, $ENV{PATH};
    return (1, 'promtool not installed') unless $promtool;

    my ($fh, $file) = tempfile(UNLINK => 1);
    print $fh $text;
    close $fh;

    my $out = `$promtool check metrics < $file 2>&1`;
    return ($? == 0 ? 1 : 0, $out);
}


sub json_value {
    my ($j, $module, $family, $want) = @_;
    $want ||= {};

    my $v = $j->{$module} && $j->{$module}{$family};
    return undef unless defined $v;
    return $v unless ref $v;

    my @match = grep {
        my $s = $_;
        !grep { !defined $s->{$_} || $s->{$_} ne $want->{$_} } keys %$want
    } @$v;

    die "json_value: " . scalar(@match) . " samples of $module.$family match\n"
        if @match > 1;

    return @match ? $match[0]{value} : undef;
}


1;
