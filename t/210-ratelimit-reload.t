#!/usr/bin/perl

# t/210-ratelimit-reload.t: the counters of a gw_ratelimit_zone survive a
# reload (SIGHUP to the master) when the zone keeps its name and size, as
# limit_req's do; a changed rate applies to the kept counts; a changed
# algorithm starts the keys afresh; a changed key is refused and the old
# configuration keeps running with its counters.
#
# A plain Test::More test, as Test::Nginx::Socket blocks cannot reload
# nginx: nginx runs with a master and two workers from
# $TEST_NGINX_SERVROOT/210-ratelimit-reload; each step writes a new
# nginx.conf and sends SIGHUP.  Responses name the configuration's
# generation in X-Gen.
#
# Environment: TEST_NGINX_BINARY, TEST_NGINX_LOAD_MODULES (as t/311).

use strict;
use warnings;

use Test::More;
use FindBin;
use Cwd qw(abs_path);
use File::Path qw(remove_tree make_path);
use Time::HiRes qw(sleep time);

use lib "$FindBin::Bin/lib";
use NginxGw::Util qw(free_port start_nginx http_request workers_of
                     wait_old_workers);

my $root = abs_path("$FindBin::Bin/..");
my $prefix = ($ENV{TEST_NGINX_SERVROOT} // "$root/build/t")
             . "/210-ratelimit-reload";
my @modules = split ' ', ($ENV{TEST_NGINX_LOAD_MODULES}
                 // "$root/build/modules/ngx_http_gw_ratelimit_module.so");

my $port = free_port();

sub conf {
    my ($gen, $zone) = @_;

    my $user = $> == 0 ? "user root;\n" : '';
    my $load = join '', map { "load_module $_;\n" } @modules;

    return <<"_EOC_";
${load}${user}worker_processes 2;
master_process on;
error_log logs/error.log info;

events {
    worker_connections 64;
    accept_mutex off;
}

http {
    access_log off;

    gw_ratelimit_zone $zone;

    server {
        listen 127.0.0.1:$port reuseport;

        add_header X-Gen $gen always;

        location /t {
            gw_ratelimit api;
            try_files /ok.txt =404;
        }

        location = /gen {
            return 200 "$gen\\n";
        }
    }
}
_EOC_
}

sub get {
    my ($path) = @_;
    my ($status, $h, $body) = http_request(port => $port, path => $path);
    return [$status // 0, $h, $body // ''];
}

sub reload {
    my ($nginx, $gen, $zone, $expect_fail) = @_;

    my $file = "$prefix/conf/nginx.conf";
    open my $fh, '>', $file or die "$file: $!\n";
    print $fh conf($gen, $zone);
    close $fh;

    my $logged = length $nginx->error_log_text;
    my $n = workers_of($nginx->pid);
    kill 'HUP', $nginx->pid or die "kill HUP: $!\n";

    if ($expect_fail) {
        my $deadline = time + 10;
        while (time < $deadline) {
            last if substr($nginx->error_log_text, $logged) =~ /\[emerg\]/;
            sleep 0.05;
        }
        return substr($nginx->error_log_text, $logged);
    }

    my ($row, $deadline) = (0, time + 10);
    while ($row < 20 && time < $deadline) {
        $row = get('/gen')->[2] eq "$gen\n" ? $row + 1 : 0;
        sleep 0.02 if $row == 0;
    }
    ok($row >= 20, "generation $gen answers after SIGHUP");

    # an old worker may still hold a connection it accepted before the
    # reload: wait until every old worker has exited
    wait_old_workers($nginx->pid, $n);

    return substr($nginx->error_log_text, $logged);
}

remove_tree($prefix);
make_path("$prefix/html");
open my $fh, '>', "$prefix/html/ok.txt" or die $!;
print $fh "ok\n";
close $fh;

my $nginx = start_nginx(conf(1, 'api key=$remote_addr rate=5r/d'), $prefix,
                        port => $port);

# 1. three of five
my @r = map { get('/t') } 1 .. 3;
is_deeply([map { $_->[1]{'x-ratelimit-remaining'} } @r], [4, 3, 2],
          'generation 1: three requests, 2 remaining');

# 2. same zone: the count goes on
reload($nginx, 2, 'api key=$remote_addr rate=5r/d');
@r = map { get('/t') } 1 .. 3;
is_deeply([map { $_->[0] } @r], [200, 200, 429],
          'generation 2: the counts survived: two more pass, then 429');
is($r[2][1]{'x-gen'}, '2', 'generation 2: answered by the new workers');

# 3. a higher rate applies to the kept count: 5 used of 8
reload($nginx, 3, 'api key=$remote_addr rate=8r/d');
@r = map { get('/t') } 1 .. 4;
is_deeply([map { $_->[0] } @r], [200, 200, 200, 429],
          'generation 3: rate=8r/d on 5 used: three more pass');
is($r[0][1]{'x-ratelimit-remaining'}, '2',
   'generation 3: X-RateLimit-Remaining 2 after the first');

# 4. a changed key is refused; generation 3 keeps running, still limited
my $log = reload($nginx, 4, 'api key=$http_x_user rate=8r/d', 1);
like($log, qr/\[emerg\] .*gw_ratelimit_zone "api" uses the "\$http_x_user" key while previously it used the "\$remote_addr" key/,
     'generation 4 (another key) is refused, naming both keys');
@r = map { get('/t') } 1 .. 2;
is_deeply([map { [$_->[0], $_->[1]{'x-gen'}] } @r], [[429, 3], [429, 3]],
          'generation 3 still answers, and still limits');

# 5. another algorithm: the keys start afresh as token buckets
reload($nginx, 5, 'api key=$remote_addr rate=2r/d algorithm=token_bucket');
@r = map { get('/t') } 1 .. 3;
is_deeply([map { $_->[0] } @r], [200, 200, 429],
          'generation 5: token_bucket starts with a full bucket of 2');

# 6. another size is another zone for nginx: a fresh start
reload($nginx, 6, 'api key=$remote_addr rate=2r/d algorithm=token_bucket size=2m');
@r = map { get('/t') } 1 .. 3;
is_deeply([map { $_->[0] } @r], [200, 200, 429],
          'generation 6: size=2m is a new zone, counts start again');

is($nginx->stop, 0, 'nginx stopped cleanly');

$log = $nginx->error_log_text;
$log =~ s/^.*\[emerg\].*gw_ratelimit_zone "api" uses.*\n//mg;
$log =~ s/^.*\[alert\].*cannot load configuration.*\n//mg;
unlike($log, qr/\[(?:alert|crit|emerg)\]|exited on signal/,
       'error.log: no other alert, crit, emerg or crashed worker');

done_testing();
