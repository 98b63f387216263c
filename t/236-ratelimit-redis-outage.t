#!/usr/bin/perl

# t/236-ratelimit-redis-outage.t: Redis killed, frozen and restarted under
# load, for each on_redis_error policy at once (three zones on one gw_redis
# with timeout=50ms, in one nginx with two workers):
#
#   local  every request is decided in shared memory: 200 at a rate never
#          reached, and a 5r/m key started during the outage gets exactly
#          5 passes;
#   allow  200, with $gw_ratelimit_status ERROR;
#   deny   503.
#
# Phases: Redis up (baseline), killed (SIGKILL: connections refused),
# restarted (recovery), frozen (SIGSTOP: connections accepted by the
# kernel, nothing answered, the case where only the timeout helps), thawed
# (SIGCONT, recovery), and killed and restarted while the load runs.
# In every phase every request must be answered within the latency bound:
# timeout (50 ms) + margin, 300 ms by default (GW_TEST_REDIS_MAX_MS to
# change it): enough for a loaded 2-core machine, far below the seconds a
# request would take if it waited on a dead Redis (connect or read
# timeouts).  After SIGCONT and after a restart the limiter must be back on
# Redis (PASSED, 200 for deny) within 10 s.
#
# Load: 3 client processes, each sending GET /local, /allow, /deny in turn
# on new connections, 2 ms apart.
#
# A plain Test::More test: its own redis-server and nginx, in
# $TEST_NGINX_SERVROOT/236-ratelimit-redis-outage.

use strict;
use warnings;

use Test::More;
use FindBin;
use Cwd qw(abs_path);
use POSIX ();
use Time::HiRes qw(sleep time);

use lib "$FindBin::Bin/lib";
use NginxGw::Util qw(free_port);
use NginxGw::Chaos qw(finish_load pct);
use NginxGw::Redis qw(redis_available redis_start gw_nginx timed_get);

plan skip_all => 'redis-server not installed' unless redis_available();
plan skip_all => 'under valgrind: the phases measure latencies (300 ms '
                 . 'bounds) with timeout=50ms'
    if $ENV{TEST_NGINX_USE_VALGRIND};

my $root = abs_path("$FindBin::Bin/..");
my $prefix = ($ENV{TEST_NGINX_SERVROOT} // "$root/build/t")
             . "/236-ratelimit-redis-outage";

my $max_ms = $ENV{GW_TEST_REDIS_MAX_MS} || 300;
my $clients = 3;

my $redis = redis_start("$prefix/redis");
my $rp = $redis->port;
my $port = free_port();

my $nginx = gw_nginx("$prefix/nginx", <<"_EOC_", workers => 2);
    gw_redis main 127.0.0.1:$rp timeout=50ms;

    gw_ratelimit_zone hi_local key=hi rate=100000r/s redis=main
                      on_redis_error=local;
    gw_ratelimit_zone hi_allow key=hi rate=100000r/s redis=main
                      on_redis_error=allow;
    gw_ratelimit_zone hi_deny  key=hi rate=100000r/s redis=main
                      on_redis_error=deny;
    gw_ratelimit_zone lo_local key=\$arg_k rate=5r/m redis=main
                      on_redis_error=local;

    server {
        listen 127.0.0.1:$port;
        add_header X-RL-Status \$gw_ratelimit_status always;
        location = /local { gw_ratelimit hi_local; echo ok; }
        location = /allow { gw_ratelimit hi_allow; echo ok; }
        location = /deny  { gw_ratelimit hi_deny;  echo ok; }
        location = /low   { gw_ratelimit lo_local; echo ok; }
    }
_EOC_

my @paths = qw(/local /allow /deny);

# --- load ------------------------------------------------------------------

# start_load($name, $seconds): $clients children, each writing
# "path code status ms" lines to its own file.  finish_load() (NginxGw::Chaos)
# waits for them and returns the records [path, code, status, ms].

sub start_load {
    my ($name, $seconds) = @_;
    my @pids;
    for my $c (1 .. $clients) {
        my $file = "$prefix/load-$name-$c.txt";
        unlink $file;
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            open my $fh, '>', $file or POSIX::_exit(1);
            my $end = time + $seconds;
            my $i = $c;
            while (time < $end) {
                my $path = $paths[$i++ % @paths];
                my $r = timed_get($port, $path, timeout => 10);
                printf $fh "%s %s %s %.1f\n", $path, $r->{code} // 'none',
                       $r->{h}{'x-rl-status'} // '-', $r->{ms};
                sleep 0.002;
            }
            close $fh;
            POSIX::_exit(0);
        }
        push @pids, [$pid, $file];
    }
    return \@pids;
}

sub run_load { finish_load(start_load(@_)) }

