#!/usr/bin/perl

# t/231-ratelimit-redis-keys.t: what gw_ratelimit leaves in Redis.  The
# limiter's keys are really there (the count is not kept in nginx), each
# with a TTL no longer than about two windows, all keys of one limiter key
# in one Cluster hash slot ({hash tag}), different limiter keys in keys of
# their own; keys expire after their window; and the script survives
# SCRIPT FLUSH (EVALSHA answers NOSCRIPT, the client sends EVAL and the
# count goes on exactly); gw_redis unix:/path works.
#
# A plain Test::More test with a redis-server of its own (so that SCAN sees
# only this test's keys) and one nginx, from
# $TEST_NGINX_SERVROOT/231-ratelimit-redis-keys.

use strict;
use warnings;

use Test::More;
use FindBin;
use Cwd qw(abs_path);
use Time::HiRes qw(sleep time);

use lib "$FindBin::Bin/lib";
use NginxGw::Util qw(free_port);
use NginxGw::Redis qw(redis_available redis_start gw_nginx timed_get keyslot);

plan skip_all => 'redis-server not installed' unless redis_available();

my $root = abs_path("$FindBin::Bin/..");
my $prefix = ($ENV{TEST_NGINX_SERVROOT} // "$root/build/t")
             . "/231-ratelimit-redis-keys";

my $redis = redis_start("$prefix/redis",
                        config => ["unixsocket $prefix/redis/redis.sock",
                                   "unixsocketperm 777"]);
my $port = free_port();
my $rp = $redis->port;

my $nginx = gw_nginx("$prefix/nginx", <<"_EOC_");
    gw_redis main 127.0.0.1:$rp timeout=$ENV{TEST_NGINX_REDIS_TIMEOUT};
    gw_redis sock unix:$prefix/redis/redis.sock
                  timeout=$ENV{TEST_NGINX_REDIS_TIMEOUT};
    gw_ratelimit_zone sw key=\$arg_k rate=5r/m redis=main;
    gw_ratelimit_zone tb key=\$arg_k rate=5r/m algorithm=token_bucket
                      redis=main;
    gw_ratelimit_zone short key=\$arg_k rate=2r/s window=1s redis=main;
    gw_ratelimit_zone ns key=\$arg_k rate=6r/m redis=main;
    gw_ratelimit_zone unix key=\$arg_k rate=2r/m redis=sock
                      on_redis_error=deny;

    server {
        listen 127.0.0.1:$port;
        location /sw    { gw_ratelimit sw;    echo ok; }
        location /tb    { gw_ratelimit tb;    echo ok; }
        location /short { gw_ratelimit short; echo ok; }
        location /ns    { gw_ratelimit ns;    echo ok; }
        location /unix  { gw_ratelimit unix;  echo ok; }
    }
_EOC_

sub codes {
    my ($path, $n) = @_;
    return join ' ', map { timed_get($port, $path)->{code} // 'none' } 1 .. $n;
}

# The keys of one limiter key: those whose name contains the key's value.
sub keys_of {
    my ($value) = @_;
    return $redis->keys("*$value*");
}

sub check_keys {
    my ($what, $value, $max_ttl_ms) = @_;

    my @k = keys_of($value);
    ok(@k >= 1, "$what: the limiter's key(s) are in Redis: @k")
        or return;

    my %slots = map { keyslot($_) => 1 } @k;
    is(scalar keys %slots, 1, "$what: all in one hash slot");
    ok((grep { /\{[^}]+\}/ } @k) == @k,
       "$what: every key has a {hash tag}");

    for my $k (@k) {
        my $pttl = $redis->cli('PTTL', $k);
        ok($pttl =~ /^\d+$/ && $pttl > 0 && $pttl <= $max_ttl_ms,
           "$what: $k expires (PTTL $pttl ms, at most $max_ttl_ms)");
    }
    return @k;
}

# --- sliding window ------------------------------------------------------

is(codes('/sw?k=alpha-sw', 6), '200 200 200 200 200 429',
   'sliding window: 5 of 6 pass');
my @alpha = check_keys('sliding window', 'alpha-sw', 121_000);

is(codes('/sw?k=beta-sw', 1), '200', 'another limiter key passes');
my @beta = keys_of('beta-sw');
ok(@beta >= 1, "another limiter key has keys of its own: @beta");
my %a = map { $_ => 1 } @alpha;
ok(!(grep { $a{$_} } @beta), 'no key shared by two limiter keys');

# --- token bucket --------------------------------------------------------

is(codes('/tb?k=alpha-tb', 6), '200 200 200 200 200 429',
   'token bucket: 5 of 6 pass');
check_keys('token bucket', 'alpha-tb', 121_000);

# the two zones with the same limiter key do not share keys
my %sw = map { $_ => 1 } keys_of('alpha-sw');
ok(!(grep { $sw{$_} } keys_of('alpha-tb')),
   'two zones, same key value: keys of their own');

# --- expiry --------------------------------------------------------------

is(codes('/short?k=gamma-exp', 3), '200 200 429', 'rate=2r/s window=1s');
check_keys('window=1s', 'gamma-exp', 2_100);
my $until = time + 5;
sleep 0.2 while (() = keys_of('gamma-exp')) && time < $until;
is(scalar(() = keys_of('gamma-exp')), 0, 'window=1s: the keys expired');
is(codes('/short?k=gamma-exp', 1), '200', 'and the key passes again');

# --- NOSCRIPT ------------------------------------------------------------

my $stats_before = $redis->info('commandstats');

is(codes('/ns?k=delta-ns', 3), '200 200 200', 'rate=6r/m: 3 pass');
is($redis->cli('SCRIPT', 'FLUSH'), 'OK', 'SCRIPT FLUSH');
is(codes('/ns?k=delta-ns', 4), '200 200 200 429',
   'after SCRIPT FLUSH the count goes on: 3 more pass, then 429');

my $stats = $redis->info('commandstats');
my ($evalsha) = ($stats->{cmdstat_evalsha} // '') =~ /calls=(\d+)/;
my ($eval) = ($stats->{cmdstat_eval} // '') =~ /calls=(\d+)/;
ok(($evalsha // 0) >= 7, 'scripts run by EVALSHA (calls=' . ($evalsha // 0)
   . ')');
ok(($eval // 0) >= 1 && ($eval // 0) <= 3,
   'EVAL only after NOSCRIPT (calls=' . ($eval // 0) . ')');
my ($rej) = ($stats->{cmdstat_evalsha} // '') =~ /failed_calls=(\d+)/;
ok(($rej // 0) >= 1, 'EVALSHA failed with NOSCRIPT at least once');

# a second flush, in the middle of a burst: nothing fails
$redis->cli('SCRIPT', 'FLUSH');
is(codes('/ns?k=epsilon-ns', 7), '200 200 200 200 200 200 429',
   'a fresh key right after SCRIPT FLUSH: exact');

# --- a Unix socket -------------------------------------------------------

is(codes('/unix?k=zeta-unix', 3), '200 200 429',
   'gw_redis unix:/path: exact (on_redis_error=deny, so Redis answered)');
ok((() = keys_of('zeta-unix')) >= 1, 'the keys are in Redis');

# --- the error log -------------------------------------------------------

my $log = $nginx->error_log_text;
my @bad = grep { /\[(error|crit|alert|emerg)\]/
                && !/limiting requests by zone/ } split /\n/, $log;
is(scalar @bad, 0, 'no errors in the error log but rejections')
    or diag(join "\n", @bad);

is($nginx->stop, 0, 'nginx exits cleanly');

done_testing();
