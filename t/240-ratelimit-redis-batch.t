#!/usr/bin/perl

# t/240-ratelimit-redis-batch.t: the exact checks that requests of one key
# start in one turn of a worker's event loop go to Redis as one script run
# (a batch of at most 24), and each request still gets its own answer, as
# if they had come one after the other:
#
#   - 60 requests at once, rate=40r/m: exactly 40 pass, each with its own
#     X-RateLimit-Remaining (39 down to 0), the other 20 get 429; Redis ran
#     the script 3 times (24 + 24 + 12), for both algorithms;
#   - cost=3: 13 of 20 pass (39 of 40), remaining 37, 34, ... 1;
#   - two zones on the same key in one turn: separate batches, each exact;
#   - requests whose clients go away while their batch is in a frozen
#     Redis: the others get their answers, the worker lives on.
#
# All requests of a burst land in one turn: the connections are accepted
# first, then the worker is stopped (SIGSTOP), every request is written,
# and the worker continues (SIGCONT) to find them all in one epoll_wait().
#
# A plain Test::More test: one redis-server of its own and one nginx with
# one worker, in $TEST_NGINX_SERVROOT/240-ratelimit-redis-batch.

use strict;
use warnings;

use Test::More;
use FindBin;
use Cwd qw(abs_path);
use IO::Socket::INET;
use IO::Select;
use Time::HiRes qw(sleep time);

use lib "$FindBin::Bin/lib";
use NginxGw::Util qw(free_port);
use NginxGw::Redis qw(redis_available redis_start gw_nginx timed_get);

plan skip_all => 'redis-server not installed' unless redis_available();

my $root = abs_path("$FindBin::Bin/..");
my $prefix = ($ENV{TEST_NGINX_SERVROOT} // "$root/build/t")
             . "/240-ratelimit-redis-batch";

my $slow = $ENV{TEST_NGINX_USE_VALGRIND} ? 5 : 1;

my $redis = redis_start("$prefix/redis");
my $rp = $redis->port;
my $port = free_port();

my $nginx = gw_nginx("$prefix/nginx", <<"_EOC_");
    gw_redis main 127.0.0.1:$rp timeout=$ENV{TEST_NGINX_REDIS_TIMEOUT};
    gw_redis patient 127.0.0.1:$rp timeout=10s;

    gw_ratelimit_zone sw key=\$arg_k rate=40r/m redis=main;
    gw_ratelimit_zone tb key=\$arg_k rate=40r/m algorithm=token_bucket
                      redis=main;
    gw_ratelimit_zone a key=\$arg_k rate=10r/m redis=main;
    gw_ratelimit_zone b key=\$arg_k rate=20r/m redis=main;
    gw_ratelimit_zone p key=\$arg_k rate=100r/m redis=patient;

    server {
        listen 127.0.0.1:$port;
        location /sw { gw_ratelimit sw; echo ok; }
        location /tb { gw_ratelimit tb; echo ok; }
        location /cost { gw_ratelimit sw cost=3; echo ok; }
        location /a { gw_ratelimit a; echo ok; }
        location /b { gw_ratelimit b; echo ok; }
        location /p { gw_ratelimit p; echo ok; }
    }
_EOC_

my ($worker) = map { /(\d+)/ ? $1 : () }
               `ps -o pid= --ppid ${\ $nginx->pid }`;
ok($worker, "the worker: $worker");

# the scripts are loaded, and the keys of the run are new
my $id = sprintf '%x-%x', $$, time;
for my $z (qw(sw tb a b p)) {
    my $r = timed_get($port, "/$z?k=warm-$id");
    is($r->{code}, 200, "$z: a first request loads the script");
}

sub script_runs {
    my $i = $redis->info('commandstats');
    my $n = 0;
    for my $c (qw(cmdstat_evalsha cmdstat_eval)) {
        $n += $1 if ($i->{$c} // '') =~ /calls=(\d+)/;
    }
    return $n;
}

# connect(@paths): one accepted connection per path
sub connect_all {
    my @c;
    for my $path (@_) {
        my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                      Timeout => 5)
            or die "connect: $!";
        push @c, { sock => $s, path => $path, buf => '' };
    }
    sleep 0.3 * $slow;     # all accepted, waiting for their requests
    return @c;
}

sub send_all {
    for my $c (@_) {
        $c->{sock}->syswrite("GET $c->{path} HTTP/1.0\r\nHost: t\r\n\r\n");
    }
}

# reads every response to its end; each gets code and headers
sub read_all {
    my @c = @_;
    my $sel = IO::Select->new(map { $_->{sock} } @c);
    my %by = map { (fileno $_->{sock}) => $_ } @c;
    my $until = time + 10 * $slow;

    while ($sel->count && time < $until) {
        for my $s ($sel->can_read(0.5)) {
            my $c = $by{fileno $s};
            my $n = $s->sysread($c->{buf}, 65536, length $c->{buf});
            next if $n;
            $sel->remove($s);
            close $s;
        }
    }

    for my $c (@c) {
        ($c->{code}) = $c->{buf} =~ m{^HTTP/1\.\d (\d{3})};
        ($c->{remaining}) = $c->{buf} =~ /^X-RateLimit-Remaining: (\d+)\r$/m;
    }
    return @c;
}

# stopped($pid): until the process is stopped (kill returns before)
sub stopped {
    my ($pid) = @_;
    my $until = time + 5;
    while (time < $until) {
        open my $fh, '<', "/proc/$pid/stat" or return;
        my ($state) = <$fh> =~ /\) (\S)/;
        return if $state eq 'T' || $state eq 't';
        sleep 0.01;
    }
}