# check_phase($name, $records, %want): want per path a regex of
# "code status" every record must match; the latency bound on all.
sub check_phase {
    my ($name, $rec, %want) = @_;

    ok(@$rec >= 30, "$name: " . scalar(@$rec) . " requests");

    my @ms = map { $_->[3] } @$rec;
    my $max = pct(100, @ms);
    ok($max < $max_ms, sprintf "%s: every request within %d ms "
       . "(p50 %.1f, p99 %.1f, max %.1f ms)", $name, $max_ms, pct(50, @ms),
       pct(99, @ms), $max);

    my $unexpected = 0;
    for my $path (sort keys %want) {
        my @r = grep { $_->[0] eq $path } @$rec;
        my %seen;
        $seen{"$_->[1] $_->[2]"}++ for @r;
        my @bad = grep { !/^$want{$path}$/ } keys %seen;
        $unexpected += $seen{$_} for @bad;
        ok(@r && !@bad, "$name: $path answers /$want{$path}/ ("
           . join(', ', map { "$_ x$seen{$_}" } sort keys %seen) . ')');
    }

    # the figures, also outside prove -v (as t/9NN-chaos-*.t print theirs)
    diag(sprintf "236 %s: %d requests, %d unexpected answers, %d "
         . "connection errors, latency p50 %.1f ms, p99 %.1f ms, worst "
         . "%.1f ms", $name, scalar @$rec, $unexpected,
         scalar(grep { $_->[1] eq 'none' } @$rec), pct(50, @ms),
         pct(99, @ms), $max);
}

# wait_recovery($name): until 30 requests in a row are back on Redis
# (/deny 200 PASSED, /allow PASSED); returns the seconds it took or undef.
sub wait_recovery {
    my ($name, $since) = @_;
    my $deadline = time + 10;
    my $row = 0;
    while (time < $deadline) {
        my $ok = 1;
        for my $path ('/deny', '/allow') {
            my $r = timed_get($port, $path);
            $ok = 0 unless ($r->{code} // 0) == 200
                           && ($r->{h}{'x-rl-status'} // '') eq 'PASSED';
        }
        $row = $ok ? $row + 1 : 0;
        return time - $since if $row >= 15;
        sleep 0.01;
    }
    return undef;
}

my $UP = qr/200 PASSED/;

# --- phases -----------------------------------------------------------------

check_phase('Redis up', run_load('up', 1),
            '/local' => $UP, '/allow' => $UP, '/deny' => $UP);

# killed
$redis->kill;
check_phase('Redis killed', run_load('killed', 2),
            '/local' => '200 \S+', '/allow' => '200 ERROR',
            '/deny' => '503 \S+');

my @low = map { timed_get($port, '/low?k=during-kill')->{code} // 'none' }
          1 .. 7;
is(join(' ', @low), '200 200 200 200 200 429 429',
   'Redis killed, local: a 5r/m key is counted exactly in shared memory');

# restarted
my $t = time;
$redis->restart;
my $rec = wait_recovery('restart', $t);
ok(defined $rec, sprintf 'after a restart, back on Redis in %s s',
   defined $rec ? sprintf('%.2f', $rec) : 'more than 10');
check_phase('Redis restarted', run_load('restarted', 1),
            '/local' => $UP, '/allow' => $UP, '/deny' => $UP);

# frozen
$redis->freeze;
check_phase('Redis frozen', run_load('frozen', 2),
            '/local' => '200 \S+', '/allow' => '200 ERROR',
            '/deny' => '503 \S+');

# thawed
$t = time;
$redis->thaw;
$rec = wait_recovery('thaw', $t);
ok(defined $rec, sprintf 'after SIGCONT, back on Redis in %s s',
   defined $rec ? sprintf('%.2f', $rec) : 'more than 10');
check_phase('Redis thawed', run_load('thawed', 1),
            '/local' => $UP, '/allow' => $UP, '/deny' => $UP);

# killed and restarted while the load runs
my $load = start_load('bounce', 3);
sleep 0.7;
$redis->kill;
sleep 0.8;
$t = time;
$redis->restart;
$rec = finish_load($load);
check_phase('Redis killed and restarted under load', $rec,
            '/local' => '200 \S+', '/allow' => '200 (PASSED|ERROR)',
            '/deny' => '(200 PASSED|503 \S+)');
my $back = wait_recovery('bounce', $t);
ok(defined $back, sprintf 'and back on Redis %s s after the restart',
   defined $back ? sprintf('%.2f', $back) : 'more than 10');

# --- log ----------------------------------------------------------------------

my $log = $nginx->error_log_text;
unlike($log, qr/\[(crit|alert|emerg)\]/, 'no crit, alert, emerg')
    or diag(join "\n", grep { /\[(crit|alert|emerg)\]/ } split /\n/, $log);
unlike($log, qr/exited on signal/, 'no worker crashed');
like($log, qr/\[error\].*(refused|timed out|timeout)/i,
     'the error log says why Redis failed');
# the client logs a failure at "error" once per attempt (then backs off);
# the module's lines for each failed command and each request that
# on_redis_error=deny denies are at "info" (counted apart, if any)
my @err = grep { /\[error\]/ && !/limiting requests by zone/ }
          split /\n/, $log;
my $denied = grep { /denying the request/ } @err;
my $errors = @err - $denied;
ok($errors < 300, "Redis failures are not logged for every request ($errors "
   . "lines; and $denied \"denying the request\" lines)");

is($nginx->stop, 0, 'nginx exits cleanly');

done_testing();
