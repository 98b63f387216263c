#!/usr/bin/perl

# t/901-chaos-reload.t: ten "nginx -s reload" of a gateway under load, with
# every gw module in the request path at once:
#
#   /jwt    gw_auth_jwt (HS256 key file, gw_auth_cache)      200
#   /key    gw_auth_api_key                                  200
#   /hook   gw_webhook github (a signed POST)                200
#   /lt     upstream with gw_least_time: a fast and a slow   200 from the
#           peer (300 ms)                                    fast peer only
#   /brk    upstream with gw_breaker, its one peer answers   503 fail-fast,
#           502 and was tripped before the load              every time
#   /quota  gw_ratelimit token_bucket 100r/d: key "x"        429 every time
#           exhausted before the load, key "a" 40 used       exactly 60 more
#                                                            200s, then 429
#   everything also under a 100000r/s gw_ratelimit (server level).
#
# What the reloads must not change: no request fails (no other status than
# the one above, no connection error), the limiter's counts are kept (an
# exhausted key stays exhausted, key "a" gets exactly its 100 in all), the
# open breaker stays open (the failing peer gets no request after the two
# that tripped it), the least-time figures are kept (the slow peer, which
# would cost 0 with its figures lost and be tried first, gets no request).
#
# The backends are a second nginx (so only the gateway reloads); the
# gateway has two workers.  Load: 3 client processes, each request on a new
# connection, for the time the ten reloads take (about 1 s apart, each
# waiting until the new generation answers) and half a second more.  The
# figures (requests, unexpected answers, worst latency) are printed with
# diag.

use strict;
use warnings;

use Test::More;
use FindBin;
use Cwd qw(abs_path);
use Digest::SHA qw(hmac_sha256_hex);
use File::Path qw(remove_tree make_path);
use Time::HiRes qw(sleep time);

use lib "$FindBin::Bin/lib";
use NginxGw::Util qw(free_port start_nginx http_request nginx_output);
use NginxGw::Auth qw(jwt jwks oct_jwk api_key_line write_file);
use NginxGw::Chaos qw(start_load finish_load tally log_problems
                      one_request);

my $root = abs_path("$FindBin::Bin/..");
my $prefix = ($ENV{TEST_NGINX_SERVROOT} // "$root/build/t")
             . "/901-chaos-reload";
my @modules = split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} // '');

plan skip_all => 'TEST_NGINX_LOAD_MODULES must load every gw module and echo'
    unless 6 <= grep { /gw_(auth|ratelimit|breaker|lb_least_time|webhook)_module|echo/ }
                     @modules;

remove_tree($prefix);
make_path("$prefix/gw/conf");

my ($gw, $plain, $fail, $fast, $slow) = map { free_port() } 1 .. 5;

# fixtures: an HS256 key, an API key, a webhook secret
my $hs = join '', map { chr(65 + int rand 26) } 1 .. 32;
my $token = jwt('HS256', $hs, { sub => 'alice', exp => time + 3600 },
                { kid => 'k1' });
my $api_key = 'key-' . join '', map { int rand 10 } 1 .. 20;
my $hook_secret = 'whsec-' . join '', map { int rand 10 } 1 .. 20;
my $hook_body = '{"zen":"Keep it logically awesome.","hook_id":901}';
my $hook_sig = 'sha256=' . hmac_sha256_hex($hook_body, $hook_secret);

write_file("$prefix/gw/conf/jwks.json", jwks(oct_jwk($hs, kid => 'k1')));
write_file("$prefix/gw/conf/api-keys.txt", api_key_line($api_key, 'acme'));
write_file("$prefix/gw/conf/hook.secret", $hook_secret);

my $user = $> == 0 ? "user root;\n" : '';
my $echo = join '', map { "load_module $_;\n" } grep { /echo/ } @modules;
my $mods = join '', map { "load_module $_;\n" } @modules;

# --- backends: a second nginx -------------------------------------------

