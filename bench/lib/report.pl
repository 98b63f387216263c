#!/usr/bin/perl
#
# bench/lib/report.pl STATUS ROUNDS OUT WORK: called by bench/run.
#
# Reads the per-scenario outcome (STATUS: scenario, baseline, status,
# reason, target, description, errors policy, backends, target_p99) and the
# per-round figures (ROUNDS, with a header line), prints the summary table,
# writes OUT/report.md (summary, raw rounds, the gateways' error logs in
# short) and WORK/chart.{dat,gp} for gnuplot to draw OUT/report.png.
# Run parameters come from the environment (see the end of bench/run).

use strict;
use warnings;

my ($status_file, $rounds_file, $out, $work) = @ARGV;
die "usage: report.pl STATUS ROUNDS OUT WORK\n" unless defined $work;

my (@scenarios, %rounds);

open my $fh, '<', $status_file or die "$status_file: $!\n";
while (<$fh>) {
    chomp;
    my %s;
    @s{qw(name baseline status reason target description errors backends
          target_p99)} = split /\t/, $_, -1;
    $s{target_p99} //= '';
    push @scenarios, \%s;
}
close $fh;

# $rounds{scenario}{role} = [ { rps, p99_us, ... }, ... ]
open $fh, '<', $rounds_file or die "$rounds_file: $!\n";
my @cols = split /\t/, scalar <$fh>;
chomp @cols;
my @raw;
while (<$fh>) {
    chomp;
    my %r;
    @r{@cols} = split /\t/, $_, -1;
    push @{ $rounds{ $r{scenario} }{ $r{role} } }, \%r;
    push @raw, \%r;
}
close $fh;

sub median {
    my @v = sort { $a <=> $b } @_;
    return undef unless @v;
    my $m = int(@v / 2);
    return @v % 2 ? $v[$m] : ($v[$m - 1] + $v[$m]) / 2;
}

sub ms { defined $_[0] ? sprintf('%.2f ms', $_[0] / 1000) : '—' }
sub rps { defined $_[0] ? sprintf('%.0f', $_[0]) : '—' }
sub sum { my $t = 0; $t += $_ for @_; return $t }

# the error rate of a set of rounds: all their errors (responses >= 400 and
# socket errors) over all their requests, and the count, "0" for none
sub erate {
    my $rounds = shift;
    return '—' unless @$rounds;
    my $e = sum(map { $_->{error_count} || 0 } @$rounds);
    my $n = sum(map { $_->{requests} } @$rounds);
    return '0' unless $e;
    return "all ($e)" unless $n;
    my $r = 100 * $e / $n;
    my $f = $r >= 10 ? '%.1f%%' : $r >= 0.1 ? '%.2f%%' : '%.2g%%';
    return sprintf("$f (%d)", $r, $e);
}

my (@table, @notes, @chart);
my $dash = '—';

