#!/usr/bin/perl

# t/220-ratelimit-sync-local.t: the local side of redis= zones.
#
#  - sync= (hybrid): requests are decided in shared memory; the delta is
#    sent to Redis once per interval (one EVALSHA per interval and key, not
#    per request), and Redis's global count replaces the local view;
#  - sync=: a burst then silence is flushed to Redis by the workers' timer
#    within two intervals, once (not once per worker), under the same key
#    name as a request's sync (a key over 256 bytes by its SHA-256 in hex,
#    as in a plain redis= zone);
#  - on_redis_error: local (shared-memory counting), allow (ERROR, no
#    headers), deny (503) when Redis is down; a hybrid zone keeps deciding
#    locally when Redis is down;
#  - a plain redis= zone counts in Redis, in the key gw:rl:{<zone>:<key>}:sw
#    that expires.
#
# A plain Test::More test, as it talks to Redis between requests (with
# redis-cli) to check and to play the other hosts.  Needs
# TEST_NGINX_REDIS_PORT (t/run starts a redis-server).

use strict;
use warnings;

use Test::More;
use FindBin;
use Cwd qw(abs_path);
use File::Path qw(remove_tree make_path);
use POSIX qw(floor);
use Time::HiRes qw(sleep time);
use Digest::SHA qw(sha256_hex);

use lib "$FindBin::Bin/lib";
use NginxGw::Util qw(free_port start_nginx http_request);

my $rport = $ENV{TEST_NGINX_REDIS_PORT};
plan skip_all => 'no TEST_NGINX_REDIS_PORT (run under t/run)' unless $rport;

