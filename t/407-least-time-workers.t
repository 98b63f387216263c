#!/usr/bin/perl

# gw_least_time with worker_processes 2: the figures (averages, requests in
# flight, picks) live in one shared zone, so every worker decides with what
# all workers have seen.  The front server listens with "reuseport", so the
# kernel spreads the test's connections over both workers; each answer
# names its worker ($pid) and its peer.
#
# A plain Test::More file: it needs requests in flight while others are
# made, several clients at once, and counts over all of them.

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
               . '/407-least-time-workers';

plan skip_all => "no nginx at $nginx_bin" unless -x $nginx_bin;
plan skip_all => 'TEST_NGINX_LOAD_MODULES must load the gw_least_time and '
                 . 'echo modules'
    unless grep(/least_time/, @modules) && grep(/echo/, @modules);


# nginx with two workers: $main goes to the main context, $upstream and
# $backends into http{}; the front server on $port proxies to upstream "u"
# and adds X-Pid, X-Score and X-Upstream.
sub start {
    my ($name, $port, $main, $upstream, $backends) = @_;

    my $conf = <<"_EOC_";
worker_processes 2;
$main
error_log logs/error.log info;
events { worker_connections 1024; }
http {
    access_log off;

$upstream
$backends
    server {
        listen 127.0.0.1:$port reuseport;
        location / {
            proxy_pass http://u;
            proxy_read_timeout 10s;
            add_header X-Pid \$pid;
            add_header X-Score \$gw_upstream_score;
        }
    }
}
_EOC_

    return start_nginx($conf, "$servroot/$name", port => $port,
                       binary => $nginx_bin, load_modules => \@modules);
}

