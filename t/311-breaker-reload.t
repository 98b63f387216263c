#!/usr/bin/perl

# t/311-breaker-reload.t: gw_breaker's state lives in shared memory of its
# own: both workers of nginx see it, and a reload (SIGHUP to the master)
# keeps it for every peer whose address stays, even when the upstream's
# list of servers changes around it.
#
# A plain Test::More test, as Test::Nginx::Socket blocks cannot reload
# nginx: nginx runs with a master and two workers from
# build/t/311-breaker-reload/ (or $TEST_NGINX_SERVROOT/311-breaker-reload),
# and each step writes a new nginx.conf and sends SIGHUP.  The gateway
# listens with "reuseport", so that new connections spread over both
# workers; it names the worker that answered in X-Worker and the
# configuration's generation in X-Gen.  b1 and b2 answer /ok with their
# name and /fail with 502, and log "<name> <uri> <status>" to access.log.
#
# Environment: TEST_NGINX_BINARY (default /usr/sbin/nginx),
# TEST_NGINX_LOAD_MODULES (space-separated .so paths; default: this
# checkout's build/modules/ngx_http_gw_breaker_module.so).

use strict;
use warnings;

use Test::More;
use FindBin;
use Cwd qw(abs_path);
use File::Path qw(remove_tree);
use Time::HiRes qw(sleep time);

use lib "$FindBin::Bin/lib";
use NginxGw::Util qw(free_port start_nginx http_request workers_of
                     wait_old_workers);