my $root = abs_path("$FindBin::Bin/..");
my $prefix = ($ENV{TEST_NGINX_SERVROOT} // "$root/build/t")
             . "/220-ratelimit-sync-local";
my @modules = split ' ', ($ENV{TEST_NGINX_LOAD_MODULES}
                 // "$root/build/modules/ngx_http_gw_ratelimit_module.so");

my $port = free_port();
my $dead = free_port();         # nothing listens there
my $user = $> == 0 ? "user root;\n" : '';
my $load = join '', map { "load_module $_;\n" } @modules;

sub redis { my $out = `redis-cli -p $rport @_ 2>&1`; chomp $out; $out }

redis('FLUSHALL');

my $conf = <<"_EOC_";
${load}${user}worker_processes 2;
master_process on;
error_log logs/error.log info;

events {
    worker_connections 64;
}

http {
    access_log off;

    gw_redis r 127.0.0.1:$rport timeout=500ms;
    gw_redis down 127.0.0.1:$dead timeout=100ms;

    gw_ratelimit_zone hyb key=\$arg_k rate=5r/m redis=r sync=300ms;
    gw_ratelimit_zone many key=\$arg_k rate=1000r/m redis=r sync=1s;
    gw_ratelimit_zone silent key=\$arg_k rate=100r/m redis=r sync=200ms;
    gw_ratelimit_zone hdown key=\$arg_k rate=3r/m redis=down sync=100ms;
    gw_ratelimit_zone local key=\$arg_k rate=3r/m redis=down;
    gw_ratelimit_zone allow key=\$arg_k rate=3r/m redis=down on_redis_error=allow;
    gw_ratelimit_zone deny key=\$arg_k rate=3r/m redis=down on_redis_error=deny;
    gw_ratelimit_zone exact key=\$arg_k rate=3r/m redis=r;

    server {
        listen 127.0.0.1:$port;

        add_header X-Status \$gw_ratelimit_status always;

        location /hyb   { gw_ratelimit hyb;   try_files /ok.txt =404; }
        location /many  { gw_ratelimit many;  try_files /ok.txt =404; }
        location /silent { gw_ratelimit silent; try_files /ok.txt =404; }
        location /hdown { gw_ratelimit hdown; try_files /ok.txt =404; }
        location /local { gw_ratelimit local; try_files /ok.txt =404; }
        location /allow { gw_ratelimit allow; try_files /ok.txt =404; }
        location /deny  { gw_ratelimit deny;  try_files /ok.txt =404; }
        location /exact { gw_ratelimit exact; try_files /ok.txt =404; }
    }
}
_EOC_

remove_tree($prefix);
make_path("$prefix/html");
open my $fh, '>', "$prefix/html/ok.txt" or die $!;
print $fh "ok\n";
close $fh;

my $nginx = start_nginx($conf, $prefix, port => $port);

sub get {
    my ($path) = @_;
    my ($status, $h) = http_request(port => $port, path => $path);
    return [$status // 0, $h];
}

sub codes { [map { $_->[0] } @_] }

# polls a Redis hash's count until it is $want or $secs passed:
# (the count, the seconds waited)
sub wait_count {
    my ($key, $want, $secs) = @_;
    my $t0 = time;
    my $c;
    while (1) {
        $c = redis('HGET', $key, 'c');
        last if $c eq $want || time - $t0 > $secs;
        sleep 0.02;
    }
    return ($c, time - $t0);
}

# keep clear of a minute boundary: the steps below stay in one window
sub clear_of_minute {
    my $left = 60 - (time - 60 * floor(time / 60));
    sleep $left + 0.2 if $left < 8;
}

clear_of_minute();

# 1. hybrid: decided locally, the delta reaches Redis after the interval
{
    my @r = map { get('/hyb?k=a') } 1 .. 2;
    is_deeply([map { $_->[1]{'x-ratelimit-remaining'} } @r], [4, 3],
              'hyb: counted locally: 4, 3 remaining');
    is(redis('HGET', 'gw:rl:{hyb:a}:sw', 'c'), '',
       'hyb: nothing sent to Redis within the interval');

    sleep 0.4;
    my $r = get('/hyb?k=a');
    is($r->[1]{'x-ratelimit-remaining'}, 2,
       'hyb: the third request is decided locally (2 remaining)');
    my ($c) = wait_count('gw:rl:{hyb:a}:sw', 3, 1);
    is($c, '3', 'hyb: the delta of 3 reaches Redis (sent by the request '
       . 'or by the flush)');
    my $ttl = redis('PTTL', 'gw:rl:{hyb:a}:sw');
    ok($ttl > 0 && $ttl <= 120000, "hyb: the key expires ($ttl ms)");
}

# 2. hybrid: the global count replaces the local view
{
    my $idx = floor(time * 1000 / 60000);
    redis('HSET', 'gw:rl:{hyb:b}:sw', 'w', $idx, 'p', 0, 'c', 4);

    my $r = get('/hyb?k=b');
    is($r->[1]{'x-ratelimit-remaining'}, 4,
       'hyb: another host\'s 4 are not known yet: 4 remaining locally');

    my ($c) = wait_count('gw:rl:{hyb:b}:sw', 5, 1);
    is($c, '5', 'hyb: with no further request, the flush sends our 1: '
       . 'Redis has the other host\'s 4 and our 1');

    sleep 0.05;
    my @r = map { get('/hyb?k=b') } 1 .. 2;
    is_deeply(codes(@r), [429, 429],
              'hyb: the global 5 of 5 replaced the local view: rejected');
}

# 3. hybrid: one round trip per interval and key, not per request
{
    redis('CONFIG', 'RESETSTAT');
    my @r = map { get('/many?k=c') } 1 .. 40;
    is(scalar(grep { $_->[0] == 200 } @r), 40, 'many: forty pass');
    sleep 0.3;
    my ($calls) = redis('INFO', 'commandstats')
                  =~ /cmdstat_eval(?:sha)?:calls=(\d+)/;
    ok(($calls // 0) <= 2, 'many: at most two scripts ran for forty requests ('
       . ($calls // 0) . ')');
}

# 4. hybrid with Redis down: still decided locally, exactly, as PASSED
{
    my @r = map { get('/hdown?k=d') } 1 .. 2;
    sleep 0.2;
    push @r, map { get('/hdown?k=d') } 1 .. 3;
    is_deeply(codes(@r), [200, 200, 200, 429, 429],
              'hdown: three of three, then 429, Redis or not');
    is($r[0][1]{'x-status'}, 'PASSED', 'hdown: status PASSED, not ERROR');
}

# 5. on_redis_error=local (the default): shared-memory counting
{
    my @r = map { get('/local?k=e') } 1 .. 4;
    is_deeply(codes(@r), [200, 200, 200, 429],
              'local: Redis down, counted in shared memory: 3, then 429');
    is($r[2][1]{'x-ratelimit-remaining'}, 0,
       'local: with the headers of the local count');
}

# 6. on_redis_error=allow: everything passes, status ERROR, no headers
{
    my @r = map { get('/allow?k=f') } 1 .. 5;
    is_deeply(codes(@r), [(200) x 5], 'allow: five of five pass');
    is($r[4][1]{'x-status'}, 'ERROR', 'allow: status ERROR');
    ok(!defined $r[4][1]{'x-ratelimit-limit'}, 'allow: no rate-limit headers');
}

# 7. on_redis_error=deny: 503
{
    my @r = map { get('/deny?k=g') } 1 .. 2;
    is_deeply(codes(@r), [503, 503], 'deny: 503 while Redis is down');
    is($r[0][1]{'x-status'}, 'ERROR', 'deny: status ERROR');
}

# 8. redis= without sync: counted in Redis, exactly, across both workers
{
    my @r = map { get('/exact?k=h') } 1 .. 5;
    is_deeply(codes(@r), [200, 200, 200, 429, 429],
              'exact: three pass, then 429');
    is_deeply([map { $_->[1]{'x-ratelimit-remaining'} } @r[0 .. 2]],
              [2, 1, 0], 'exact: remaining 2, 1, 0');
    like($r[3][1]{'retry-after'} // '', qr/^\d+$/, 'exact: Retry-After');
    is(redis('HGET', 'gw:rl:{exact:h}:sw', 'c'), '3',
       'exact: Redis holds the count of 3 (rejections take nothing)');
    my $ttl = redis('PTTL', 'gw:rl:{exact:h}:sw');
    ok($ttl > 60000 && $ttl <= 120000,
       "exact: the key expires after both windows ($ttl ms)");
}

# 9. hybrid: a burst, then silence, reaches Redis within two intervals
#    through the flush timer, counted once
clear_of_minute();
{
    my $t0 = time;
    my @r = map { get('/silent?k=s') } 1 .. 10;
    my $burst = time - $t0;
    is(scalar(grep { $_->[0] == 200 } @r), 10,
       sprintf 'silent: a burst of 10 in %.0f ms passes', $burst * 1000);

    my ($c, $waited) = wait_count('gw:rl:{silent:s}:sw', 10, 2);
    my $ms = (time - $t0) * 1000;
    is($c, '10', 'silent: with no further request, Redis gets the 10');
    # the entry's first sync is due an interval after its first request,
    # and a flush tick comes at most an interval later: 2 x 200 ms, and
    # 150 ms for timers, Redis and this polling
    ok($ms <= 2 * 200 + 150, sprintf 'silent: within two intervals of '
       . 'the burst\'s first request (%.0f ms <= 550 ms)', $ms);

    sleep 0.5;
    is(redis('HGET', 'gw:rl:{silent:s}:sw', 'c'), '10',
       'silent: sent once, not by both workers nor again');

    # a key over 256 bytes is named by its digest, by the flush as by the
    # plain redis= zone
    my $long = 'k' x 300;
    my $hex = sha256_hex($long);
    @r = map { get("/silent?k=$long") } 1 .. 3;
    is_deeply(codes(@r), [200, 200, 200], 'silent: a 300-byte key passes');
    ($c) = wait_count("gw:rl:{silent:$hex}:sw", 3, 2);
    is($c, '3', 'silent: its 3 are flushed to gw:rl:{silent:<sha256 hex>}:sw');

    $r[0] = get("/exact?k=$long");
    is(redis('HGET', "gw:rl:{exact:$hex}:sw", 'c'), '1',
       'exact: the same key is named by its digest there too');
}

is($nginx->stop, 0, 'nginx stopped cleanly');

my $log = $nginx->error_log_text;
unlike($log, qr/\[(?:alert|crit|emerg)\]|exited on signal/,
       'error.log: no alert, crit, emerg or crashed worker');

done_testing();
