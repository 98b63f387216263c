#!/usr/bin/perl

# t/237-ratelimit-redis-sync.t: sync=100ms, the hybrid mode: workers count
# in shared memory and reconcile with Redis every 100 ms, so two nginx
# instances share one limit approximately.
#
#   - one gateway alone uses up the limit (rate=100r/m): about 100 pass;
#     a few sync intervals later the other gateway, which saw none of those
#     requests, rejects the key too once it has synced (it may admit what
#     arrives in its first interval);
#   - a burst of 40 requests on one gateway, shorter than an interval, then
#     no more requests there: the 40 reach Redis within a few intervals,
#     and the other gateway admits only the rest of the limit;
#   - both gateways at once, each receiving a paced 100 requests/s for 3 s
#     (10 per sync interval): the total admitted exceeds the limit by at
#     most the bound below, and is at least the limit;
#   - Redis killed: requests are still decided in shared memory, exactly
#     and at once (on_redis_error=local, the default).
#
# The bound: in one interval a gateway does not know what the other one
# admitted since the last reconciliation, at most one interval's requests
# (r x interval) per other gateway, and a reconciliation's answer may be
# one more interval late: over-admission <= N x r x interval x 2 = 2 x 100/s
# x 0.1 s x 2 = 40 requests.  The test asserts admitted <= limit + 40 and
# prints the measured figures.
#
# A plain Test::More test: its own redis-server and two nginx, in
# $TEST_NGINX_SERVROOT/237-ratelimit-redis-sync.

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
             . "/237-ratelimit-redis-sync";

my $limit = 100;            # per minute
my $interval = 0.1;         # sync=100ms
my $rate = 100;             # requests/s per gateway in the paced part
my $seconds = 3;
my $bound = 2 * $rate * $interval * 2;

my $redis = redis_start("$prefix/redis");
my $rp = $redis->port;

my @gw;
for my $i (1, 2) {
    my $port = free_port();
    my $n = gw_nginx("$prefix/gw$i", <<"_EOC_", workers => 2);
    gw_redis main 127.0.0.1:$rp;
    gw_ratelimit_zone z key=\$arg_k rate=${limit}r/m redis=main sync=100ms;
    gw_ratelimit_zone small key=\$arg_k rate=5r/m redis=main sync=100ms;

    server {
        listen 127.0.0.1:$port;
        add_header X-RL-Status \$gw_ratelimit_status always;
        location / { gw_ratelimit z; echo ok; }
        location /small { gw_ratelimit small; echo ok; }
    }
_EOC_
    push @gw, { nginx => $n, port => $port };
}

# --- one gateway uses the limit up, the other learns it -------------------

