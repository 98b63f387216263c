#!/usr/bin/perl

# t/232-ratelimit-redis-auth.t: gw_redis password=, username= and db=.
#
#   - a Redis with requirepass: password= authenticates, counts are exact;
#   - a Redis with an ACL user (and a default user whose password nginx
#     does not know): username= + password= authenticate, db=5 selects
#     database 5: the keys land there and not in database 0;
#   - a wrong password, or none: each request is decided by the zone's
#     on_redis_error (local: counted in shared memory, exactly; allow: 200
#     with $gw_ratelimit_status ERROR; deny: 503), quickly; the error log
#     says why (Redis's WRONGPASS / NOAUTH), at "error" level, and no
#     password appears in the log, not even at debug level.
#
# A plain Test::More test: two redis-servers of its own and one nginx, in
# $TEST_NGINX_SERVROOT/232-ratelimit-redis-auth.

use strict;
use warnings;

use Test::More;
use FindBin;
use Cwd qw(abs_path);
use Time::HiRes qw(sleep time);

use lib "$FindBin::Bin/lib";
use NginxGw::Util qw(free_port);
use NginxGw::Redis qw(redis_available redis_start gw_nginx timed_get);

plan skip_all => 'redis-server not installed' unless redis_available();

my $root = abs_path("$FindBin::Bin/..");
my $prefix = ($ENV{TEST_NGINX_SERVROOT} // "$root/build/t")
             . "/232-ratelimit-redis-auth";

# passwords made here, so that finding one in the log cannot be chance
my $rnd = sub { join '', map { ('a' .. 'z', 0 .. 9)[rand 36] } 1 .. 12 };
my $pass1   = 'P1' . $rnd->();          # requirepass of r1
my $admin2  = 'A2' . $rnd->();          # default user of r2
my $gwpass  = 'GW' . $rnd->();          # ACL user "gwuser" of r2
my $wrong   = 'WRONG' . $rnd->();       # what nobody accepts

my $r1 = redis_start("$prefix/r1", requirepass => $pass1);
my $r2 = redis_start("$prefix/r2", requirepass => $admin2,
                     users => [[ 'gwuser', $gwpass, '~*', '+@all' ]]);

my ($p1, $p2) = ($r1->port, $r2->port);
my $port = free_port();

my $nginx = gw_nginx("$prefix/nginx", <<"_EOC_", log_level => 'debug');
    gw_redis auth  127.0.0.1:$p1 password=$pass1
                   timeout=$ENV{TEST_NGINX_REDIS_TIMEOUT};
    gw_redis acl   127.0.0.1:$p2 username=gwuser password=$gwpass db=5
                   timeout=$ENV{TEST_NGINX_REDIS_TIMEOUT};
    gw_redis wrong 127.0.0.1:$p1 password=$wrong;
    gw_redis wrongacl 127.0.0.1:$p2 username=gwuser password=$wrong;
    gw_redis none  127.0.0.1:$p1;

    gw_ratelimit_zone auth  key=\$arg_k rate=3r/m redis=auth;
    gw_ratelimit_zone acl   key=\$arg_k rate=3r/m redis=acl;
    gw_ratelimit_zone w_local key=\$arg_k rate=3r/m redis=wrong
                      on_redis_error=local;
    gw_ratelimit_zone w_allow key=\$arg_k rate=3r/m redis=wrong
                      on_redis_error=allow;
    gw_ratelimit_zone w_deny  key=\$arg_k rate=3r/m redis=wrong
                      on_redis_error=deny;
    gw_ratelimit_zone wa_deny key=\$arg_k rate=3r/m redis=wrongacl
                      on_redis_error=deny;
    gw_ratelimit_zone n_allow key=\$arg_k rate=3r/m redis=none
                      on_redis_error=allow;

    server {
        listen 127.0.0.1:$port;
        add_header X-RL-Status \$gw_ratelimit_status always;
        location /auth     { gw_ratelimit auth;    echo ok; }
        location /acl      { gw_ratelimit acl;     echo ok; }
        location /w-local  { gw_ratelimit w_local; echo ok; }
        location /w-allow  { gw_ratelimit w_allow; echo ok; }
        location /w-deny   { gw_ratelimit w_deny;  echo ok; }
        location /wa-deny  { gw_ratelimit wa_deny; echo ok; }
        location /n-allow  { gw_ratelimit n_allow; echo ok; }
    }
_EOC_

my $slowest = 0;

sub run {
    my ($path, $n) = @_;
    my (@c, @s);
    for (1 .. $n) {
        my $r = timed_get($port, $path);
        push @c, $r->{code} // 'none';
        push @s, $r->{h}{'x-rl-status'} // '-';
        $slowest = $r->{ms} if $r->{ms} > $slowest;
    }
    return (join(' ', @c), join(' ', @s));
}

# --- requirepass ---------------------------------------------------------

my ($c, $s) = run('/auth?k=a1', 4);
is($c, '200 200 200 429', 'password=: exact in Redis');
is($s, 'PASSED PASSED PASSED REJECTED', 'password=: statuses');
my @k = $r1->keys('*a1*');
ok(@k >= 1, "password=: keys in Redis (@k)");

# --- ACL user, db=5 ------------------------------------------------------

($c, $s) = run('/acl?k=b2', 4);
is($c, '200 200 200 429', 'username= password= db=5: exact in Redis');
is($s, 'PASSED PASSED PASSED REJECTED', 'ACL user: statuses');
my @k5 = $r2->keys('*b2*', db => 5);
my @k0 = $r2->keys('*b2*', db => 0);
ok(@k5 >= 1, "db=5: the keys are in database 5 (@k5)");
is(scalar @k0, 0, 'db=5: none in database 0');
my @user_cmds = grep { /gwuser/ } $r2->cli('CLIENT', 'LIST');
ok(@user_cmds >= 1, 'nginx is connected as gwuser')
    or diag(scalar $r2->cli('CLIENT', 'LIST'));
ok(!(grep { !/\bdb=5\b/ } @user_cmds), 'on database 5');

# --- wrong password: the policies ---------------------------------------

($c, $s) = run('/w-local?k=c3', 5);
is($c, '200 200 200 429 429',
   'wrong password, on_redis_error=local: exact in shared memory');

($c, $s) = run('/w-allow?k=c4', 5);
is($c, '200 200 200 200 200', 'wrong password, on_redis_error=allow: 200');
is($s, 'ERROR ERROR ERROR ERROR ERROR', 'allow: status ERROR');

($c, $s) = run('/w-deny?k=c5', 3);
is($c, '503 503 503', 'wrong password, on_redis_error=deny: 503');

($c, $s) = run('/wa-deny?k=c6', 3);
is($c, '503 503 503', 'wrong ACL password, on_redis_error=deny: 503');

($c, $s) = run('/n-allow?k=c7', 3);
is($c, '200 200 200', 'no password for a server that wants one: allow');
is($s, 'ERROR ERROR ERROR', 'status ERROR');

ok($slowest < 1000, sprintf 'every request answered within 1 s '
                            . '(slowest %.0f ms)', $slowest);

# nothing was counted in Redis by the failing blocks
is(scalar(() = $r1->keys('*c[3-7]*')), 0, 'no keys from failed AUTH');

# --- the error log -------------------------------------------------------

my $log = $nginx->error_log_text;
my @auth_err = grep { /\[error\]/ && /WRONGPASS|invalid username-password/i }
               split /\n/, $log;
ok(@auth_err >= 1, 'the error log says Redis refused the password')
    or diag(join "\n", grep { /\[error\]/ } split /\n/, $log);
like($auth_err[0] // '', qr/127\.0\.0\.1:$p1|127\.0\.0\.1:$p2/,
     'naming the server') if @auth_err;
ok((grep { /NOAUTH/ } split /\n/, $log),
   'and that a server wants a password (NOAUTH)');

for my $secret ($pass1, $admin2, $gwpass, $wrong) {
    unlike($log, qr/\Q$secret\E/, 'no password in the error log (debug)');
}
unlike($log, qr/\[(crit|alert|emerg)\]/, 'no crit, alert or emerg');

# the other servers' passwords never got to Redis's log either
for my $r ($r1, $r2) {
    unlike($r->log_text, qr/\Q$wrong\E/, 'no password in redis.log');
}

is($nginx->stop, 0, 'nginx exits cleanly');

done_testing();
