#!/usr/bin/perl

# gw_least_time ... inflight: requests still running count with their elapsed
# time, so a peer that starts to hang looks slow at once, before any of its
# hanging requests ends.  Peer "a" answers /warm/ at once and hangs (1.5 s)
# on /work/; peer "b" answers /warm/ in 200 ms and /work/ in 50 ms.  After a
# warm-up "a" looks much the faster.  Four clients, starting 200 ms apart,
# send /work/ requests one after the other until 1.2 s after the first
# started; we count who answered.  Without "inflight" the
# hanging peer keeps its fast average, and (active + 1) is not enough to
# make it cost more than "b": it swallows every client.  With "inflight" the
# first hanging request is enough: the next clients go to "b".
#
# A plain Test::More file: it needs requests in flight at the same time,
# from several clients, and counts over all of them.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use POSIX ();
use Test::More;
use Time::HiRes qw(time sleep);
use NginxGw::Util qw(free_port start_nginx http_request);

my $nginx_bin = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
my @modules = split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} // '');
my $servroot = ($ENV{TEST_NGINX_SERVROOT} || "$FindBin::Bin/../build/t")
               . '/403-least-time-inflight';

plan skip_all => "no nginx at $nginx_bin" unless -x $nginx_bin;
plan skip_all => 'TEST_NGINX_LOAD_MODULES must load the gw_least_time and '
                 . 'echo modules'
    unless grep(/least_time/, @modules) && grep(/echo/, @modules);
plan skip_all => 'under valgrind: peers chosen by response times a few ms '
                 . 'apart' if $ENV{TEST_NGINX_USE_VALGRIND};


sub conf {
    my ($balancer, $port, $a, $b) = @_;

    return <<"_EOC_";
worker_processes 1;
error_log logs/error.log info;
events { worker_connections 1024; }
http {
    access_log off;

    upstream u {
        $balancer;
        server 127.0.0.1:$a;
        server 127.0.0.1:$b;
    }

    server {
        listen 127.0.0.1:$a;
        location /warm/ { echo -n a; }
        location /work/ { echo_sleep 1.5; echo -n a; }
    }

    server {
        listen 127.0.0.1:$b;
        location /warm/ { echo_sleep 0.2; echo -n b; }
        location /work/ { echo_sleep 0.05; echo -n b; }
    }

    server {
        listen 127.0.0.1:$port;
        location / {
            proxy_pass http://u;
            proxy_read_timeout 10s;
        }
    }
}
_EOC_
}

# $n clients started $stagger seconds apart, each sending requests to $path
# one after the other until $seconds have passed since the first started;
# returns the answers of all ("200 a", ...).
sub clients {
    my ($port, $n, $stagger, $seconds, $path) = @_;

    my $file = "$servroot/answers.$$";
    unlink $file;

    my $deadline = time + $seconds;
    my @pids;

    for my $i (1 .. $n) {
        sleep $stagger if $i > 1;

        my $pid = fork;
        die "fork: $!" unless defined $pid;

        if ($pid == 0) {
            # the child must not stop nginx on its way out
            %NginxGw::Util::Children = ();

            my $out = '';
            eval {
                while (time < $deadline) {
                    my ($status, $h, $body) = http_request(port => $port,
                                                           path => $path,
                                                           timeout => 10);
                    $out .= (defined $status ? "$status $body"
                                             : "error $body") . "\n";
                }
            };
            $out .= "died $@\n" if $@;

            open my $fh, '>>', $file or POSIX::_exit(1);
            print $fh $out;
            close $fh;
            POSIX::_exit(0);
        }

        push @pids, $pid;
    }

    waitpid $_, 0 for @pids;

    open my $fh, '<', $file or die "$file: $!";
    my @answers = map { chomp; $_ } <$fh>;
    close $fh;

    return \@answers;
}

sub run_case {
    my ($name, $balancer) = @_;

    my ($port, $a, $b) = (free_port(), free_port(), free_port());

    my $nginx = start_nginx(conf($balancer, $port, $a, $b),
                            "$servroot/$name", port => $port,
                            binary => $nginx_bin, load_modules => \@modules);

    # both peers have a fast average to start with
    for my $i (1 .. 4) {
        my ($status) = http_request(port => $port, path => "/warm/$i");
        is($status, 200, "$name: warm-up request $i");
    }

    my $answers = clients($port, 4, 0.2, 1.2, '/work/');

    my %count;
    $count{$_}++ for @$answers;

    $nginx->stop;

    return ($count{'200 a'} // 0, $count{'200 b'} // 0, scalar(@$answers),
            join ', ', map { "$_: $count{$_}" } sort keys %count);
}


my ($a, $b, $all, $seen) = run_case('inflight',
                                    'gw_least_time header inflight');
note("inflight: $seen");

is($a + $b, $all, 'inflight: every request answered by a peer')
    or diag($seen);
cmp_ok($a, '<=', 2, 'inflight: the hanging peer gets at most 2 requests')
    or diag($seen);
cmp_ok($b, '>=', 8, 'inflight: the other peer serves the clients meanwhile')
    or diag($seen);


($a, $b, $all, $seen) = run_case('plain', 'gw_least_time header');
note("without inflight: $seen");

is($a + $b, $all, 'without inflight: every request answered by a peer')
    or diag($seen);
cmp_ok($a, '>=', 3, 'without inflight: the hanging peer takes the clients')
    or diag($seen);
cmp_ok($b, '<=', 5, 'without inflight: the other peer serves few requests')
    or diag($seen);

done_testing();