# One request; returns (body, worker pid, score), body "error ..." on failure.
sub get {
    my ($port, $path) = @_;

    my ($status, $h, $body) = http_request(port => $port, path => $path,
                                           timeout => 10);
    return ("error " . ($status // $body), '', '') unless ($status // 0) == 200;
    return ($body, $h->{'x-pid'} // '', $h->{'x-score'} // '');
}

# Nothing worse than [error] in the log, no worker lost.
sub log_clean {
    my ($nginx, $name) = @_;

    my @bad = grep { /\[(?:alert|crit|emerg)\]|exited on signal/ }
              split /\n/, $nginx->error_log_text;
    ok(!@bad, "$name: no alert, crit, emerg or crashed worker in the log")
        or diag(join "\n", @bad[0 .. ($#bad < 4 ? $#bad : 4)]);
}


subtest 'the averages are shared: a slow peer is tried once, not once per '
        . 'worker' => sub {
    my ($port, $s, $f) = (free_port(), free_port(), free_port());

    my $nginx = start('shared-averages', $port, '', <<"_EOC_", <<"_EOC_");
    upstream u {
        gw_least_time header;
        server 127.0.0.1:$s;
        server 127.0.0.1:$f;
    }
_EOC_
    server {
        listen 127.0.0.1:$s;
        location / { echo_sleep 0.05; echo -n s; }
    }
    server {
        listen 127.0.0.1:$f;
        location / { echo -n f; }
    }
_EOC_

    my (%peer, %pid, $zero);

    for my $i (1 .. 30) {
        my ($body, $pid, $score) = get($port, "/$i");
        $peer{$body}++;
        $pid{$pid}++;
        $zero++ if $score eq '0';
    }

    my $seen = join ', ', map { "$_: $peer{$_}" } sort keys %peer;

    is(scalar(keys %pid), 2, 'both workers served requests')
        or diag(join ', ', %pid);
    is(($peer{s} // 0) + ($peer{f} // 0), 30, 'every request answered')
        or diag($seen);
    is($peer{s} // 0, 1, 'the slow peer answered once in all')
        or diag($seen);
    is($zero // 0, 2, 'two picks of a peer never tried (score 0) in all: '
                      . 'one per peer, not one per peer and worker');

    log_clean($nginx, 'shared averages');
};


subtest 'requests in flight are shared: while one hangs on a peer, the '
        . 'other worker sees it too (inflight)' => sub {
    my ($port, $a, $b) = (free_port(), free_port(), free_port());

    my $nginx = start('shared-inflight', $port, '', <<"_EOC_", <<"_EOC_");
    upstream u {
        gw_least_time header inflight decay=5ms;
        server 127.0.0.1:$a;
        server 127.0.0.1:$b;
    }
_EOC_
    server {
        listen 127.0.0.1:$a;
        location /hang { echo_sleep 1.5; echo -n a; }
        location / { echo -n a; }
    }
    server {
        listen 127.0.0.1:$b;
        location /hang { echo_sleep 1.5; echo -n b; }
        location / { echo -n b; }
    }
_EOC_

    get($port, "/warm/$_") for 1 .. 4;
    sleep 0.1;

    # one request hangs on one of the peers (which one: its answer says)
    pipe my $r, my $w or die "pipe: $!";
    my $child = fork;
    die "fork: $!" unless defined $child;

    if ($child == 0) {
        %NginxGw::Util::Children = ();
        close $r;
        my ($body) = eval { get($port, '/hang') };
        print $w $body // "died $@";
        close $w;
        POSIX::_exit(0);
    }

    close $w;
    sleep 0.2;

    my (%peer, %pid);
    for my $i (1 .. 30) {
        my ($body, $pid) = get($port, "/$i");
        $peer{$body}++;
        $pid{$pid}++;
    }

    my $hung = do { local $/; <$r> };
    waitpid $child, 0;

    my $seen = join ', ', map { "$_: $peer{$_}" } sort keys %peer;

    like($hung, qr/^[ab]$/, 'the hanging request was answered in the end');
    is(scalar(keys %pid), 2, 'both workers served requests meanwhile')
        or diag(join ', ', %pid);
    cmp_ok($peer{$hung} // 0, '<=', 1,
           "the peer with the hanging request ($hung) was left alone by "
           . "both workers")
        or diag($seen);

    log_clean($nginx, 'shared in-flight requests');
};


subtest 'inflight with workers whose clocks differ (timer_resolution): the '
        . 'cost stays sane' => sub {
    my ($port, $a) = (free_port(), free_port());

    # Each worker keeps its own millisecond clock, updated every 50 ms here:
    # a request started by the worker whose clock is ahead must not make
    # the elapsed time negative (as an unsigned number: astronomic) for the
    # other one.
    my $nginx = start('clocks', $port, 'timer_resolution 50ms;',
                      <<"_EOC_", <<"_EOC_");
    upstream u {
        gw_least_time header inflight;
        server 127.0.0.1:$a;
    }
_EOC_
    server {
        listen 127.0.0.1:$a;
        location / { echo -n a; }
    }
_EOC_

    my $file = "$servroot/scores.$$";
    unlink $file;

    # 8 clients, for up to 4 s, stopping once an insane score is seen
    my $deadline = time + 4;
    my @pids;

    for my $i (1 .. 8) {
        my $pid = fork;
        die "fork: $!" unless defined $pid;

        if ($pid == 0) {
            %NginxGw::Util::Children = ();
            my ($n, $max, %pid) = (0, 0);
            eval {
                while (time < $deadline && !-e "$file.found") {
                    my ($body, $wpid, $score) = get($port, "/$n");
                    $n++;
                    $pid{$wpid}++;
                    next unless $score =~ /^\d+$/;
                    # as a string: the figures may exceed Perl's integers
                    if (length $score > length $max
                        || (length $score == length $max && $score gt $max))
                    {
                        $max = $score;
                    }
                    if (length $score > 10) {
                        open my $fh, '>', "$file.found";
                        close $fh;
                    }
                }
            };
            open my $fh, '>>', $file or POSIX::_exit(1);
            print $fh "$n $max " . join(',', keys %pid) . "\n";
            close $fh;
            POSIX::_exit(0);
        }

        push @pids, $pid;
    }

    waitpid $_, 0 for @pids;

    open my $fh, '<', $file or die "$file: $!";
    my @lines = <$fh>;
    close $fh;

    my ($n, $max, %pid) = (0, '0');
    for (@lines) {
        my ($count, $m, $p) = split;
        $n += $count;
        $max = $m if length $m > length $max
                     || (length $m == length $max && $m gt $max);
        $pid{$_}++ for split /,/, $p // '';
    }

    is(scalar(grep { $_ ne '' } keys %pid), 2, 'both workers served them');
    cmp_ok(length $max, '<=', 10,
           'every $gw_upstream_score below 10^10 (the cost of a peer '
           . 'answering at once)')
        or diag("largest score seen: $max, after $n requests");

    # a run without any insane score proves something only if long enough
    cmp_ok($n, '>=', 100, "many requests made ($n)") if length $max <= 10;

    log_clean($nginx, 'differing clocks');
};

done_testing();