# paced over about 0.6 s (4 ms apart), so that several syncs happen during
# the requests themselves
my $pass1 = 0;
for (1 .. 150) {
    $pass1++ if (timed_get($gw[0]{port}, '/?k=alone')->{code} // 0) == 200;
    sleep 0.004;
}
ok($pass1 >= $limit && $pass1 <= $limit + 10,
   "gateway 1 alone, paced: $pass1 of 150 pass (limit $limit)");

# Gateway 2 has no entry for the key yet: it may admit what comes in its
# first interval before it first hears from Redis, no more.  10 requests
# 30 ms apart: the last 5 (after 150 ms) must be rejected.
sleep 4 * $interval;
my @other;
for (1 .. 10) {
    push @other, timed_get($gw[1]{port}, '/?k=alone')->{code} // 'none';
    sleep 0.03;
}
my $other_pass = grep { $_ eq '200' } @other;
is(join(' ', @other[5 .. 9]), '429 429 429 429 429',
   'gateway 2, 4 intervals later: the key is used up there too after '
   . 'its first sync (' . join(' ', @other) . ')');
ok($other_pass <= 5, "gateway 2 admitted $other_pass in its first interval");

my @k = $redis->keys('*alone*');
ok(@k >= 1, "the count is in Redis (@k)");

# A burst shorter than one interval, then silence on that gateway: what it
# admitted must still reach Redis within about an interval ("reconcile
# every interval"), not wait for that gateway's next request.
my $t_burst = time;
my $pass2 = 0;
for (1 .. 40) {
    $pass2++ if (timed_get($gw[0]{port}, '/?k=burst')->{code} // 0) == 200;
}
my $burst_ms = (time - $t_burst) * 1000;
sleep 5 * $interval;
my @k2 = $redis->keys('*burst*');
my $in_redis = @k2 ? $redis->cli('HGET', $k2[0], 'c') : 'no key';
ok(@k2 >= 1, sprintf 'a burst of 40 (%d admitted, %.0f ms), then silence: '
   . 'reconciled with Redis within 5 intervals (Redis count: %s)', $pass2,
   $burst_ms, $in_redis);
# gateway 2, 80 requests 15 ms apart: after its first interval (about 7
# requests) it knows the 40, so it admits at most the 60 left and those 7
my $pass3 = 0;
for (1 .. 80) {
    $pass3++
        if (timed_get($gw[1]{port}, '/?k=burst')->{code} // 0) == 200;
    sleep 0.015;
}
ok($pass3 <= $limit - $pass2 + 15,
   "gateway 2 then admits about the rest only: $pass3 <= $limit - $pass2"
   . " + 15");

# --- both at once, paced ---------------------------------------------------

my $t0 = time + 0.2;
my @kids;
for my $g (0, 1) {
    my $file = "$prefix/paced-$g.txt";
    unlink $file;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open my $fh, '>', $file or POSIX::_exit(1);
        my $n = $rate * $seconds;
        for my $i (0 .. $n - 1) {
            my $at = $t0 + $i / $rate;
            my $now = time;
            sleep $at - $now if $at > $now;
            my $r = timed_get($gw[$g]{port}, '/?k=both');
            printf $fh "%.3f %s\n", time - $t0, $r->{code} // 'none';
        }
        close $fh;
        POSIX::_exit(0);
    }
    push @kids, [$pid, $file];
}

my (%pass, $total, $late, $sent);
for my $k (@kids) {
    waitpid $k->[0], 0;
    open my $fh, '<', $k->[1] or die "$k->[1]: $!";
    while (<$fh>) {
        my ($t, $code) = split;
        $sent++;
        next unless $code eq '200';
        $total++;
        $pass{ $k->[1] }++;
        $late++ if $t > $seconds - 1;
    }
}
$total //= 0;
diag(sprintf 'sync=100ms, two gateways at %d r/s each for %d s: %d of %d '
     . 'admitted (limit %d, over by %d, bound %d), %d in the last second',
     $rate, $seconds, $total, $sent, $limit, $total - $limit, $bound,
     $late // 0);

is($sent, 2 * $rate * $seconds, 'every paced request was answered');
ok($total >= $limit, "at least the limit admitted ($total >= $limit)");
ok($total <= $limit + $bound,
   "over-admission within the bound ($total <= $limit + $bound)");
ok(!$late, 'nothing admitted in the last second (the limit holds)');

# --- Redis gone: the hybrid mode goes on in shared memory ----------------

$redis->kill;
my ($slow, @codes) = (0);
for (1 .. 7) {
    my $r = timed_get($gw[0]{port}, '/small?k=gone');
    push @codes, $r->{code} // 'none';
    $slow = $r->{ms} if $r->{ms} > $slow;
    sleep 0.03;
}
is(join(' ', @codes), '200 200 200 200 200 429 429',
   'Redis killed: sync=100ms counts on in shared memory, exactly');
ok($slow < 300, sprintf 'each request within 300 ms (slowest %.0f ms)',
   $slow);

# --- log ---------------------------------------------------------------------

for my $i (0, 1) {
    my $log = $gw[$i]{nginx}->error_log_text;
    my @bad = grep { /\[(error|crit|alert|emerg)\]/
                    && !/limiting requests by zone/
                    && !/127\.0\.0\.1:$rp\b|gw_redis "main"/ }
              split /\n/, $log;
    is(scalar @bad, 0,
       "gateway " . ($i + 1) . ": no errors in the log but rejections "
       . "and the Redis kill's")
        or diag(join "\n", @bad);
    is($gw[$i]{nginx}->stop, 0, "gateway " . ($i + 1) . " exits cleanly");
}

done_testing();