my $root = abs_path("$FindBin::Bin/..");
my $prefix = ($ENV{TEST_NGINX_SERVROOT} // "$root/build/t")
             . "/311-breaker-reload";
my @modules = split ' ', ($ENV{TEST_NGINX_LOAD_MODULES}
                          // "$root/build/modules/ngx_http_gw_breaker_module.so");

my ($gw, $b1, $b2) = (free_port(), free_port(), free_port());

my $open = 5;           # seconds a breaker stays open

# nginx.conf of generation $gen, whose upstream has the servers @peers
# ("b1", "b2", as many times as given) in that order
sub conf {
    my ($gen, @peers) = @_;

    my %port = (b1 => $b1, b2 => $b2);
    my $servers = join '', map { "        server 127.0.0.1:$port{$_};\n" }
                           @peers;
    my $user = $> == 0 ? "user root;\n" : '';
    my $load = join '', map { "load_module $_;\n" } @modules;

    return <<"_EOC_";
${load}${user}worker_processes 2;
master_process on;
error_log logs/error.log info;

events {
    worker_connections 128;
    accept_mutex off;
}

http {
    log_format backend '\$server_name \$request_uri \$status';

    upstream backends {
$servers        gw_breaker failures=2 open=${open}s;
    }

    server {
        listen 127.0.0.1:$b1;
        server_name b1;
        access_log logs/access.log backend;
        location /ok   { return 200 "b1\\n"; }
        location /fail { return 502; }
    }

    server {
        listen 127.0.0.1:$b2;
        server_name b2;
        access_log logs/access.log backend;
        location /ok   { return 200 "b2\\n"; }
        location /fail { return 502; }
    }

    server {
        listen 127.0.0.1:$gw reuseport;
        access_log off;

        add_header X-Worker \$pid always;
        add_header X-Gen $gen always;

        location /api/ {
            proxy_pass http://backends/;
            proxy_next_upstream off;
        }

        location = /gen {
            return 200 "$gen\\n";
        }
    }
}
_EOC_
}

# $n requests for $path, each on a new connection: a list of
# [status, worker pid, generation, Retry-After, body]
sub requests {
    my ($n, $path) = @_;
    my @out;
    for (1 .. $n) {
        my ($status, $h, $body) = http_request(port => $gw, path => $path);
        push @out, [$status // 0, $h->{'x-worker'} // '', $h->{'x-gen'} // '',
                    $h->{'retry-after'}, $body // ''];
    }
    return @out;
}

sub distinct { my %seen; return grep { !$seen{$_}++ } @_ }

# write generation $gen, SIGHUP the master, wait until twenty requests in
# a row are answered by the new generation (the old workers have stopped
# accepting), or until the master logs that the new configuration failed
sub reload {
    my ($nginx, $gen, @peers) = @_;

    my $file = "$prefix/conf/nginx.conf";
    open my $fh, '>', $file or die "$file: $!\n";
    print $fh conf($gen, @peers);
    close $fh;

    my $logged = length $nginx->error_log_text;
    my $n = workers_of($nginx->pid);
    kill 'HUP', $nginx->pid or die "kill HUP: $!\n";

    my ($row, $deadline) = (0, time + 10);
    while ($row < 20 && time < $deadline) {
        my ($r) = requests(1, '/gen');
        $row = $r->[4] eq "$gen\n" ? $row + 1 : 0;
        last if $row == 0
                && substr($nginx->error_log_text, $logged)
                   =~ /\[(?:emerg|alert|crit)\]/;
        sleep 0.02 if $row == 0;
    }
    ok($row >= 20, "generation $gen answers after SIGHUP")
        or diag(substr($nginx->error_log_text, $logged) =~ /(.*\[(?:emerg|alert|crit)\].*)/g);

    # an old worker may still take a connection until it handles its QUIT
    wait_old_workers($nginx->pid, $n) if $row >= 20;
}

sub access_log { local (@ARGV, $/) = ("$prefix/logs/access.log"); <> // '' }

remove_tree($prefix);
my $nginx = start_nginx(conf(1, 'b1'), $prefix, port => $gw);

# 1. both workers serve, b1 answers
my @r = requests(30, '/api/ok?step=1');
is(scalar(grep { $_->[0] == 200 && $_->[4] eq "b1\n" } @r), 30,
   'step 1: thirty requests, thirty answers from b1');
my @gen1 = distinct(map { $_->[1] } @r);
is(scalar @gen1, 2, 'step 1: both workers served (reuseport)')
    or diag("workers: @gen1");

# 2. two failures open b1's breaker; every worker fails fast from then on
@r = requests(2, '/api/fail?step=2');
is_deeply([map { $_->[0] } @r], [502, 502], 'step 2: two 502s from b1');
my $tripped = time;

@r = requests(30, '/api/ok?step=2');
is(scalar(grep { $_->[0] == 503 } @r), 30, 'step 2: then thirty 503s');
is(scalar(grep { ($_->[3] // 0) =~ /^[1-5]$/ } @r), 30,
   "step 2: each with Retry-After of 1 to $open seconds");
is(scalar(distinct(map { $_->[1] } @r)), 2,
   'step 2: both workers failed fast: they share the breaker');

# 3. a reload with the same servers keeps the breaker open
reload($nginx, 2, 'b1');

@r = requests(20, '/api/ok?step=3');
my %old = map { $_ => 1 } @gen1;
is(scalar(grep { $_->[0] == 503 && $_->[2] eq '2' } @r), 20,
   'step 3: after the reload, generation 2 fails fast too');
ok(!(grep { $old{$_->[1]} } @r), 'step 3: answered by new workers only');
is(scalar(distinct(map { $_->[1] } @r)), 2, 'step 3: by both new workers');

# 4. a reload that puts b2 before b1: b1 keeps its open breaker (found by
# its address, not its place), b2 starts closed and takes every request
reload($nginx, 3, 'b2', 'b1');

SKIP: {
    skip "the open time ran out during the reloads", 3
        if time - $tripped > $open - 1;

    @r = requests(20, '/api/ok?step=4');
    is(scalar(grep { $_->[0] == 200 && $_->[4] eq "b2\n" } @r), 20,
       'step 4: b2 answers every request');
    is(scalar(distinct(map { $_->[1] } @r)), 2, 'step 4: in both workers');
    unlike(access_log(), qr/^b1 \/ok\?step=[2-4] /m,
           'step 4: b1 got no request since it opened');
}

# 5. once the open time is over, a probe to b1 closes its breaker again,
# and both servers share the requests
sleep 0.1 while time - $tripped < $open + 0.2;

@r = requests(20, '/api/ok?step=5');
is(scalar(grep { $_->[0] == 200 } @r), 20, 'step 5: twenty 200s');
is(scalar(grep { $_->[4] eq "b1\n" } @r) >= 5 ? 1 : 0, 1,
   'step 5: b1 is back')
    or diag(join '', map { $_->[4] } @r);

# 6. reloads that change the list of servers again and again do not use up
# the breakers' zone (150 servers take about 52 KB of its 256 KB)
for my $gen (6 .. 11) {
    reload($nginx, $gen, ($gen % 2 ? 'b1' : 'b2') x 150);
}

@r = requests(10, '/api/ok?step=6');
is(scalar(grep { $_->[0] == 200 && $_->[2] eq '11' } @r), 10,
   'step 6: generation 11 answers');

my $status = $nginx->stop;
is($status, 0, 'nginx stopped cleanly');

my $log = $nginx->error_log_text;
like($log, qr/gw_breaker: peer 127\.0\.0\.1:$b1 of upstream "backends" opened: 2 consecutive failures/,
     'error.log: b1 opened');
like($log, qr/gw_breaker: peer 127\.0\.0\.1:$b1 of upstream "backends" closed: 1 successful probes/,
     'error.log: b1 closed after the reloads');
unlike($log, qr/gw_breaker: peer 127\.0\.0\.1:$b2 of upstream "backends" opened/,
       'error.log: b2 never opened');
unlike($log, qr/\[(?:alert|crit|emerg)\]|exited on signal/,
       'error.log: no alert, crit, emerg or crashed worker');

done_testing();
