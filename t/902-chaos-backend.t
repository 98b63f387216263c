#!/usr/bin/perl

# t/902-chaos-backend.t: a backend killed (SIGKILL) and restarted, then
# frozen (SIGSTOP) and thawed, under load, behind gw_breaker:
#
#   /one   upstream "one": b1 only, gw_breaker failures=3 open=1s
#          max_open=2s, proxy_next_upstream off.  While b1 is down the
#          client sees the failures the policy lets through (502 refused,
#          504 timed out), then 503 fail-fast; once b1 is back, 200 again
#          within max_open (2 s, the longest a breaker stays open) plus 1 s.
#   /pair  upstream "pair": b1 and b2, the same breaker, nginx's default
#          proxy_next_upstream (error timeout): every failed attempt on b1
#          is retried on b2, so the client sees no error at all.
#
# The bound on failed answers at /one, per outage: failures (3) + the
# clients' requests already in flight when the breaker opened (at most
# clients - 1 = 2) + one failed half-open probe per open period (at most
# outage / open + 1 = 4 for the 3 s outage): 9.  Latency: refused
# connections fail at once; a frozen peer costs proxy_read_timeout
# (300 ms) to the requests that still try it, nothing once it is open.
#
# Backends b1, b2 are nginx processes of their own; the gateway has two
# workers (they share the breaker).  Load: 3 clients, each request on a new
# connection, /one and /pair in turn, 9 s per fault: the fault at 1.5 s, the
# repair at 4.5 s.  Figures printed with diag.

use strict;
use warnings;

use Test::More;
use FindBin;
use Cwd qw(abs_path);
use File::Path qw(remove_tree);
use Time::HiRes qw(sleep time);

use lib "$FindBin::Bin/lib";
use NginxGw::Util qw(free_port start_nginx http_request);
use NginxGw::Chaos qw(start_load finish_load tally log_problems);

my $root = abs_path("$FindBin::Bin/..");
my $prefix = ($ENV{TEST_NGINX_SERVROOT} // "$root/build/t")
             . "/902-chaos-backend";
my @modules = split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} // '');

plan skip_all => 'TEST_NGINX_LOAD_MODULES must load gw_breaker and echo'
    unless 2 == grep { /gw_breaker_module|echo/ } @modules;

remove_tree($prefix);

my ($gw, $p1, $p2) = map { free_port() } 1 .. 3;
my $user = $> == 0 ? "user root;\n" : '';
my $clients = 3;
my ($failures, $open, $max_open) = (3, 1, 2);
my $read_timeout = 0.3;

sub backend_conf {
    my ($name, $port) = @_;
    return <<"_EOC_";
${user}worker_processes 1;
error_log logs/error.log info;
events { worker_connections 1024; }
http {
    access_log off;
    server { listen 127.0.0.1:$port; location / { return 200 "$name"; } }
}
_EOC_
}

my %b;
sub backend_start {
    my ($name, $port) = @_;
    $b{$name} = start_nginx(backend_conf($name, $port), "$prefix/$name",
                            port => $port);
}
backend_start(b1 => $p1);
backend_start(b2 => $p2);

