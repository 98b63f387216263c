package NginxGw::Chaos;

# Load and bookkeeping for the fault-injection tests (t/9NN-chaos-*.t):
# client processes that send a mix of requests on new connections while
# the test breaks something (reloads nginx, kills a backend, slows an
# identity provider), then the figures of what they saw.
#
#   use NginxGw::Chaos qw(start_load finish_load tally log_problems);
#
#   my $load = start_load(port => $port, clients => 3, seconds => 5,
#                         dir => "$prefix/load", mix => [
#       { name => 'jwt',  path => '/jwt', headers => [Authorization => ...] },
#       { name => 'hook', path => '/hook', method => 'POST', body => $b,
#         headers => [...] },
#   ]);
#   (headers may also be a code ref returning the list, called for each
#   request: a fresh token every time; with stop_file => $path the clients
#   also stop as soon as that file exists, so that a load can last as long
#   as whatever it accompanies)
#   ... break things ...
#   my $rec = finish_load($load);   # [name, code or 'none', ms, t, body]
#   my $fig = tally('reloads', $rec, jwt => qr/^200$/, hook => qr/^200$/);
#
# Each client cycles through the mix (starting at its own offset), one
# request at a time, 2 ms apart (pause => seconds), so that a test running
# beside it under "prove -j2" keeps some CPU; each request on a new
# connection with "Connection: close", so that none is lost to a keepalive
# connection closed under it (what is measured is the gateway, not the
# client's reuse).  Each client writes a line per request to its own file.
# tally() checks every record of each name against the codes allowed for
# it, and prints with diag() the figures it held: requests, unexpected
# answers, connection errors, p50, p99 and worst latency.
#
# Only core Perl modules and NginxGw::Util.

use strict;
use warnings;

use Exporter 'import';
use File::Path qw(make_path);
use POSIX ();
use Test::More;
use Time::HiRes qw(sleep time);

use NginxGw::Util qw(http_request);

our @EXPORT_OK = qw(start_load finish_load tally pct log_problems
                    one_request);


# one_request($port, $spec): one request of a mix entry; returns
# [name, code or 'none', ms, start time, body (first line, 60 bytes)]
sub one_request {
    my ($port, $m) = @_;

    my $t0 = time;
    my ($code, $h, $body) = http_request(
        port => $port, path => $m->{path}, method => $m->{method} || 'GET',
        headers => (ref $m->{headers} eq 'CODE' ? $m->{headers}->()
                                                : $m->{headers} || []),
        timeout => $m->{timeout} || 10,
        (defined $m->{body} ? (body => $m->{body}) : ()));
    my $ms = (time - $t0) * 1000;

    $body //= '';
    $body = (split /\n/, $body)[0] // '';
    $body = substr($body, 0, 60);
    $body =~ s/\s/_/g;
    $body = '-' if $body eq '';

    return [$m->{name}, $code // 'none', $ms, $t0, $body];
}

sub start_load {
    my (%o) = @_;

    my $clients = $o{clients} || 3;
    my $mix = $o{mix};
    my $dir = $o{dir};
    my $pause = $o{pause} // 0.002;
    my $stop = $o{stop_file};
    unlink $stop if $stop;
    make_path($dir);

    my @pids;
    for my $c (1 .. $clients) {
        my $file = "$dir/client-$c.txt";
        unlink $file;
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            %NginxGw::Util::Children = ();
            open my $fh, '>', $file or POSIX::_exit(1);
            my $end = time + $o{seconds};
            my $i = $c;
            while (time < $end && !($stop && -e $stop)) {
                my $r = one_request($o{port}, $mix->[$i++ % @$mix]);
                printf $fh "%s %s %.1f %.3f %s\n", @$r;
                sleep $pause if $pause;
            }
            close $fh;
            POSIX::_exit(0);
        }
        push @pids, [$pid, $file];
    }

    return \@pids;
}

sub finish_load {
    my ($load) = @_;
    my @rec;
    for my $p (@$load) {
        waitpid $p->[0], 0;
        open my $fh, '<', $p->[1] or next;
        push @rec, map { [split] } <$fh>;
    }
    return \@rec;
}

sub pct {
    my ($p, @v) = @_;
    @v = sort { $a <=> $b } @v;
    return 0 unless @v;
    return $v[int($p / 100 * $#v + 0.5)];
}

# tally($label, $records, name => qr/codes/, ...): one ok() per name that
# every record of that name has an allowed code, and the figures in diag.
# Returns { requests, unexpected, conn_errors, p50, p99, max, by => {...} }.
sub tally {
    my ($label, $rec, %want) = @_;

    my @ms = map { $_->[2] } @$rec;
    my $fig = { requests => scalar @$rec, p50 => pct(50, @ms),
                p99 => pct(99, @ms), max => pct(100, @ms),
                unexpected => 0, conn_errors => 0 };

    for my $name (sort keys %want) {
        my @r = grep { $_->[0] eq $name } @$rec;
        my %seen;
        $seen{$_->[1]}++ for @r;
        my @bad = grep { $_ !~ $want{$name} } keys %seen;
        $fig->{unexpected} += $seen{$_} for @bad;
        $fig->{by}{$name} = \%seen;
        ok(@r && !@bad, "$label: $name answers $want{$name} ("
           . join(', ', map { "$_ x$seen{$_}" } sort keys %seen) . ')');
    }

    $fig->{conn_errors} = grep { $_->[1] eq 'none' } @$rec;

    diag(sprintf "%s: %d requests, %d unexpected answers, %d connection "
         . "errors, latency p50 %.1f ms, p99 %.1f ms, worst %.1f ms",
         $label, $fig->{requests}, $fig->{unexpected}, $fig->{conn_errors},
         $fig->{p50}, $fig->{p99}, $fig->{max});

    return $fig;
}

# log_problems($text): the lines that no run may log: a worker killed by a
# signal, [alert], [emerg] (and [crit]).
sub log_problems {
    my ($text) = @_;
    return grep { /exited on signal|\[(?:alert|emerg|crit)\]/ }
           split /\n/, $text;
}

1;
