#!/usr/bin/perl

# t/238-ratelimit-redis-tls.t: gw_redis ... tls.  A redis-server listening
# only with TLS (tls-port, certificates made by openssl in the test's
# directory, clients not asked for certificates), with a password: the
# limiter counts there exactly, over TLS with AUTH, on kept-alive
# connections.  The same server without "tls" (plain text to a TLS port)
# fails: on_redis_error=deny answers 503 quickly and the error log says
# so, without the password.
#
# Skipped when redis-server was built without TLS (Debian's has it).
#
# A plain Test::More test: its own redis-server and nginx, in
# $TEST_NGINX_SERVROOT/238-ratelimit-redis-tls.

use strict;
use warnings;

use Test::More;
use FindBin;
use Cwd qw(abs_path);
use Time::HiRes qw(sleep time);

use lib "$FindBin::Bin/lib";
use NginxGw::Util qw(free_port);
use NginxGw::Redis qw(redis_available tls_available redis_start gw_nginx
                      timed_get);

plan skip_all => 'redis-server not installed' unless redis_available();
plan skip_all => 'redis-server or openssl without TLS' unless tls_available();

my $root = abs_path("$FindBin::Bin/..");
my $prefix = ($ENV{TEST_NGINX_SERVROOT} // "$root/build/t")
             . "/238-ratelimit-redis-tls";

my $secret = 'TLS' . join '', map { ('a' .. 'z')[rand 26] } 1 .. 12;
my $redis = redis_start("$prefix/redis", tls => 1, requirepass => $secret);
is(scalar $redis->cli('PING'), 'PONG', 'redis-cli --tls talks to it');

my $rp = $redis->port;
my $port = free_port();

my $nginx = gw_nginx("$prefix/nginx", <<"_EOC_");
    gw_redis sec   127.0.0.1:$rp tls password=$secret
                   timeout=$ENV{TEST_NGINX_REDIS_TIMEOUT};
    gw_redis plain 127.0.0.1:$rp password=$secret timeout=100ms;
    gw_ratelimit_zone t  key=\$arg_k rate=5r/m redis=sec on_redis_error=deny;
    gw_ratelimit_zone tb key=\$arg_k rate=5r/m algorithm=token_bucket
                      redis=sec on_redis_error=deny;
    gw_ratelimit_zone p  key=\$arg_k rate=5r/m redis=plain
                      on_redis_error=deny;

    server {
        listen 127.0.0.1:$port;
        add_header X-RL-Status \$gw_ratelimit_status always;
        location /tls   { gw_ratelimit t;  echo ok; }
        location /tb    { gw_ratelimit tb; echo ok; }
        location /plain { gw_ratelimit p;  echo ok; }
    }
_EOC_

sub codes {
    my ($path, $n) = @_;
    return join ' ', map { timed_get($port, $path)->{code} // 'none' } 1 .. $n;
}

is(codes('/tls?k=tlsalpha', 6), '200 200 200 200 200 429',
   'over TLS: sliding window exact');
is(codes('/tb?k=tlsbeta', 6), '200 200 200 200 200 429',
   'over TLS: token bucket exact');
ok((() = $redis->keys('*tlsalpha*')) >= 1, 'the keys are in Redis');

my @clients = grep { /cmd=/ } $redis->cli('CLIENT', 'LIST');
ok(@clients >= 2 && @clients <= 4,
   'connections kept alive: ' . scalar(@clients)
   . ' (redis-cli and nginx)');

my $t0 = time;
is(codes('/plain?k=plaingamma', 3), '503 503 503',
   'plain text to the TLS port: on_redis_error=deny');
ok(time - $t0 < 3, 'quickly');

my $log = $nginx->error_log_text;
unlike($log, qr/\[(crit|alert|emerg)\]/, 'no crit, alert, emerg');
like($log, qr/\[error\].*127\.0\.0\.1:$rp/,
     'the error log says the plain-text connection failed');
unlike($log, qr/\Q$secret\E/, 'no password in the error log');

is($nginx->stop, 0, 'nginx exits cleanly');

done_testing();
