package NginxGw::StatusBlock;

# gw_status checks for Test::Nginx::Socket blocks, as two extra sections.
#
#   use Test::Nginx::Socket 'no_plan';
#   use NginxGw::StatusBlock qw(status_checks);
#   status_checks('breaker');           # before run_tests()
#
# --- status eval: an arrayref with one entry per response: undef or ''
# for a response that is not gw_status output, else lines of
#
#   <family> [<label>=<value> ...] <expected>
#
# where <expected> is a number (compared as a number) or "<lo>..<hi>"
# (inclusive), and $TEST_NGINX_* in a line is replaced when the check runs
# (so write the lines in single quotes).  The response is read as JSON when
# it holds a line starting {"nginx_gw" (other output around it is ignored:
# a status read by a subrequest while other requests run), else as
# Prometheus text; the value is json_value(<module>, <family>, labels), or
# prom_value("nginx_gw_<module>_<family>", labels).  A line
#
#   <family> series <n>
#
# checks how many samples the family has.  Prometheus output must also pass
# prom_parse and prom_check (promtool), and each family of the module must
# be a counter when its name ends in _total, else a gauge.
#
# --- reload_after: <n>: after response <n> (from 0), the block's
# nginx.conf is written again with "gen-1" replaced by "gen-2", the master
# gets SIGHUP, and the check waits until "GET /gen" on the test server
# answers "gen-2" ten times in a row (a location the block defines).

use strict;
use warnings;

use Exporter 'import';
use IO::Socket::INET;
use JSON::PP ();
use Test::More ();
use Time::HiRes qw(sleep time);

use NginxGw::BlockReload qw(reload_block);
use NginxGw::Status qw(prom_parse prom_value prom_check json_value);
use Test::Nginx::Socket ();

our @EXPORT_OK = qw(status_checks);


sub status_checks {
    my ($module) = @_;

    Test::Nginx::Socket::add_response_body_check(sub {
        my ($block, $body, $idx, $rep, $dry_run) = @_;

        return if $dry_run;

        my $want = $block->status;
        $want = $want->[$idx] if ref $want eq 'ARRAY';

        if (defined $want && $want =~ /\S/) {
            _check($module, $block->name . " - status of response $idx",
                   $body // '', $want);
        }

        my $after = $block->reload_after;
        reload_block($block->name) if defined $after && $after == $idx;
    });
}


sub _check {
    my ($module, $name, $body, $want) = @_;

    my ($format, $j, $m);

    if ($body =~ /^(\{"nginx_gw"[^\n]*)\n/m) {
        $format = 'json';
        $j = eval { JSON::PP::decode_json($1) };
        Test::More::ok($j, "$name: JSON that decodes")
            or return Test::More::diag($@);

    } else {
        $format = 'prometheus';
        $m = eval { prom_parse($body) };
        Test::More::ok($m, "$name: Prometheus text that parses")
            or return Test::More::diag($@, $body);

        my ($ok, $out) = prom_check($body);
        Test::More::ok($ok, "$name: promtool check metrics passes")
            or Test::More::diag($out);

        my $prefix = "nginx_gw_${module}_";
        my @bad = grep {
            index($_, $prefix) == 0
            && ($m->{families}{$_}{type} // '')
               ne (/_total\z/ ? 'counter' : 'gauge')
        } sort keys %{ $m->{families} };
        Test::More::ok(!@bad, "$name: counters are _total, gauges not")
            or Test::More::diag("wrong TYPE: @bad");
    }

    for my $line (split /\n/, $want) {
        $line =~ s/^\s+|\s+$//g;
        next if $line eq '';

        $line =~ s{\$(TEST_NGINX_[A-Z0-9_]+)}{
            $ENV{$1} // die "no environment variable $1\n"
        }ge;

        my ($family, @rest) = split ' ', $line;
        my $expected = pop @rest;
        (my $what = "$name ($format): $line") =~ s/\s+/ /g;

        if (@rest == 1 && $rest[0] eq 'series') {
            my $n = $format eq 'json'
                    ? scalar @{ $j->{$module}{$family} // [] }
                    : scalar grep { $_->{name} eq "nginx_gw_${module}_$family" }
                                  @{ $m->{samples} };
            Test::More::is($n, $expected, $what);
            next;
        }

        my %labels = map { /^([a-z_]+)=(.*)$/ or die "bad label: $_\n";
                           ($1, $2) } @rest;

        my $got = $format eq 'json'
                  ? json_value($j, $module, $family, \%labels)
                  : prom_value($m, "nginx_gw_${module}_$family", \%labels);

        if (!defined $got) {
            Test::More::fail("$what: no such sample");
            next;
        }

        if ($expected =~ /^([-\d.]+)\.\.([-\d.]+)$/) {
            my ($lo, $hi) = ($1, $2);
            Test::More::ok($got >= $lo && $got <= $hi, $what)
                or Test::More::diag("got $got");

        } else {
            Test::More::cmp_ok($got, '==', $expected, $what);
        }
    }
}


1;
