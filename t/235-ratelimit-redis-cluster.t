#!/usr/bin/perl

# t/235-ratelimit-redis-cluster.t: gw_redis ... cluster, against a Redis
# Cluster of three masters (no replicas) made by "redis-cli --cluster
# create"; nginx is given one seed node only.
#
#   - 30 limiter keys at rate=3r/m: each lets exactly 3 requests through;
#     their Redis keys are spread over the nodes (at least two of three
#     hold some), and all keys of one limiter key sit in one slot;
#   - MOVED: the slot of a limiter key that has been used is migrated, with
#     its keys, to another node (CLUSTER SETSLOT / MIGRATE, as redis-cli
#     --cluster reshard does): the next requests follow the MOVED
#     redirection and the count goes on;
#   - ASK: a slot half-way through a migration (MIGRATING on the old node,
#     IMPORTING on the new one) for a limiter key with no keys yet: the old
#     node answers -ASK, the client sends ASKING and the script to the new
#     node, and the keys are created there;
#   - a seed that is down, listed before a live one, is skipped.
#
# A plain Test::More test: its own cluster and nginx, in
# $TEST_NGINX_SERVROOT/235-ratelimit-redis-cluster.

use strict;
use warnings;

use Test::More;
use FindBin;
use Cwd qw(abs_path);
use Time::HiRes qw(sleep time);

use lib "$FindBin::Bin/lib";
use NginxGw::Util qw(free_port);
use NginxGw::Redis qw(redis_available cluster_start gw_nginx timed_get
                      keyslot);

plan skip_all => 'redis-server not installed' unless redis_available();

my $root = abs_path("$FindBin::Bin/..");
my $prefix = ($ENV{TEST_NGINX_SERVROOT} // "$root/build/t")
             . "/235-ratelimit-redis-cluster";

my $cluster = cluster_start("$prefix/cluster", masters => 3);
my @nodes = $cluster->nodes;
my $seed = $cluster->seed;
my $sp = $seed->port;
my $dead = free_port();         # nothing listens there
my $port = free_port();

my $nginx = gw_nginx("$prefix/nginx", <<"_EOC_", workers => 1);
    gw_redis c 127.0.0.1:$sp cluster timeout=200ms;
    gw_ratelimit_zone z key=\$arg_k rate=3r/m redis=c on_redis_error=deny;

    # a seed that is down, listed first
    gw_redis c2 127.0.0.1:$dead 127.0.0.1:$sp cluster timeout=200ms;
    gw_ratelimit_zone z2 key=\$arg_k rate=3r/m redis=c2 on_redis_error=deny;

    server {
        listen 127.0.0.1:$port;
        location / { gw_ratelimit z; echo ok; }
        location /two { gw_ratelimit z2; echo ok; }
    }
_EOC_

sub codes {
    my ($k, $n) = @_;
    return join ' ', map { timed_get($port, "/?k=$k")->{code} // 'none' }
                     1 .. $n;
}

# the Redis keys of limiter key $k, on whichever node: [node, key] pairs
sub where {
    my ($k) = @_;
    my @r;
    for my $n (@nodes) {
        push @r, map { [$n, $_] } $n->keys("*$k*");
    }
    return @r;
}

# --- many keys ------------------------------------------------------------

my $exact = 0;
my %node_used;
my $one_slot = 0;
for my $i (0 .. 29) {
    my $k = "many-$i-x";
    my $c = codes($k, 4);
    $exact++ if $c eq '200 200 200 429';
    diag("limiter key $k: $c") if $c ne '200 200 200 429';
    my @w = where($k);
    my %slots = map { keyslot($_->[1]) => 1 } @w;
    my %nodes = map { $_->[0]->port => 1 } @w;
    $one_slot++ if @w && keys %slots == 1 && keys %nodes == 1;
    $node_used{$_}++ for keys %nodes;
}
is($exact, 30, '30 limiter keys, each exactly 3 of 4');
is($one_slot, 30, 'the Redis keys of each limiter key: one slot, one node');
ok(keys %node_used >= 2, 'spread over ' . scalar(keys %node_used)
   . ' of 3 nodes (' . join(', ', map { "$_: $node_used{$_}" }
                                  sort keys %node_used) . ')');
my $off_seed = grep { $_ != $sp } keys %node_used;
ok($off_seed, 'some on nodes other than the seed');

# --- MOVED ---------------------------------------------------------------

is(codes('moved-1', 1), '200', 'a limiter key used once');
my @w = where('moved-1');
ok(@w >= 1, 'its keys: ' . join(', ', map { $_->[1] . '@' . $_->[0]->port } @w))
    or BAIL_OUT('no keys in the cluster');
my $slot = keyslot($w[0][1]);
my $from = $w[0][0];
my ($to) = grep { $_ != $from } @nodes;
$cluster->migrate_slot($slot, $from, $to);
is($cluster->node_for_slot($slot)->port, $to->port,
   "slot $slot moved from " . $from->port . " to " . $to->port);
is(scalar(() = $from->keys('*moved-1*')), 0, 'the keys left the old node');
ok((() = $to->keys('*moved-1*')) >= 1, 'and are on the new one');

is(codes('moved-1', 3), '200 200 429',
   'after MOVED, the count goes on: 2 more pass, then 429');

# --- ASK -------------------------------------------------------------------

# Use limiter key "ask-1" once to learn its slot, delete its keys and
# migrate the slot half-way: the old node then has none of its keys and
# answers -ASK.
is(codes('ask-1', 1), '200', 'limiter key ask-1 used once');
@w = where('ask-1');
my $aslot = keyslot($w[0][1]);
my $afrom = $w[0][0];
my ($ato) = grep { $_ != $afrom } @nodes;
$afrom->cli('DEL', $_->[1]) for @w;
$cluster->migrate_slot($aslot, $afrom, $ato, stop_half => 1);

is(codes('ask-1', 4), '200 200 200 429',
   "slot $aslot migrating: ASK followed, exact (keys deleted, so 3 again)");
ok((() = $ato->keys('*ask-1*')) >= 1, 'the keys were made on the new node');
is(scalar(() = $afrom->keys('*ask-1*')), 0, 'and not on the old one');

$cluster->finish_migration($aslot);
is(codes('ask-1', 1), '429', 'after the migration finished: still counted');

# --- a dead seed listed first --------------------------------------------

my @two = map { timed_get($port, '/two?k=deadseed')->{code} // 'none' }
          1 .. 6;
my $two = join ' ', @two;
$two =~ s/^(503 )+//;
like($two, qr/^200 200 200 429/, 'a dead seed listed first: the next one is '
     . 'used (' . join(' ', @two) . ')');

# --- log --------------------------------------------------------------------

my $log = $nginx->error_log_text;
unlike($log, qr/\[(crit|alert|emerg)\]/, 'no crit, alert, emerg');
my @errors = grep { /\[error\]/ && !/limiting requests by zone/
                    && !/127\.0\.0\.1:$dead\b/ } split /\n/, $log;
is(scalar @errors, 0,
   'no errors but the dead seed\'s: redirections are not errors')
    or diag(join "\n", @errors[0 .. ($#errors > 9 ? 9 : $#errors)]);

is($nginx->stop, 0, 'nginx exits cleanly');

done_testing();
