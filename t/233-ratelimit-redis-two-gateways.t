#!/usr/bin/perl

# t/233-ratelimit-redis-two-gateways.t: two nginx instances (two workers
# each) sharing one Redis hold one global limit exactly: with rate=10r/m,
# exactly ten requests pass in all, whether the requests alternate between
# the gateways or arrive at both at once from several clients; for both
# algorithms.
#
# A plain Test::More test: one redis-server of its own and two nginx, in
# $TEST_NGINX_SERVROOT/233-ratelimit-redis-two-gateways.

use strict;
use warnings;

use Test::More;
use FindBin;
use Cwd qw(abs_path);
use POSIX ();
use Time::HiRes qw(sleep time);

use lib "$FindBin::Bin/lib";
use NginxGw::Util qw(free_port);
use NginxGw::Redis qw(redis_available redis_start gw_nginx timed_get);

plan skip_all => 'redis-server not installed' unless redis_available();

my $root = abs_path("$FindBin::Bin/..");
my $prefix = ($ENV{TEST_NGINX_SERVROOT} // "$root/build/t")
             . "/233-ratelimit-redis-two-gateways";

my $redis = redis_start("$prefix/redis");
my $rp = $redis->port;

my @gw;
for my $i (1, 2) {
    my $port = free_port();
    my $n = gw_nginx("$prefix/gw$i", <<"_EOC_", workers => 2);
    gw_redis main 127.0.0.1:$rp timeout=$ENV{TEST_NGINX_REDIS_TIMEOUT};
    gw_ratelimit_zone sw key=\$arg_k rate=10r/m redis=main;
    gw_ratelimit_zone tb key=\$arg_k rate=10r/m algorithm=token_bucket
                      redis=main;

    server {
        listen 127.0.0.1:$port reuseport;
        location /sw { gw_ratelimit sw; echo ok; }
        location /tb { gw_ratelimit tb; echo ok; }
    }
_EOC_
    push @gw, { nginx => $n, port => $port };
}

# --- alternating ---------------------------------------------------------

for my $z (qw(sw tb)) {
    my (@codes, %pass);
    for my $i (0 .. 19) {
        my $g = $i % 2;
        my $r = timed_get($gw[$g]{port}, "/$z?k=alt-$z");
        push @codes, $r->{code} // 'none';
        $pass{$g}++ if ($r->{code} // 0) == 200;
    }
    is(join(' ', @codes), join(' ', ('200') x 10, ('429') x 10),
       "$z: alternating between two gateways, the first 10 pass");
    is($pass{0}, 5, "$z: 5 through gateway 1");
    is($pass{1}, 5, "$z: 5 through gateway 2");
}

# --- at once: 4 clients per gateway, 10 requests each ---------------------

# Each client is a child process writing one line per request:
# "<gateway> <status>".

sub burst {
    my ($path, $clients, $each) = @_;

    my $out = "$prefix/burst-" . ($path =~ s/\W/_/gr) . '.txt';
    unlink $out;

    my $t0 = time;
    my @pids;
    for my $c (0 .. $clients * 2 - 1) {
        my $g = $c % 2;
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            my @lines;
            for (1 .. $each) {
                my $r = timed_get($gw[$g]{port}, $path);
                push @lines, "$g " . ($r->{code} // 'none') . "\n";
            }
            open my $fh, '>>', $out or POSIX::_exit(1);
            print $fh @lines;
            close $fh;
            POSIX::_exit(0);
        }
        push @pids, $pid;
    }
    waitpid $_, 0 for @pids;
    my $elapsed = time - $t0;

    open my $fh, '<', $out or die "$out: $!";
    my %n;
    while (<$fh>) {
        my ($g, $code) = split;
        $n{$code}++;
        $n{"gw$g-$code"}++;
    }
    $n{elapsed} = $elapsed;
    return \%n;
}

# The token bucket refills one token every 6 s: a burst that takes longer
# (a very busy machine) may see one more pass.
for my $z (qw(sw tb)) {
    my $n = burst("/$z?k=burst-$z", 4, 10);
    my $extra = $z eq 'tb' ? int($n->{elapsed} / 6) : 0;
    my $ok = ($n->{200} // 0) >= 10 && ($n->{200} // 0) <= 10 + $extra;
    ok($ok, "$z: 80 requests at once through two gateways: "
       . ($extra ? "10 (+$extra refilled)" : "exactly 10")
       . " pass: " . ($n->{200} // 0) . " (gateway 1: "
       . ($n->{'gw0-200'} // 0) . ", gateway 2: " . ($n->{'gw1-200'} // 0)
       . sprintf(", %.1f s)", $n->{elapsed}));
    is(($n->{200} // 0) + ($n->{429} // 0), 80, "$z: the others rejected");
}

# --- logs ---------------------------------------------------------------

for my $i (0, 1) {
    my $log = $gw[$i]{nginx}->error_log_text;
    my @bad = grep { /\[(error|crit|alert|emerg)\]/
                    && !/limiting requests by zone/ } split /\n/, $log;
    is(scalar @bad, 0,
       "gateway " . ($i + 1) . ": no errors in the log but rejections")
        or diag(join "\n", @bad);
    is($gw[$i]{nginx}->stop, 0, "gateway " . ($i + 1) . " exits cleanly");
}

done_testing();