my $mods = join '', map { "load_module $_;\n" } grep { /breaker/ } @modules;
my $nginx = start_nginx(<<"_EOC_", "$prefix/gw", port => $gw);
${mods}${user}worker_processes 2;
error_log logs/error.log info;
events { worker_connections 1024; }
http {
    access_log off;
    proxy_read_timeout ${\ ($read_timeout * 1000)}ms;
    proxy_connect_timeout 1s;

    upstream one {
        server 127.0.0.1:$p1;
        gw_breaker failures=$failures open=${open}s max_open=${max_open}s;
    }

    upstream pair {
        server 127.0.0.1:$p1;
        server 127.0.0.1:$p2;
        gw_breaker failures=$failures open=${open}s max_open=${max_open}s;
    }

    server {
        listen 127.0.0.1:$gw;
        location = /one  { proxy_pass http://one;
                           proxy_next_upstream off; }
        location = /pair { proxy_pass http://pair; }
    }
}
_EOC_

my @mix = ({ name => 'one', path => '/one' },
           { name => 'pair', path => '/pair' });

is(join(' ', map { (http_request(port => $gw, path => '/one'))[0] } 1 .. 3),
   '200 200 200', 'b1 answers through the gateway');

# the time after max_open by which the breaker must be closed again: 1 s,
# 5 s under valgrind, where the restarted backend, an nginx under memcheck
# too, takes seconds to listen again
my $slack = $ENV{TEST_NGINX_USE_VALGRIND} ? 5 : 1;

# run_fault($label, $break, $repair, $fail_code): load for 8 s + $slack,
# $break at 1.5 s, $repair at 4.5 s; checks and figures
sub run_fault {
    my ($label, $break, $repair, $fail) = @_;

    my $load = start_load(port => $gw, clients => $clients,
                          seconds => 8 + $slack,
                          dir => "$prefix/load-$label", mix => \@mix);
    my $t0 = time;
    sleep 1.5;
    my $t_break = time;
    $break->();
    sleep 3;
    my $t_repair = time;
    $repair->();
    my $rec = finish_load($load);
    my $outage = $t_repair - $t_break;

    my $fig = tally("902 $label", $rec, one => qr/^(?:200|$fail|503)$/,
                    pair => qr/^200$/);
    is($fig->{conn_errors}, 0, "$label: no connection error");

    my @one = grep { $_->[0] eq 'one' } @$rec;
    my $failed = grep { $_->[1] eq $fail } @one;
    my $fast = grep { $_->[1] eq '503' } @one;
    my $bound = $failures + ($clients - 1) + int($outage / $open) + 1;

    cmp_ok($failed, '>=', 1, "$label: /one saw the outage ($failed x $fail)");
    cmp_ok($failed, '<=', $bound, "$label: /one failed answers within the "
           . "policy: $failed <= failures $failures + in flight "
           . ($clients - 1) . " + probes " . (int($outage / $open) + 1));
    cmp_ok($fast, '>=', 10, "$label: then the breaker failed fast "
           . "($fast x 503)");

    my @before = grep { $_->[3] < $t_break - 0.05 } @one;
    ok(@before && !grep({ $_->[1] ne '200' } @before),
       "$label: /one all 200 before the fault (" . scalar(@before) . ')');

    # recovered: 200 from max_open + $slack after the repair on
    my $closed_by = $t_repair + $max_open + $slack;
    my @after = grep { $_->[3] > $closed_by } @one;
    my @late = grep { $_->[1] ne '200' } @after;
    ok(@after >= 10 && !@late, "$label: /one all 200 again from "
       . "max_open + $slack s after the repair (" . scalar(@after) . ', '
       . scalar(@late) . ' not)');
    my ($last_bad) = sort { $b <=> $a } map { $_->[3] }
                     grep { $_->[1] ne '200' } @one;
    diag(sprintf "%s: outage %.1f s; /one: %d x %s, %d x 503, closed again "
         . "%.2f s after the repair; /pair: %d requests, %d errors",
         $label, $outage, $failed, $fail, $fast,
         defined $last_bad ? $last_bad - $t_repair : 0,
         scalar(grep { $_->[0] eq 'pair' } @$rec),
         scalar(grep { $_->[0] eq 'pair' && $_->[1] ne '200' } @$rec));

    return $fig;
}

# 1. killed and restarted
my $fig = run_fault('b1 killed', sub {
    my $pid = $b{b1}->pid;
    kill 'KILL', -$pid;
    waitpid $pid, 0;
    delete $NginxGw::Util::Children{$pid};
    delete $b{b1}{pid};
}, sub {
    backend_start(b1 => $p1);
}, '502');
cmp_ok($fig->{max}, '<', 1000, 'b1 killed: every request within 1 s '
       . '(refused at once)');

# 2. frozen and thawed: connections are accepted by the kernel, nothing
# answers; only proxy_read_timeout helps
$fig = run_fault('b1 frozen', sub {
    kill 'STOP', -$b{b1}->pid;
}, sub {
    kill 'CONT', -$b{b1}->pid;
}, '504');
cmp_ok($fig->{max}, '<', $read_timeout * 1000 + 1000,
       "b1 frozen: every request within proxy_read_timeout + 1 s");

$_->stop for values %b;
is($nginx->stop, 0, 'the gateway stops cleanly');

my $log = $nginx->error_log_text;
like($log, qr/gw_breaker: peer 127\.0\.0\.1:$p1 of upstream "one" opened/,
     'error log: the breaker of b1 opened');
like($log, qr/gw_breaker: peer 127\.0\.0\.1:$p1 of upstream "one" closed/,
     'error log: and closed again');
my @bad = log_problems($log);
ok(!@bad, 'gateway error log: no worker exited on a signal, no alert, '
   . 'emerg or crit') or diag(join "\n", @bad[0 .. ($#bad < 9 ? $#bad : 9)]);

done_testing();