# burst(@paths): all the requests in one turn of the worker's loop
sub burst {
    my @c = connect_all(@_);
    kill 'STOP', $worker;
    stopped($worker);
    send_all(@c);
    sleep 0.1;
    kill 'CONT', $worker;
    return read_all(@c);
}

sub codes {
    my %n;
    $n{ $_->{code} // 'none' }++ for @_;
    return join ' ', map { "$_ x $n{$_}" } sort keys %n;
}

sub remainings {
    return join ' ', sort { $b <=> $a }
                     map { $_->{remaining} // 'none' }
                     grep { ($_->{code} // 0) == 200 } @_;
}

# --- 60 requests at once, 40 may pass ------------------------------------

for my $z (qw(sw tb)) {
    $redis->cli('CONFIG', 'RESETSTAT');
    my @r = burst(("/$z?k=burst-$id") x 60);

    is(codes(@r), '200 x 40 429 x 20', "$z: 60 at once, exactly 40 pass");
    is(remainings(@r), join(' ', reverse 0 .. 39),
       "$z: each passed request has its own remaining, 39 down to 0");
    is(script_runs(), 3, "$z: Redis ran the script 3 times (24 + 24 + 12)");
}

# --- cost=3 -----------------------------------------------------------------

{
    my @r = burst(("/cost?k=cost-$id") x 20);
    is(codes(@r), '200 x 13 429 x 7', 'cost=3: 13 of 20 pass (39 of 40)');
    is(remainings(@r), join(' ', map { 40 - 3 * $_ } 1 .. 13),
       'cost=3: remaining 37, 34, ... 1');
    my @rej = map { $_->{remaining} // 'none' }
              grep { ($_->{code} // 0) == 429 } @r;
    is("@rej", join(' ', (1) x 7), 'cost=3: the rejected see 1 remaining');
}

# --- two zones, one key, one turn --------------------------------------------

{
    $redis->cli('CONFIG', 'RESETSTAT');
    my @r = burst(map { ("/a?k=two-$id", "/b?k=two-$id") } 1 .. 30);
    my @a = grep { $_->{path} =~ m{^/a} } @r;
    my @b = grep { $_->{path} =~ m{^/b} } @r;
    is(codes(@a), '200 x 10 429 x 20', 'zone a (10r/m): 10 of 30 pass');
    is(codes(@b), '200 x 20 429 x 10', 'zone b (20r/m): 20 of 30 pass');
    is(script_runs(), 4, 'a batch per zone: 2 + 2 script runs');
}

# --- clients that go away while their batch waits for Redis --------------

{
    $redis->freeze;
    my @c = connect_all(("/p?k=gone-$id") x 10);
    send_all(@c);
    sleep 0.5 * $slow;                  # sent, waiting for the frozen Redis
    close $_->{sock} for @c[0 .. 4];
    sleep 0.5 * $slow;                  # nginx saw them go (499)
    $redis->thaw;

    my @r = read_all(@c[5 .. 9]);
    is(codes(@r), '200 x 5', 'the 5 clients that stayed get 200');
    is(scalar(my @u = do { my %u; grep { !$u{$_}++ } map { $_->{remaining} }
                                                         @r }),
       5, 'each with its own remaining');
    is(scalar $redis->cli('HGET', "gw:rl:{p:gone-$id}:sw", 'c'), 10,
       'Redis counted all 10: the batch had gone when 5 clients left');

    my ($now) = map { /(\d+)/ ? $1 : () }
                `ps -o pid= --ppid ${\ $nginx->pid }`;
    is($now, $worker, 'the same worker: none crashed');
    is(timed_get($port, "/p?k=after-$id")->{code}, 200,
       'a request after that is answered');
}

# --- logs -------------------------------------------------------------------

my @bad = grep { /\[(error|crit|alert|emerg)\]/
                 && !/limiting requests by zone/ }
          split /\n/, $nginx->error_log_text;
is(scalar @bad, 0, 'no errors in the log but rejections')
    or diag(join "\n", @bad);
is($nginx->stop, 0, 'nginx exits cleanly');

done_testing();
