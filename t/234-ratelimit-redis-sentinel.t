#!/usr/bin/perl

# t/234-ratelimit-redis-sentinel.t: gw_redis ... sentinel=<master-name>.
# Two redis-servers, the second a replica of the first, and one Sentinel
# (quorum 1, down-after 500 ms, failover-timeout 2 s) watching them; nginx
# knows only the sentinel.  The limiter works against the master; then the
# master is killed (SIGKILL), the sentinel promotes the replica, and the
# limiter goes on against the new master, with the count it had (the keys
# were replicated): 20r/m lets exactly 20 requests through in all, before
# and after the failover.  During the failover on_redis_error=deny answers
# 503 (so no request is counted anywhere but in Redis), quickly.  A
# sentinel that is down, listed before the live one, is skipped.
#
# A plain Test::More test: its own redis-servers, sentinel and nginx, in
# $TEST_NGINX_SERVROOT/234-ratelimit-redis-sentinel.

use strict;
use warnings;

use Test::More;
use FindBin;
use Cwd qw(abs_path);
use Time::HiRes qw(sleep time);

use lib "$FindBin::Bin/lib";
use NginxGw::Util qw(free_port);
use NginxGw::Redis qw(redis_available redis_start sentinel_start gw_nginx
                      timed_get);

plan skip_all => 'redis-server not installed' unless redis_available();

my $root = abs_path("$FindBin::Bin/..");
my $prefix = ($ENV{TEST_NGINX_SERVROOT} // "$root/build/t")
             . "/234-ratelimit-redis-sentinel";

my $master  = redis_start("$prefix/master");
my $replica = redis_start("$prefix/replica", replicaof => $master);
my $sentinel = sentinel_start("$prefix/sentinel", master => $master,
                              name => 'gwmaster', replicas => 1);
my $sp = $sentinel->port;
my $dead = free_port();         # nothing listens there
my $port = free_port();

# 100ms; under valgrind the knob's 5s, as the first sentinel query of a
# worker under memcheck takes longer than 100ms
my $timeout = $ENV{TEST_NGINX_USE_VALGRIND} ? $ENV{TEST_NGINX_REDIS_TIMEOUT}
                                            : '100ms';

my $nginx = gw_nginx("$prefix/nginx", <<"_EOC_", workers => 2);
    gw_redis ha 127.0.0.1:$sp sentinel=gwmaster timeout=$timeout;
    gw_ratelimit_zone z key=\$arg_k rate=20r/m redis=ha on_redis_error=deny;

    # a sentinel that is down, listed first
    gw_redis ha2 127.0.0.1:$dead 127.0.0.1:$sp sentinel=gwmaster
                 timeout=$timeout;
    gw_ratelimit_zone z2 key=\$arg_k rate=20r/m redis=ha2
                      on_redis_error=deny;

    server {
        listen 127.0.0.1:$port;
        add_header X-RL-Status \$gw_ratelimit_status always;
        location / { gw_ratelimit z; echo ok; }
        location /two { gw_ratelimit z2; echo ok; }
    }
_EOC_

my %n;
my $slowest = 0;

sub req {
    my $r = timed_get($port, '/?k=fo');
    my $c = $r->{code} // 'none';
    $n{$c}++;
    $slowest = $r->{ms} if $r->{ms} > $slowest;
    return $r;
}

# --- before -------------------------------------------------------------

my @before = map { req()->{code} // 'none' } 1 .. 8;
is(join(' ', @before), join(' ', ('200') x 8),
   'through the sentinel: 8 pass');
my @k = $master->keys('*fo*');
ok(@k >= 1, "the keys are on the master (@k)");

# the first sentinel listed is down: the client asks the next one (the
# first request may be decided by on_redis_error while it does)
my @two = map { timed_get($port, '/two?k=two')->{code} // 'none' } 1 .. 6;
my $two = join ' ', @two;
$two =~ s/^(503 )+//;
ok($two =~ /^200( 200){3,}$/, 'a dead sentinel listed first: the next one '
   . 'is asked (' . join(' ', @two) . ')');

# the replica has them before the master goes
is(scalar $master->cli('WAIT', 1, 2000), 1, 'the replica is in sync');
my $want = join ',', map { $master->cli('HGETALL', $_) } @k;
my $until = time + 5;
sleep 0.05 while join(',', map { $replica->cli('HGETALL', $_) } @k) ne $want
                 && time < $until;
is(join(',', map { $replica->cli('HGETALL', $_) } @k), $want,
   'the replica has the keys, with the same values');

# --- failover -----------------------------------------------------------

my $t_kill = time;
$master->kill;

my ($first_ok, $during_slowest, @during) = (undef, 0);
my $deadline = time + 20;
while (time < $deadline) {
    my $r = req();
    my $c = $r->{code} // 'none';
    push @during, $c;
    $during_slowest = $r->{ms} if $r->{ms} > $during_slowest;
    if ($c eq '200') {
        $first_ok = $r;
        last;
    }
    sleep 0.05;
}
my $recovered_after = time - $t_kill;
my $new = $sentinel->master_addr;

is($new, $replica->addr, 'the sentinel promoted the replica');
ok($first_ok, sprintf 'the limiter works again %.1f s after the kill',
   $recovered_after);
ok($recovered_after < 10, 'within 10 s');
ok(!(grep { $_ ne '503' && $_ ne '200' } @during),
   'during the failover: 503 (on_redis_error=deny) and nothing else: '
   . join(' ', @during[0 .. ($#during > 20 ? 20 : $#during)]));
ok($during_slowest < 1000,
   sprintf 'every request during the failover took < 1 s (slowest %.0f ms)',
   $during_slowest);
is($first_ok->{h}{'x-ratelimit-remaining'}, 11,
   'the count went on on the new master: 9th request, 11 remaining')
    if $first_ok;

# --- after: exactly 20 in all -------------------------------------------

# the other worker may still be backing off from its own failure: its
# 503s are not counted in Redis, so skip them (for 15 s at most)
my (@after, $late503);
$deadline = time + 15;
while (@after < 13 && time < $deadline) {
    my $c = req()->{code} // 'none';
    if ($c eq '503') {
        $late503++;
        sleep 0.1;
        next;
    }
    push @after, $c;
}
is(join(' ', @after), join(' ', ('200') x 11, '429', '429'),
   'after the failover: 11 more pass, then 429'
   . ($late503 ? " ($late503 late 503s skipped)" : ''));
is($n{200}, 20, 'exactly 20 passed in all');
ok((() = $replica->keys('*fo*')) >= 1, 'the keys are on the new master');

my $log = $nginx->error_log_text;
unlike($log, qr/\[(crit|alert|emerg)\]/, 'no crit, alert, emerg');
like($log, qr/\[error\].*127\.0\.0\.1:${\ $master->port}/,
     'the error log names the master that went away');

is($nginx->stop, 0, 'nginx exits cleanly');

done_testing();
