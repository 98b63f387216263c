#!/usr/bin/perl

# gw_least_time across "nginx -s reload" (SIGHUP): the figures live in a zone
# of their own, kept across reload and matched by peer address, so a reload
# neither forgets what was learnt nor gives one peer's figures to another.
# Peer "s" is slow (50 ms), the others fast; each answer names its peer.
#
# A plain Test::More file: it reloads a running nginx.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use POSIX ();
use Test::More;
use Time::HiRes qw(time sleep);
use NginxGw::Util qw(free_port start_nginx http_request workers_of
                     wait_old_workers);

my $nginx_bin = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
my @modules = split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} // '');
my $servroot = ($ENV{TEST_NGINX_SERVROOT} || "$FindBin::Bin/../build/t")
               . '/411-least-time-reload';

plan skip_all => "no nginx at $nginx_bin" unless -x $nginx_bin;
plan skip_all => 'TEST_NGINX_LOAD_MODULES must load the gw_least_time and '
                 . 'echo modules'
    unless grep(/least_time/, @modules) && grep(/echo/, @modules);


# The configuration of generation $gen: upstream "u" with the servers
# @$servers (lines after "server"), backends on the ports of %$ports (name
# => port; "s" is slow, a name starting with "h" hangs on /hang), the front
# on $port.  /gen answers the generation without touching the upstream.
sub conf {
    my ($gen, $port, $balancer, $servers, $ports) = @_;

    my $upstream = join '', map { "        server $_;\n" } @$servers;
    my $backends = '';

    for my $name (sort keys %$ports) {
        my $slow = $name eq 's' ? 'echo_sleep 0.05; ' : '';
        $backends .= <<"_EOC_";
    server {
        listen 127.0.0.1:$ports->{$name};
        location /hang { echo_sleep 1; echo -n $name; }
        location / { ${slow}echo -n $name; }
    }
_EOC_
    }

    return <<"_EOC_";
worker_processes 1;
error_log logs/error.log info;
events { worker_connections 1024; }
http {
    access_log off;

    upstream u {
        $balancer;
$upstream    }

$backends
    server {
        listen 127.0.0.1:$port;
        location = /gen { return 200 "$gen"; }
        location / { proxy_pass http://u; }
    }
}
_EOC_
}

# Reload with the configuration $conf and wait until the new workers answer
# (generation $gen, five times in a row).
sub reload {
    my ($nginx, $gen, $conf) = @_;

    my $file = $nginx->prefix . '/conf/nginx.conf';

    # keep what start_nginx added (load_module lines, temp paths)
    open my $in, '<', $file or die "$file: $!";
    my $old = do { local $/; <$in> };
    close $in;

    my ($head) = $old =~ /^(.*?)^worker_processes/ms;
    my ($temp) = $old =~ /^http \{\n((?:\s*\w+_temp_path [^\n]+\n)+)/m;
    $conf =~ s/^(http \{\n)/$1$temp/m if defined $temp;

    open my $out, '>', $file or die "$file: $!";
    print $out $head . $conf;
    close $out;

    my $n = workers_of($nginx->pid);
    kill 'HUP', $nginx->pid or die "kill: $!";

    my ($ok, $deadline) = (0, time + 10);
    while ($ok < 5 && time < $deadline) {
        my ($status, $h, $body) = http_request(port => $nginx->port,
                                               path => '/gen');
        $ok = ($status // 0) == 200 && $body eq $gen ? $ok + 1 : 0;
        sleep 0.02;
    }

    ok($ok >= 5, "reloaded to generation $gen")
        or diag($nginx->error_log_text);

    # an old worker may still take a connection until it handles its QUIT
    wait_old_workers($nginx->pid, $n);
}

# $n requests to $path one after the other; the answers in a row ("ffsf").
sub answers {
    my ($port, $n, $path) = @_;

    my $s = '';
    for my $i (1 .. $n) {
        my ($status, $h, $body) = http_request(port => $port,
                                               path => "$path$i");
        $s .= ($status // 0) == 200 ? $body : '?';
    }
    return $s;
}

sub log_clean {
    my ($nginx, $name) = @_;

    my @bad = grep { /\[(?:alert|crit|emerg)\]|exited on signal/ }
              split /\n/, $nginx->error_log_text;
    ok(!@bad, "$name: no alert, crit, emerg or crashed worker in the log")
        or diag(join "\n", @bad[0 .. ($#bad < 4 ? $#bad : 4)]);
}


subtest 'a reload with the same peers keeps their figures' => sub {
    my %port = map { $_ => free_port() } qw(s f);
    my $port = free_port();
    my @servers = ("127.0.0.1:$port{s}", "127.0.0.1:$port{f}");

    my $conf = sub {
        conf($_[0], $port, 'gw_least_time header', \@servers, \%port);
    };

    my $nginx = start_nginx($conf->(1), "$servroot/same", port => $port,
                            binary => $nginx_bin, load_modules => \@modules);

    my $before = answers($port, 10, '/one/');
    is(($before =~ tr/s//), 1, 'before: the slow peer answered once')
        or diag($before);

    reload($nginx, 2, $conf->(2));

    # with its figures lost, the slow peer would cost 0 and be tried first
    my $after = answers($port, 10, '/two/');
    is($after, 'f' x 10, 'after: the slow peer is still left alone')
        or diag($after);

    log_clean($nginx, 'same peers');
};


subtest 'a reload that reorders the peers and adds one keeps each '
        . "peer's figures, by address" => sub {
    my %port = map { $_ => free_port() } qw(s f n);
    my $port = free_port();

    my $nginx = start_nginx(
        conf(1, $port, 'gw_least_time header',
             ["127.0.0.1:$port{s}", "127.0.0.1:$port{f}"], \%port),
        "$servroot/changed", port => $port,
        binary => $nginx_bin, load_modules => \@modules);

    my $before = answers($port, 10, '/one/');
    is(($before =~ tr/s//), 1, 'before: the slow peer answered once')
        or diag($before);

    # "s" is now second, "n" new and first
    reload($nginx, 2, conf(2, $port, 'gw_least_time header',
                           ["127.0.0.1:$port{n}", "127.0.0.1:$port{f}",
                            "127.0.0.1:$port{s}"], \%port));

    my $after = answers($port, 10, '/two/');
    is(($after =~ tr/s//), 0, 'after: the slow peer is still left alone')
        or diag($after);
    cmp_ok(($after =~ tr/n//), '>=', 1, 'after: the new peer is tried')
        or diag($after);

    log_clean($nginx, 'changed peers');
};


subtest 'a request in flight across a reload that moves its peer: its '
        . 'result goes to that peer, and no phantom request stays' => sub {
    plan skip_all => 'under valgrind: shares of peers a few ms apart'
        if $ENV{TEST_NGINX_USE_VALGRIND};

    my %port = map { $_ => free_port() } qw(h f n);
    my $port = free_port();

    # decay=100ms: the hanging request's second stays visible for the
    # 300 ms of requests afterwards, a first request slower than others
    # by a few milliseconds does not
    my $balancer = 'gw_least_time header decay=100ms';

    my $nginx = start_nginx(
        conf(1, $port, $balancer,
             ["127.0.0.1:$port{h}", "127.0.0.1:$port{f}"], \%port),
        "$servroot/in-flight", port => $port,
        binary => $nginx_bin, load_modules => \@modules);

    # the first pick, both peers untried, is the first peer: "h"
    pipe my $r, my $w or die "pipe: $!";
    my $child = fork;
    die "fork: $!" unless defined $child;

    if ($child == 0) {
        %NginxGw::Util::Children = ();
        close $r;
        my ($status, $h, $body) = eval {
            http_request(port => $port, path => '/hang', timeout => 10)
        };
        print $w ($status // '') . " " . ($body // "died $@");
        close $w;
        POSIX::_exit(0);
    }

    close $w;
    sleep 0.2;

    # "h" moves from the first place to the last, "f" takes the first
    reload($nginx, 2, conf(2, $port, $balancer,
                           ["127.0.0.1:$port{f}", "127.0.0.1:$port{n}",
                            "127.0.0.1:$port{h}"], \%port));

    my $hung = do { local $/; <$r> };
    waitpid $child, 0;
    is($hung, '200 h', 'the request in flight was answered by "h" in the end');

    # the old worker has counted its request (1 s) and exited
    sleep 0.05;

    my $after = '';
    for my $i (1 .. 30) {
        $after .= answers($port, 1, "/after/$i/");
        sleep 0.01;
    }

    cmp_ok(($after =~ tr/h//), '<=', 3,
           '"h", whose last request took 1 s, gets few of the next 30')
        or diag($after);
    cmp_ok(($after =~ tr/f//), '>=', 5,
           '"f", which only took the place of "h", takes its share')
        or diag($after);
    cmp_ok(($after =~ tr/n//), '>=', 5, 'the new peer "n" takes its share')
        or diag($after);

    log_clean($nginx, 'in flight across reload');
};

done_testing();
