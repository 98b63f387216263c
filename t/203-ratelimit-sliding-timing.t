#!/usr/bin/perl

# t/203-ratelimit-sliding-timing.t: the sliding window's weighting of the
# previous window, and Retry-After values a client can rely on.
#
# A plain Test::More test, since it waits for given points of the windows:
# windows are aligned to multiples of their length since the epoch, so the
# test knows where in a window each request falls.  nginx runs from
# $TEST_NGINX_SERVROOT/203-ratelimit-sliding-timing.
#
# Environment: TEST_NGINX_BINARY, TEST_NGINX_LOAD_MODULES (as t/311).

use strict;
use warnings;

use Test::More;
use FindBin;
use Cwd qw(abs_path);
use File::Path qw(remove_tree);
use POSIX qw(floor);
use Time::HiRes qw(sleep time);

use lib "$FindBin::Bin/lib";
use NginxGw::Util qw(free_port start_nginx http_request);

my $root = abs_path("$FindBin::Bin/..");
my $prefix = ($ENV{TEST_NGINX_SERVROOT} // "$root/build/t")
             . "/203-ratelimit-sliding-timing";
my @modules = split ' ', ($ENV{TEST_NGINX_LOAD_MODULES}
                 // "$root/build/modules/ngx_http_gw_ratelimit_module.so");

my $port = free_port();
my $user = $> == 0 ? "user root;\n" : '';
my $load = join '', map { "load_module $_;\n" } @modules;

my $conf = <<"_EOC_";
${load}${user}worker_processes 1;
master_process on;
error_log logs/error.log info;

events {
    worker_connections 64;
}

http {
    access_log off;

    # four requests per two-second window
    gw_ratelimit_zone w2 key=\$arg_k rate=2r/s window=2s;
    gw_ratelimit_zone m5 key=\$arg_k rate=5r/m;

    server {
        listen 127.0.0.1:$port;

        location /w2 { gw_ratelimit w2; return 204; }
        location /m5 { gw_ratelimit m5; return 204; }
    }
}
_EOC_

# "return" runs before the preaccess phase: use content from a file
$conf =~ s/return 204;/try_files \/ok.txt =404;/g;

remove_tree($prefix);
mkdir $prefix;
mkdir "$prefix/html";
open my $fh, '>', "$prefix/html/ok.txt" or die $!;
print $fh "ok\n";
close $fh;

my $nginx = start_nginx($conf, $prefix, port => $port);

sub get {
    my ($path) = @_;
    my ($status, $h) = http_request(port => $port, path => $path);
    return [$status // 0, $h];
}

# sleeps until $off seconds into a window of $w seconds: this one, or the
# next when $next is set or that point of this one is past
sub until_window {
    my ($w, $off, $next) = @_;
    my $now = time;
    my $start = floor($now / $w) * $w;
    my $t = $start + $off + ($next ? $w : 0);
    $t += $w if $t < $now + 0.05;
    sleep($t - time);
    return $t;
}

# 1. the previous window counts in proportion to what is left of it
{
    until_window(2, 0.1);

    my @r = map { get('/w2?k=a') } 1 .. 5;
    is_deeply([map { $_->[0] } @r], [200, 200, 200, 200, 429],
              'window 1: four of four pass, the fifth is rejected');
    is($r[3][1]{'x-ratelimit-remaining'}, '0', 'window 1: none remaining');
    is($r[0][1]{'ratelimit-policy'}, '"w2";q=4;w=2',
       'RateLimit-Policy: q=4 per two seconds (rate=2r/s window=2s)');

    # 1.25 s into the next window the previous one weighs 4 * 0.375 = 1.5:
    # two more fit (3.5 of 4), a third does not; a fixed window would let
    # all three through, a plain previous-window count none
    until_window(2, 1.25, 1);

    @r = map { get('/w2?k=a') } 1 .. 3;
    is_deeply([map { $_->[0] } @r], [200, 200, 429],
              'window 2 at 1.25 s: two pass, the third is rejected');
    is($r[0][1]{'x-ratelimit-remaining'}, '1',
       'window 2: one remaining after the first (4 - 1.5 - 1 = 1.5)');
    is($r[2][1]{'x-ratelimit-reset'}, '1',
       'window 2: X-RateLimit-Reset is the end of the window (0.75 s, 1)');

    # a key of its own is not affected
    my $other = get('/w2?k=b');
    is($other->[0], 200, 'another key passes meanwhile');
    is($other->[1]{'x-ratelimit-remaining'}, '3',
       'another key: three remaining');
}

# 2. Retry-After of a sliding window: the time until the weighted count
# lets one more in; the request after it passes, one a second before fails
{
    until_window(2, 0.1);

    my @r = map { get('/w2?k=c') } 1 .. 5;
    is($r[4][0], 429, 'w2: the fifth request is rejected');
    my $retry = $r[4][1]{'retry-after'} // 0;

    # four at ~0.1 s: at e into the next window 4 * (2 - e) / 2 + 1 <= 4
    # when e >= 0.5 s: the wait is 1.9 + 0.5 = 2.4 s, rounded up to 3
    is($retry, 3, 'w2: Retry-After 3 (2.4 s, rounded up)');

    sleep 1.2;
    is(get('/w2?k=c')->[0], 429, 'w2: still rejected 1.2 s later');

    sleep $retry - 1.2;
    is(get('/w2?k=c')->[0], 200, 'w2: passes after Retry-After');
}

# 3. rate=5r/m: after five requests the sixth waits for the end of the
# minute plus the 12 s in which the previous window's 5 weigh 1 less
{
    my @r = map { get('/m5?k=d') } 1 .. 6;
    is_deeply([map { $_->[0] } @r], [200, 200, 200, 200, 200, 429],
              'm5: five pass, the sixth is rejected');

    my $h = $r[5][1];
    my $reset = $h->{'x-ratelimit-reset'} // 0;
    my $retry = $h->{'retry-after'} // 0;

    ok($reset >= 1 && $reset <= 60, "m5: X-RateLimit-Reset $reset in 1..60");
    ok($retry - $reset >= 11 && $retry - $reset <= 13,
       "m5: Retry-After ($retry) is the reset ($reset) plus 12 s");
    like($h->{'ratelimit'} // '', qr/^"m5";r=0;t=\Q$reset\E$/,
         'm5: RateLimit has r=0 and the same t');
}

is($nginx->stop, 0, 'nginx stopped cleanly');

my $log = $nginx->error_log_text;
unlike($log, qr/\[(?:alert|crit|emerg)\]|exited on signal/,
       'error.log: no alert, crit, emerg or crashed worker');

done_testing();