for my $s (@scenarios) {
    my $self = $s->{baseline} eq $s->{name};
    my @row = ($s->{name}, $self ? "$dash (reference)" : $s->{baseline});

    if ($s->{status} ne 'ok') {
        push @table, [ @row, $s->{status} eq 'skipped' ? 'skipped' : 'FAILED',
                       ($dash) x 10 ];
        push @notes, "`$s->{name}` $s->{status}: $s->{reason}";
        next;
    }

    my $sr = $rounds{ $s->{name} }{scenario} || [];
    my $br = $rounds{ $s->{name} }{baseline} || [];
    my $rps = median(map { $_->{rps} } @$sr);
    my $p99 = median(map { $_->{p99_us} } @$sr);
    my $p50 = median(map { $_->{p50_us} } @$sr);
    my ($brps, $bp99, $bp50, $ratio, $p99ratio);
    unless ($self) {
        $brps = median(map { $_->{rps} } @$br);
        $bp99 = median(map { $_->{p99_us} } @$br);
        $bp50 = median(map { $_->{p50_us} } @$br);
        $ratio = $rps / $brps if $brps;
        $p99ratio = $p99 / $bp99 if $bp99;
    }

    # targets: "target" is a minimum of the req/s ratio, "target_p99" a
    # maximum of the p99 ratio (scenario p99 / baseline p99)
    my @target;
    if ($s->{target} ne '') {
        if (!defined $ratio) {
            push @target, "$s->{target} (no ratio)";
        } elsif ($ratio >= $s->{target}) {
            push @target, "$s->{target} ok";
        } else {
            push @target, "$s->{target} **MISSED**";
            push @notes, sprintf('`%s` missed its target: ratio %.2f < %s',
                                 $s->{name}, $ratio, $s->{target});
        }
    }
    if ($s->{target_p99} ne '') {
        my $t = "p99 ≤ $s->{target_p99}";
        if (!defined $p99ratio) {
            push @target, "$t (no ratio)";
        } elsif ($p99ratio <= $s->{target_p99}) {
            push @target, "$t ok";
        } else {
            push @target, "$t **MISSED**";
            push @notes, sprintf('`%s` missed its p99 target: p99 ratio '
                                 . '%.2f > %s', $s->{name}, $p99ratio,
                                 $s->{target_p99});
        }
    }
    my $target = @target ? join('; ', @target) : $dash;

    # a ratio, and in brackets the lowest and highest ratio of a round to
    # the baseline round just before it: how much to trust the median
    my $ratio_cell = sub {
        my ($median, $key) = @_;
        return $dash unless defined $median;
        my @pr = map { $br->[$_]{$key} ? $sr->[$_]{$key} / $br->[$_]{$key}
                                       : () }
                 0 .. ($#$sr < $#$br ? $#$sr : $#$br);
        @pr = sort { $a <=> $b } @pr;
        my $c = sprintf('%.2f', $median);
        $c .= sprintf(' (%.2f-%.2f)', $pr[0], $pr[-1]) if @pr > 1;
        return $c;
    };

    push @table, [ @row, rps($rps), ms($p50), ms($p99), erate($sr),
                   rps($brps), ms($bp50), ms($bp99),
                   $self ? $dash : erate($br), $ratio_cell->($ratio, 'rps'),
                   $ratio_cell->($p99ratio, 'p99_us'), $target ];

    # sanity checks on what the backend saw
    for my $r (@$sr, @$br) {
        my $what = "`$s->{name}` $r->{role} round $r->{round} ($r->{run_as})";
        if (($r->{raw_latency} // 1) eq '0') {
            push @notes, "$what: p50 and p99 are wrk's (coordinated-omission "
                . 'corrected), its histogram could not be read';
        }
        if ($r->{backend_conns} * 10 > $r->{requests}) {
            push @notes, "$what: $r->{backend_conns} new upstream "
                . "connections for $r->{requests} requests "
                . '(is upstream keepalive in use?)';
        }
        if ($r->{backend_requests} < 0.9 * $r->{requests}) {
            push @notes, "$what: only $r->{backend_requests} of "
                . "$r->{requests} requests reached the backend";
        }
    }

    push @chart, [ $s->{name}, $self ? '?' : $brps, $rps,
                   defined $ratio ? sprintf('%.2fx', $ratio) : 'reference',
                   $self ? '(reference)' : "(vs $s->{baseline})" ];
}

my @head = ('scenario', 'baseline', 'req/s', 'p50', 'p99', 'errors',
            'baseline req/s', 'baseline p50', 'baseline p99',
            'baseline errors', 'ratio', 'p99 ratio', 'target');
my @align = qw(l l r r r r r r r r r r l);

sub md_table {
    my ($head, $align, $rows) = @_;
    my $t = '| ' . join(' | ', @$head) . " |\n";
    $t .= '|' . join('|', map { $_ eq 'r' ? '---:' : '---' } @$align) . "|\n";
    $t .= '| ' . join(' | ', @$_) . " |\n" for @$rows;
    return $t;
}

my $summary = md_table(\@head, \@align, \@table);
my $params = "wrk -t$ENV{BENCH_THREADS} -c$ENV{BENCH_CONNECTIONS} "
    . "-d$ENV{BENCH_DURATION}, $ENV{BENCH_ROUNDS} rounds per side "
    . "(alternating, baseline first), warm-up $ENV{BENCH_WARMUP}; "
    . "req/s, p50 and p99: medians of the rounds, p50 and p99 of the "
    . "latencies measured (without wrk's coordinated-omission correction; "
    . "wrk's p99 is in the rounds below); errors: responses >= 400 "
    . "and socket errors over requests, all rounds together (count in "
    . "brackets); ratio = scenario req/s / baseline req/s, "
    . "p99 ratio = scenario p99 / baseline p99, "
    . "in brackets the range of the per-round ratios; target: minimum "
    . "ratio, and \"p99 ≤\" the maximum p99 ratio";
my $chart_params = "wrk -t$ENV{BENCH_THREADS} -c$ENV{BENCH_CONNECTIONS} "
    . "-d$ENV{BENCH_DURATION}, medians of $ENV{BENCH_ROUNDS} alternating "
    . "rounds; labels: scenario / baseline";
my $notes = @notes ? "\n" . join('', map { "- $_\n" } @notes) : '';

print "\n$summary$notes\n";

# report.md: the same, the run's circumstances, then every round
my $cpus = `nproc`;
chomp $cpus;
my $kernel = `uname -r`;
chomp $kernel;

open my $md, '>', "$out/report.md" or die "$out/report.md: $!\n";
print $md "# nginx-gw benchmark\n\n";
print $md "$ENV{STARTED_AT}; $ENV{NGINX_VERSION}; $ENV{WRK_VERSION}; ",
    "$cpus CPUs, Linux $kernel; load average $ENV{LOAD_START} at the start, ",
    "$ENV{LOAD_END} at the end.\n\n$params.\n\n";
print $md $summary, $notes, "\n";
print $md "![req/s, scenario vs baseline](report.png)\n\n";

print $md "## Scenarios\n\n";
for (@scenarios) {
    my @b = split ' ', $_->{backends} // '';
    my @extra;
    push @extra, 'backends: ' . join(', ', @b)
        if @b > 1 || (@b && $b[0] ne 'normal');
    push @extra, 'errors allowed' if ($_->{errors} // '') eq 'allowed';
    print $md "- `$_->{name}`: $_->{description}",
        (@extra ? ' (' . join('; ', @extra) . ')' : ''), "\n";
}

print $md "\n## Rounds\n\n",
    "Each round is one wrk run. *upstream conns* is the number of new ",
    "connections the backends accepted during the round (about 0 when ",
    "upstream keepalive works), *backend requests* how many requests ",
    "reached them, *per backend* how many reached each one (in the order ",
    "of the scenario's `backends:`). *p99 (wrk)* is the p99 wrk prints, ",
    "after its coordinated-omission correction (see bench/README.md).\n\n";
my @rows = map {
    [ $_->{scenario}, $_->{role}, $_->{run_as}, $_->{round}, rps($_->{rps}),
      ms($_->{p50_us}), ms($_->{p99_us}), ms($_->{p99_wrk_us}),
      $_->{requests}, $_->{errors}, $_->{backend_conns},
      $_->{backend_requests}, $_->{backend_split} ]
} @raw;
print $md md_table([ 'scenario', 'role', 'run as', 'round', 'req/s', 'p50',
                     'p99', 'p99 (wrk)', 'requests', 'errors',
                     'upstream conns', 'backend requests', 'per backend' ],
                   [ qw(l l l r r r r r r l r r r) ], \@rows);

# the gateways' error logs (at the scenario's log_level): each distinct
# message once, with how often it was logged, most frequent first
my @logs;
for my $s (@scenarios) {
    next if $s->{status} eq 'skipped';
    for my $side ([ 'gw', $s->{name} ], [ 'gw-baseline', $s->{baseline} ]) {
        my $f = "$work/$s->{name}/$side->[0]/logs/error.log";
        open my $lf, '<', $f or next;
        my (%count, $total);
        while (<$lf>) {
            chomp;
            s/^\S+ \S+ (\[\w+\]) \d+#\d+: (?:\*\d+ )?/$1 /;
            s/, client: .*//;
            $count{$_}++;
            $total++;
        }
        close $lf;
        next unless $total;
        my @top = sort { $count{$b} <=> $count{$a} || $a cmp $b } keys %count;
        my $more = @top > 8 ? @top - 8 : 0;
        splice @top, 8 if $more;
        push @logs, "`$s->{name}`, gateway of `$side->[1]` "
            . "($side->[0]/logs/error.log): $total line(s)\n\n"
            . join('', map { sprintf "    %6d  %s\n", $count{$_}, $_ } @top)
            . ($more ? "    (and $more more distinct messages)\n" : '')
            . "\n";
    }
}
print $md "\n## Gateway error logs\n\n",
    @logs ? @logs : "Every gateway's error log is empty.\n";
close $md;

# the chart: clustered bars (baseline, scenario) per scenario, the ratio
# above each pair; a log scale when the req/s span more than 20x (1 MiB
# bodies next to GETs)
open my $dat, '>', "$work/chart.dat" or die "$work/chart.dat: $!\n";
my @all = grep { $_ ne '?' } map { @$_[1, 2] } @chart;
my ($max, $min) = (1, 1);
if (@all) {
    ($min, $max) = (sort { $a <=> $b } @all)[0, -1];
}
my $log = $min > 0 && $max / $min > 20;
for my $c (@chart) {
    my $top = $c->[1] eq '?' || $c->[2] > $c->[1] ? $c->[2] : $c->[1];
    my $y = $log ? $top * 1.25 : $top + $max * 0.03;
    printf $dat "%s\t%s\t%.1f\t%s\t%.1f\t%s\n",
        $c->[0], $c->[1] eq '?' ? '?' : sprintf('%.1f', $c->[1]), $c->[2],
        $c->[3], $y, $c->[4];
}
close $dat;

my $yrange = $log ? sprintf('[%g:%g]', 10 ** int(log($min / 2) / log(10)),
                            $max * 3)
                  : sprintf('[0:%g]', $max * 1.12);
open my $gp, '>', "$work/chart.gp" or die "$work/chart.gp: $!\n";
my $width = 300 + 130 * @chart;
$width = 800 if $width < 800;
if (@chart) {
    print $gp <<EOF;
# generated by bench/lib/report.pl
set terminal pngcairo size $width,560 noenhanced font "sans,10"
set output "$out/report.png"
set title "nginx-gw: req/s, baseline vs scenario\\n$chart_params"
set datafile separator "\\t"
set datafile missing "?"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set key top right
set grid ytics
set ylabel "requests/s@{[ $log ? ' (log scale)' : '' ]}"
set yrange $yrange
@{[ $log ? 'set logscale y' : 'unset logscale y' ]}
set xtics nomirror
set bmargin 4
plot "$work/chart.dat" \\
        using 2:xtic(stringcolumn(1) . "\\n" . stringcolumn(6)) \\
        title "baseline" lc rgb "#9a9a9a", \\
     "" using 3 title "scenario" lc rgb "#2f6db3", \\
     "" using 0:5:4 with labels font "sans,10" notitle
EOF
} else {
    # nothing was measured (all skipped or failed): an empty chart
    print $gp <<EOF;
set terminal pngcairo size 800,300 noenhanced font "sans,10"
set output "$out/report.png"
set title "nginx-gw: req/s, baseline vs scenario"
set label "no scenario was measured, see report.md" at graph 0.5,0.5 center
unset border
unset tics
plot [0:1] [0:1] NaN notitle
EOF
}
close $gp;