my $backends = start_nginx(<<"_EOC_", "$prefix/backends", port => $slow);
${echo}${user}worker_processes 1;
error_log logs/error.log info;
events { worker_connections 1024; }
http {
    log_format b '\$server_port \$request_uri \$status';
    access_log logs/access.log b;
    server { listen 127.0.0.1:$plain; location / { echo -n ok; } }
    server { listen 127.0.0.1:$fail;  location / { return 502; } }
    server { listen 127.0.0.1:$fast;  location / { echo -n f; } }
    server { listen 127.0.0.1:$slow;
             location / { echo_sleep 0.3; echo -n s; } }
}
_EOC_

# --- the gateway --------------------------------------------------------

sub gw_conf {
    my ($gen) = @_;
    my $temp = join '', map { "    ${_}_temp_path $prefix/gw/${_}_temp;\n" }
                        qw(client_body proxy fastcgi uwsgi scgi);
    return <<"_EOC_";
${mods}${user}worker_processes 2;
error_log logs/error.log info;
pid $prefix/gw/logs/nginx.pid;
events { worker_connections 1024; }
http {
$temp    access_log off;

    gw_auth_cache      zone=auth:1m;
    gw_ratelimit_zone  all   key=all rate=100000r/s;
    gw_ratelimit_zone  quota key=\$arg_k rate=100r/d
                       algorithm=token_bucket;

    upstream plain { server 127.0.0.1:$plain; }

    upstream brk {
        server 127.0.0.1:$fail;
        gw_breaker failures=2 open=60s;
    }

    upstream lt {
        gw_least_time header decay=60s;
        server 127.0.0.1:$fast;
        server 127.0.0.1:$slow;
    }

    server {
        listen 127.0.0.1:$gw;
        add_header X-Gen $gen always;
        gw_ratelimit all;
        proxy_next_upstream off;

        location = /gen   { return 200 "$gen"; }
        location = /jwt   { gw_auth_jwt api;
                            gw_auth_jwt_key_file jwks.json;
                            proxy_pass http://plain; }
        location = /key   { gw_auth_api_key api-keys.txt;
                            proxy_pass http://plain; }
        location = /hook  { gw_webhook github;
                            gw_webhook_secret file=hook.secret;
                            proxy_pass http://plain; }
        location = /quota { gw_ratelimit quota; proxy_pass http://plain; }
        location = /brk   { proxy_pass http://brk; }
        location = /lt    { proxy_pass http://lt; }
    }
}
_EOC_
}

my $nginx = start_nginx(gw_conf(1), "$prefix/gw", port => $gw);

sub get {
    my ($path, @h) = @_;
    my ($code, $h, $body) = http_request(port => $gw, path => $path,
                                         headers => \@h);
    return ($code // 'none', $body // '');
}

sub codes {
    my ($n, $path) = @_;
    my %c;
    $c{(get($path))[0]}++ for 1 .. $n;
    return join ' ', map { "$_ x$c{$_}" } sort keys %c;
}

# --- before the load ----------------------------------------------------

is((get('/jwt', Authorization => "Bearer $token"))[0], 200, 'jwt: 200');
is((get('/key', 'X-API-Key' => $api_key))[0], 200, 'api key: 200');

is(codes(100, '/quota?k=x'), '200 x100', 'quota: key x, 100 passes');
is(codes(5, '/quota?k=x'), '429 x5', 'quota: then 429');
is(codes(40, '/quota?k=a'), '200 x40', 'quota: key a, 40 of its 100 used');

is(join(' ', map { (get('/brk'))[0] } 1 .. 4), '502 502 503 503',
   'breaker: two 502s from the peer open it, then 503 fail-fast');

# least time: the untried peers cost 0; once the slow one has a sample,
# only the fast one is chosen
my $lt = '';
for (1 .. 6) {
    $lt .= (get('/lt'))[1];
    last if $lt =~ /s/ && $lt =~ /f$/;
}
like($lt, qr/s.*f$/, "least_time: both peers tried, the fast one wins ($lt)");

# --- ten reloads under load ---------------------------------------------

my @mix = (
    { name => 'jwt',   path => '/jwt',
      headers => [Authorization => "Bearer $token"] },
    { name => 'key',   path => '/key', headers => ['X-API-Key' => $api_key] },
    { name => 'hook',  path => '/hook', method => 'POST', body => $hook_body,
      headers => ['X-Hub-Signature-256' => $hook_sig,
                  'Content-Type' => 'application/json'] },
    { name => 'lt',    path => '/lt' },
    { name => 'brk',   path => '/brk' },
    { name => 'quota-x', path => '/quota?k=x' },
    { name => 'quota-a', path => '/quota?k=a' },
);

# the load lasts until 0.5 s after the last reload (60 s at most)
my $stop = "$prefix/load/stop";
my $load = start_load(port => $gw, clients => 3, seconds => 60,
                      dir => "$prefix/load", mix => \@mix,
                      stop_file => $stop);
my $t0 = time;
my @reload_ms;

sleep 0.5;
for my $gen (2 .. 11) {
    open my $fh, '>', "$prefix/gw/conf/nginx.conf" or die;
    print $fh gw_conf($gen);
    close $fh;

    my $t = time;
    my ($status, $out) = nginx_output(['-p', "$prefix/gw/", '-c',
                                       "$prefix/gw/conf/nginx.conf",
                                       '-s', 'reload'], "$prefix/gw/logs");
    is($status, 0, "reload $gen: nginx -s reload") or diag($out);

    my $row = 0;
    while ($row < 3 && time - $t < 10) {
        my ($code, $body) = get('/gen');
        $row = $code eq '200' && $body eq $gen ? $row + 1 : 0;
        sleep 0.01 if $row == 0;
    }
    ok($row >= 3, "reload $gen: the new generation answers");
    push @reload_ms, (time - $t) * 1000;
    sleep 0.7;
}
my $reloads_took = time - $t0;
sleep 0.5;
open my $sfh, '>', $stop or die "$stop: $!";
close $sfh;

my $rec = finish_load($load);

# the load must have spanned the reloads
my ($first, $last) = (1e20, 0);
for (@$rec) { $first = $_->[3] if $_->[3] < $first;
              $last = $_->[3] if $_->[3] > $last }
ok($first < $t0 + 0.5 && $last > $t0 + $reloads_took - 0.5,
   'the load ran during all ten reloads');

diag(sprintf "ten reloads in %.1f s, each answered by its new generation "
     . "within %.0f ms at most", $reloads_took,
     (sort { $b <=> $a } @reload_ms)[0]);

my $fig = tally('901 ten reloads under load', $rec,
                jwt => qr/^200$/, key => qr/^200$/, hook => qr/^200$/,
                lt => qr/^200$/, brk => qr/^503$/,
                'quota-x' => qr/^429$/, 'quota-a' => qr/^(?:200|429)$/);

is($fig->{conn_errors}, 0, 'no connection error');
cmp_ok($fig->{max}, '<', 3000, 'every request answered within 3 s');

my @slow = grep { $_->[0] eq 'lt' && $_->[4] ne 'f' } @$rec;
is(scalar @slow, 0, 'least_time: the slow peer got no request across the '
   . 'reloads (its figures were kept)');

my $a_passed = $fig->{by}{'quota-a'}{200} // 0;
is($a_passed, 60, 'quota: key a got exactly its 60 remaining passes '
   . 'across the reloads (counts kept)');
is(codes(3, '/quota?k=a'), '429 x3', 'quota: key a is exhausted after');
is(codes(3, '/quota?k=x'), '429 x3', 'quota: key x is still exhausted');
is(codes(5, '/brk'), '503 x5', 'breaker: still open after the reloads');

$backends->stop;
my $blog = do { local (@ARGV, $/) = ("$prefix/backends/logs/access.log");
                <> // '' };
my $to_fail = () = $blog =~ /^$fail /mg;
is($to_fail, 2, 'breaker: the failing peer got only the two requests that '
   . 'tripped it');

is($nginx->stop, 0, 'the gateway stops cleanly');
my @bad = log_problems($nginx->error_log_text);
ok(!@bad, 'gateway error log: no worker exited on a signal, no alert, '
   . 'emerg or crit') or diag(join "\n", @bad[0 .. ($#bad < 9 ? $#bad : 9)]);

done_testing();
