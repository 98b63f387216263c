#!/usr/bin/perl

# t/010-example.t: boots examples/nginx.conf, the example gateway, and checks
# with real requests every capability it shows: routing by path, header and
# query argument; round robin, weights, least_conn, ip_hash, hash and random
# balancing with upstream keepalive; proxy_cache; gzip; security headers;
# request and response header rewriting; JSON errors; /healthz; HSTS on TLS;
# JWT and API-key auth; per-consumer rate limits; webhook signatures; and,
# at the end, what gw_status reports of that traffic (/gw_status, /metrics),
# that examples/grafana-dashboard.json draws only metrics and labels that
# /metrics has, and the JSON access log.
#
# The file is used as it is, with only these changes, so the example cannot
# rot unnoticed:
#   - every 127.0.0.1:PORT it names (gateway, TLS, backends, the backend
#     that is down) is moved to a free loopback port;
#   - active "load_module modules/..." lines load from
#     $TEST_NGINX_MODULES_DIR (default: build/modules of this checkout);
#   - if openssl and curl are there, a self-signed certificate is made and
#     the commented TLS lines are enabled.
#
# nginx runs from build/t/010-example/ (wiped first) with -p, in the
# foreground, in a process group of its own, stopped at the end or on die.
#
# Environment: TEST_NGINX_BINARY (default /usr/sbin/nginx),
# TEST_NGINX_MODULES_DIR (default build/modules).

use strict;
use warnings;

use Test::More;
use FindBin;
use Cwd qw(abs_path);
use File::Path qw(make_path remove_tree);
use IO::Socket::INET;
use IO::Uncompress::Gunzip qw(gunzip $GunzipError);
use HTTP::Tiny;
use Digest::SHA qw(hmac_sha256_hex);
use Crypt::JWT qw(encode_jwt);
use JSON::PP;
use POSIX qw(WNOHANG);
use Time::HiRes qw(time sleep);

use lib "$FindBin::Bin/lib";
use NginxGw::Util qw(sanitizer_env sanitizer_directives check_sanitizers
                     valgrind_command);
use NginxGw::Status qw(prom_parse prom_value prom_check json_value);

my $root = abs_path("$FindBin::Bin/..");
my $example = "$root/examples/nginx.conf";
my $prefix = ($ENV{TEST_NGINX_SERVROOT} // "$root/build/t") . "/010-example";
my $nginx = $ENV{TEST_NGINX_BINARY} // '/usr/sbin/nginx';
my $modules_dir = $ENV{TEST_NGINX_MODULES_DIR} // "$root/build/modules";

my $nginx_pid;

# Stop nginx on any exit: normal end, die, alarm, Ctrl-C.  The handlers exit
# rather than die: HTTP::Tiny turns a die inside a request into a 599 reply.
$SIG{INT} = $SIG{TERM} = sub { diag("interrupted by SIG$_[0]"); exit 1 };
$SIG{ALRM} = sub { diag("timeout: the test took too long"); exit 1 };
alarm($ENV{TEST_NGINX_USE_VALGRIND} ? 900 : 60);

END {
    local $?;
    stop_nginx();
}


# -- the configuration -------------------------------------------------------

open my $fh, '<', $example or BAIL_OUT("cannot read $example: $!");
my $conf = do { local $/; <$fh> };
close $fh;

# Ports: every 127.0.0.1:PORT in the file gets a free port.  Bare mentions of
# the same numbers (the backends' "map $server_port") are replaced too, in
# one pass so that a new port is never replaced again.

my %port;
$port{$_} = undef for $conf =~ /127\.0\.0\.1:(\d+)/g;

ok(exists $port{8080}, 'the gateway listens on 127.0.0.1:8080');

my @free = free_ports(scalar keys %port);
$port{$_} = shift @free for sort keys %port;

my $alt = join '|', sort keys %port;
$conf =~ s/\b($alt)\b/$port{$1}/g;

my $gw = $port{8080};

# Ports of the demo backends, from the map that names them.

my %backend_port;
while ($conf =~ /^\s*(\d+)\s+(backend-[a-z]);/mg) {
    $backend_port{$2} = $1;
}
ok($backend_port{'backend-a'}, 'backend-a found in the demo backends map');

# Modules: "modules/" is relative to the prefix in the example; here it is
# the directory under test.

my @modules;
$conf =~ s{^(\s*load_module\s+)modules/(\S+);}
          {push @modules, "$modules_dir/$2"; "$1$modules_dir/$2;"}meg;

for my $m (@modules) {
    ok(-f $m, "module $m is built") or BAIL_OUT("build the modules first");
}

# TLS: make a certificate (never committed) and enable the commented lines.

remove_tree($prefix);
make_path("$prefix/logs", "$prefix/tmp");

my $tls = have('openssl') && have('curl') && exists $port{8443};

if ($tls) {
    make_path("$prefix/tls");
    system("openssl req -x509 -newkey rsa:2048 -nodes -days 1"
           . " -subj /CN=localhost -keyout $prefix/tls/gateway.key"
           . " -out $prefix/tls/gateway.crt >$prefix/logs/openssl.log 2>&1")
        == 0 or BAIL_OUT("openssl req failed, see $prefix/logs/openssl.log");

    $conf =~ s{\.\./build/demo/tls/}{$prefix/tls/}g;

    my $n = $conf =~
        s/^(\s*)#((?:listen\s+\S+\s+ssl\b|ssl_certificate)[^\n]*)$/$1$2/mg;
    is($n, 3, 'TLS lines found (listen ssl, certificate, key)');
}

# The demo key files sit next to the configuration.
for my $f (glob "$root/examples/demo-*") {
    system('cp', $f, $prefix) == 0 or BAIL_OUT("cp $f: $?");
}

open $fh, '>', "$prefix/nginx.conf" or BAIL_OUT("$prefix/nginx.conf: $!");
print $fh $conf;
close $fh;


# -- start -------------------------------------------------------------------

start_nginx();

my $http = HTTP::Tiny->new(timeout => 10, keep_alive => 1);
my $json = JSON::PP->new;
my ($r, $body, @seen);

# What the sections below send to the gw modules, counted where they send
# it, for the status checks at the end.
my %sent = (least_time => 0, least_bandwidth => 0, jwt_accepted => 0,
            jwt_scope => 0, jwt_missing => 0, api_key_accepted => 0,
            api_key_unknown => 0, consumer_rejected => 0,
            payments => 0);
my %webhook = (verified => 0, replayed => 0, invalid => 0, missing => 0);
my $webhook_bytes = 0;      # bodies the module MACs: all but the unsigned
my %request_id;     # request ids of a few requests, to find in the log


# -- health ------------------------------------------------------------------

$r = get('/healthz');
is($r->{status}, 200, '/healthz: 200');
is($r->{headers}{'content-type'}, 'application/json',
   '/healthz: application/json');
is_deeply(eval { $json->decode($r->{content}) }, { status => 'ok' },
          '/healthz: {"status":"ok"}');

$r = get('/nginx_status');
like($r->{content}, qr/^Active connections: \d+/,
     '/nginx_status: stub_status from 127.0.0.1');


# -- routing -----------------------------------------------------------------

$r = get('/users/42');
is(backend($r), 'backend-a', 'path /users/ -> users (backend-a)');
is(echoed($r, 'uri'), '/users/42', 'path /users/: URI passed unchanged');

$r = get('/orders/7');
is(backend($r), 'backend-b', 'path /orders/ -> orders (backend-b)');
is(echoed($r, 'uri'), '/v2/orders/7',
   'path /orders/: prefix replaced by /v2/orders/');

$r = get('/catalog/route-check');
is((eval { $json->decode($r->{content}) } // {})->{backend}, 'backend-d',
   'path /catalog/ -> catalog (backend-d, JSON)');

is(backend(get('/api/things')), 'backend-a',
   'header: no X-Api-Version -> api_v1 (backend-a)');
is(backend(get('/api/things', 'X-Api-Version' => '2')), 'backend-b',
   'header: X-Api-Version: 2 -> api_v2 (backend-b)');
is(backend(get('/api/things', 'X-Api-Version' => '3')), 'backend-a',
   'header: X-Api-Version: 3 -> api_v1 (default)');

is(backend(get('/search?q=cups')), 'backend-a',
   'argument: no region -> search_eu (backend-a)');
is(backend(get('/search?q=cups&region=us')), 'backend-c',
   'argument: region=us -> search_us (backend-c)');


# -- load balancing ----------------------------------------------------------

# Round robin: the two servers take turns.  Keepalive: the gateway reuses
# its connections, so a backend sees more than one request on one.

my @conn_requests;
@seen = ();
for (1 .. 10) {
    $r = get('/lb/round-robin/');
    push @seen, backend($r);
    push @conn_requests, echoed($r, 'connection-requests') // 0;
}
is_deeply([ sort { $a cmp $b } uniq(@seen) ], [ 'backend-a', 'backend-b' ],
          'round robin: both servers used');
is(scalar(grep { $seen[$_] eq $seen[$_ - 1] } 1 .. $#seen), 0,
   'round robin: servers alternate') or diag("@seen");
cmp_ok(max(@conn_requests), '>', 1,
       'keepalive: upstream connections are reused')
    or diag("connection-requests: @conn_requests");

# Weights 3:1 over 40 requests: 30 and 10 (smooth weighted round robin is
# exact; the bounds leave room for a stray retry).

@seen = map { backend(get('/lb/weighted/')) } 1 .. 40;
my $a_count = grep { $_ eq 'backend-a' } @seen;
my $b_count = grep { $_ eq 'backend-b' } @seen;
ok($a_count >= 27 && $a_count <= 33 && $a_count + $b_count == 40,
   "weights 3:1: backend-a $a_count of 40, backend-b $b_count");

# least_conn: while one server works on a slow request (about 2 s), quick
# requests all go to the other one.

{
    my $start = time;
    my $slow = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                     PeerPort => $gw, Timeout => 5)
        or die "connect: $!";
    print $slow "GET /lb/least-conn/slow HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                . "Connection: close\r\n\r\n";

    # Wait until the slow request is at its backend: stub_status then
    # counts three requests being answered ("Writing"): this status
    # request, the gateway's slow one and the backend's.
    my $deadline = time + 2;
    while (time < $deadline) {
        my ($writing) = get('/nginx_status')->{content} =~ /Writing: (\d+)/;
        last if ($writing // 0) >= 3;
        sleep 0.02;
    }

    my @quick = map { backend(get('/lb/least-conn/quick')) } 1 .. 6;
    my $quick_done = time;

    my $reply = do { local $/; <$slow> } // '';
    my $slow_done = time;
    close $slow;

    my ($busy) = $reply =~ /^backend: (\S+)/m;
    ok(defined $busy && $reply =~ m{^HTTP/1\.1 200 },
       'least_conn: slow request answered') or diag($reply);
    $busy //= '?';

    cmp_ok($slow_done - $start, '>', 1, 'least_conn: slow request took > 1 s');
    cmp_ok($quick_done, '<', $slow_done,
           'least_conn: quick requests done while the slow one ran');
    is(scalar(grep { $_ eq $busy } @quick), 0,
       "least_conn: no quick request went to the busy $busy")
        or diag("quick: @quick");
    is(scalar(uniq(@quick)), 1, 'least_conn: all went to the idle server');
}

# gw_least_time header inflight: the same, by the busy server's running
# request and active count; gw_least_bandwidth: bytes spread over both.

{
    get('/lb/least-time/seed') for 1 .. 4;
    $sent{least_time} += 4;

    my $slow = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                     PeerPort => $gw, Timeout => 5)
        or die "connect: $!";
    print $slow "GET /lb/least-time/slow HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                . "Connection: close\r\n\r\n";
    $sent{least_time}++;

    my $deadline = time + 2;
    while (time < $deadline) {
        my ($writing) = get('/nginx_status')->{content} =~ /Writing: (\d+)/;
        last if ($writing // 0) >= 3;
        sleep 0.02;
    }

    sleep 0.1;
    my @quick = map { backend(get('/lb/least-time/quick')) } 1 .. 6;
    $sent{least_time} += @quick;

    my $reply = do { local $/; <$slow> } // '';
    close $slow;

    my ($busy) = $reply =~ /^backend: (\S+)/m;
    ok(defined $busy, 'least_time: slow request answered') or diag($reply);
    $busy //= '?';

    is(scalar(grep { $_ eq $busy } @quick), 0,
       "least_time: no quick request went to the busy $busy")
        or diag("quick: @quick");

    my @bw = map { backend(get('/lb/least-bandwidth/x')) } 1 .. 10;
    $sent{least_bandwidth} += @bw;
    is(scalar(uniq(@bw)), 2, 'least_bandwidth: both servers used')
        or diag("@bw");
}

# ip_hash: one client address, one server.

@seen = map { backend(get('/lb/ip-hash/')) } 1 .. 10;
is(scalar(uniq(@seen)), 1, "ip_hash: 10 requests on $seen[0]")
    or diag("@seen");

# hash $http_x_user_id consistent: each user sticks, users spread.

@seen = map { backend(get('/lb/hash/', 'X-User-Id' => 'alice')) } 1 .. 6;
is(scalar(uniq(@seen)), 1, "hash: alice sticks to $seen[0]")
    or diag("@seen");

@seen = map { backend(get('/lb/hash/', 'X-User-Id' => "user-$_")) } 1 .. 20;
cmp_ok(scalar(uniq(@seen)), '>=', 2, 'hash: 20 users spread over servers')
    or diag("@seen");

# random: several servers, and not in turn (a strict cycle of 30 choices
# has a chance of about 1e-13).

@seen = map { backend(get('/lb/random/')) } 1 .. 30;
cmp_ok(scalar(uniq(@seen)), '>=', 2, 'random: several servers used')
    or diag("@seen");
ok(!(uniq(@seen[0 .. 2]) == 3
     && !grep { $seen[$_] ne $seen[$_ - 3] } 3 .. $#seen),
   'random: not a round-robin cycle') or diag("@seen");


# -- cache -------------------------------------------------------------------

my $r1 = get('/catalog/items');
my $r2 = get('/catalog/items');

is($r1->{headers}{'x-cache-status'}, 'MISS', 'cache: first request MISS');
is($r2->{headers}{'x-cache-status'}, 'HIT', 'cache: second request HIT');
is($r2->{content}, $r1->{content}, 'cache: HIT has the same body');

my $cached = eval { $json->decode($r1->{content}) } // {};
is($cached->{request_id}, $r1->{headers}{'x-request-id'},
   'cache: body was made for the first request');
isnt($r2->{headers}{'x-request-id'}, $r1->{headers}{'x-request-id'},
     'cache: second request is a new request (body came from the cache)');

is(get('/catalog/items?nocache=1')->{headers}{'x-cache-status'}, 'BYPASS',
   'cache: ?nocache=1 bypasses');
ok(!exists get('/users/1')->{headers}{'x-cache-status'},
   'cache: no X-Cache-Status where caching is off');


# -- gzip --------------------------------------------------------------------

$r = get('/catalog/items', 'Accept-Encoding' => 'gzip');
is($r->{headers}{'content-encoding'}, 'gzip',
   'gzip: JSON compressed for Accept-Encoding: gzip');
like($r->{headers}{vary} // '', qr/Accept-Encoding/,
     'gzip: Vary: Accept-Encoding');
my $plain;
gunzip(\$r->{content}, \$plain) or diag("gunzip: $GunzipError");
is($plain, $r1->{content}, 'gzip: decompresses to the JSON');
cmp_ok(length $r->{content}, '<', length $r1->{content},
       'gzip: compressed body is smaller');

$r = get('/catalog/items');
ok(!exists $r->{headers}{'content-encoding'},
   'gzip: not without Accept-Encoding');
is($r->{content}, $r1->{content}, 'gzip: plain JSON without Accept-Encoding');

$r = get('/healthz', 'Accept-Encoding' => 'gzip');
ok(!exists $r->{headers}{'content-encoding'},
   'gzip: short response not compressed (gzip_min_length)');


# -- security headers --------------------------------------------------------

my %security = (
    'x-content-type-options'            => 'nosniff',
    'x-frame-options'                   => 'SAMEORIGIN',
    'content-security-policy'           =>
        "default-src 'none'; frame-ancestors 'self'",
    'referrer-policy'                   => 'no-referrer',
    'x-dns-prefetch-control'            => 'off',
    'x-download-options'                => 'noopen',
    'x-permitted-cross-domain-policies' => 'none',
    'x-xss-protection'                  => '0',
    'cross-origin-opener-policy'        => 'same-origin',
    'cross-origin-resource-policy'      => 'same-origin',
    'origin-agent-cluster'              => '?1',
);

for my $path ('/users/1', '/no/such/route', '/inventory/') {
    $r = get($path);
    for my $h (sort keys %security) {
        is($r->{headers}{$h}, $security{$h},
           "security: $h on $path ($r->{status})");
    }
    ok(!exists $r->{headers}{'strict-transport-security'},
       "security: no HSTS over plain HTTP on $path");
}


# -- request headers ---------------------------------------------------------

$r = get('/users/1', 'X-Consumer-Id' => 'admin',
                     'X-Forwarded-For' => '203.0.113.7');
my $id = $r->{headers}{'x-request-id'} // '';

like($id, qr/^[0-9a-f]{32}$/, 'request id: X-Request-Id in the response');
is(echoed($r, 'x-request-id'), $id, 'request id: same id sent to the backend');
is(echoed($r, 'x-forwarded-for'), '203.0.113.7, 127.0.0.1',
   'X-Forwarded-For: client address appended');
is(echoed($r, 'x-forwarded-proto'), 'http', 'X-Forwarded-Proto: http');
is(echoed($r, 'x-forwarded-host'), '127.0.0.1', 'X-Forwarded-Host: 127.0.0.1');
is(echoed($r, 'x-real-ip'), '127.0.0.1', 'X-Real-IP: 127.0.0.1');
is(echoed($r, 'x-consumer-id'), '', 'X-Consumer-Id from the client removed');

# Controls: the backend itself echoes X-Consumer-Id and sends X-Powered-By,
# so their absence above is the gateway's doing.

my $direct = $http->get("http://127.0.0.1:$backend_port{'backend-a'}/",
                        { headers => { 'X-Consumer-Id' => 'admin' } });
is(echoed($direct, 'x-consumer-id'), 'admin',
   'control: backend-a echoes X-Consumer-Id when asked directly');
is($direct->{headers}{'x-powered-by'}, 'demo-backend/1.0',
   'control: backend-a sends X-Powered-By');


# -- response headers --------------------------------------------------------

ok(!exists $r->{headers}{'x-powered-by'}, 'response: X-Powered-By hidden');
is($r->{headers}{server}, 'nginx', 'response: Server without version');


# -- JSON errors -------------------------------------------------------------

for my $case ([ '/no/such/route', 404, 'not found' ],
              [ '/inventory/items', 502, 'bad gateway' ])
{
    my ($path, $status, $message) = @$case;

    $r = get($path);
    is($r->{status}, $status, "error: $path -> $status");
    is($r->{headers}{'content-type'}, 'application/json',
       "error: $status is application/json");
    is_deeply(eval { $json->decode($r->{content}) },
              { error => { status => $status, message => $message,
                           request_id => $r->{headers}{'x-request-id'} } },
              "error: $status JSON body") or diag($r->{content});
}


# -- authentication (gw_auth) ----------------------------------------------

{
    my $key = 'demo-hs256-key-of-32-bytes-long!';
    my $jwt = sub {
        encode_jwt(alg => 'HS256', key => $key,
                   extra_headers => { kid => 'demo' },
                   payload => { sub => 'alice', exp => int(time) + 600, @_ });
    };

    $r = get('/account/me', Authorization => 'Bearer '
                                             . $jwt->(scope => 'account:read'),
             'X-Consumer-Id' => 'mallory');
    $sent{jwt_accepted}++;
    $request_id{jwt} = $r->{headers}{'x-request-id'};
    is($r->{status}, 200, 'auth: JWT with the scope accepted');
    is(echoed($r, 'x-consumer-id'), 'alice',
       'auth: backend told the subject, not the client\'s X-Consumer-Id');

    $r = get('/account/me', Authorization => 'Bearer '
                                             . $jwt->(scope => 'other'));
    $sent{jwt_scope}++;
    is($r->{status}, 403, 'auth: JWT without the scope: 403');
    like($r->{headers}{'www-authenticate'} // '', qr/insufficient_scope/,
         'auth: 403 says insufficient_scope');

    $r = get('/account/me');
    $sent{jwt_missing}++;
    is($r->{status}, 401, 'auth: no token: 401');
    is($r->{headers}{'www-authenticate'}, 'Bearer realm="demo"',
       'auth: WWW-Authenticate with the realm');

    # The consumer's requests are counted by their answer: 200 passed the
    # limiter and gw_auth, 429 was refused by the per_consumer limit (in
    # the preaccess phase: gw_auth never decides on it).
    my $partner = sub {
        my $res = get('/partners/x', 'X-API-Key' => 'demo-partner-key');
        $sent{api_key_accepted}++ if $res->{status} == 200;
        $sent{consumer_rejected}++ if $res->{status} == 429;
        return $res;
    };

    $r = $partner->();
    is($r->{status}, 200, 'auth: API key accepted');
    is(echoed($r, 'x-consumer-id'), 'acme', 'auth: API key consumer passed on');

    $r = get('/partners/x', 'X-API-Key' => 'guess');
    $sent{api_key_unknown}++;
    is($r->{status}, 401, 'auth: wrong API key: 401');

    # the per-consumer limit: 60 a minute; the first request above took one
    my @remaining;
    for (1 .. 3) {
        $r = $partner->();
        push @remaining, $r->{headers}{'x-ratelimit-remaining'} // 'none';
    }
    is($r->{headers}{'x-ratelimit-limit'}, 60,
       'ratelimit: the per-consumer limit is reported');
    is($remaining[1], $remaining[0] - 1, 'ratelimit: each request counts');
    like($r->{headers}{'ratelimit-policy'} // '', qr/^"per_consumer";q=60;w=60$/,
         'ratelimit: RateLimit-Policy names the consumer zone');
    my $n = 4;
    while ($r->{status} == 200 && $n++ < 70) {
        $r = $partner->();
    }
    is($r->{status}, 429, 'ratelimit: over the limit: 429');
    $request_id{rejected} = $r->{headers}{'x-request-id'};
    # exactly 60, unless the run straddles a minute: then the previous
    # minute's requests weigh a little less than 1 each (sliding window)
    ok($n >= 59 && $n <= 61,
       "ratelimit: after 60 requests of the consumer (the 429 was the ${n}th)");
    ok(($r->{headers}{'retry-after'} // 0) > 0, 'ratelimit: with Retry-After');
}


# -- webhooks (gw_webhook github) --------------------------------------------

{
    my $payload = '{"zen":"Keep it logically awesome.","id":' . int(time) . '}';
    my $sig = 'sha256=' . hmac_sha256_hex($payload, 'demo-webhook-secret');
    my $url = "http://127.0.0.1:$gw/hooks/github";
    my $post = sub {
        my ($body, %h) = @_;
        return $http->post($url, { content => $body, headers => \%h });
    };

    $r = $post->($payload, 'X-Hub-Signature-256' => $sig);
    $webhook{verified}++;
    $webhook_bytes += length $payload;
    is($r->{status}, 200, 'webhook: signed delivery accepted');
    is(backend($r), 'backend-c', 'webhook: forwarded to the backend');

    $r = $post->($payload, 'X-Hub-Signature-256' => $sig);
    $webhook{replayed}++;
    $webhook_bytes += length $payload;
    is($r->{status}, 200, 'webhook: replay answered 200');
    is($r->{content}, '', 'webhook: replay not forwarded again');

    $r = $post->($payload . ' ', 'X-Hub-Signature-256' => $sig);
    $webhook{invalid}++;
    $webhook_bytes += length($payload) + 1;
    is($r->{status}, 401, 'webhook: tampered body refused');
    is($r->{headers}{'content-type'}, 'application/json',
       'webhook: 401 as JSON');

    $r = $post->($payload);
    $webhook{missing}++;        # refused on its headers: no body read
    is($r->{status}, 401, 'webhook: unsigned delivery refused');
}


# -- circuit breaker (gw_breaker on "payments") -----------------------------

{
    my $dead = $port{9005};
    my $refused = sub {
        my @n = error_log() =~ /connect\(\) failed .*127\.0\.0\.1:\Q$dead\E/g;
        return scalar @n;
    };
    my $before = $refused->();

    my @status = map { get('/payments/x')->{status} } 1 .. 10;
    $sent{payments} += @status;
    is_deeply(\@status, [ (200) x 10 ],
              'breaker: clients see 200 while the dead server fails');
    like(error_log(),
         qr/gw_breaker: peer 127\.0\.0\.1:\Q$dead\E of upstream "payments" opened: 2 consecutive failures/,
         'breaker: opened after two failures');
    is($refused->() - $before, 2,
       'breaker: the dead server was tried twice, then skipped');
}


# -- TLS ---------------------------------------------------------------------

SKIP: {
    skip 'openssl or curl missing: TLS not tested', 3 unless $tls;

    my $url = "https://127.0.0.1:$port{8443}/healthz";
    my $out = `curl -sk --http1.1 -D - -o /dev/null $url 2>&1`;
    like($out, qr{^HTTP/1\.1 200}, 'TLS: /healthz over HTTPS');
    like($out, qr/^strict-transport-security:
                   \ max-age=31536000;\ includeSubDomains\r?$/mix,
         'TLS: HSTS over HTTPS');
    like($out, qr/^x-content-type-options: nosniff\r?$/mi,
         'TLS: security headers over HTTPS');
}


# -- gw_status: what the modules counted of the traffic above ---------------
#
# Nothing from here on reaches a gw module (/gw_status and /metrics are
# gw_status's own, with access_log off), so the counters hold exactly what
# the sections above sent, as counted in %sent, %webhook and $webhook_bytes.

my ($prom_text, $status) = ('', {});
{
    $r = get('/metrics');
    is($r->{status}, 200, 'status: /metrics answers 200');
    like($r->{headers}{'content-type'} // '', qr{^text/plain; version=0\.0\.4},
         'status: /metrics in the text format 0.0.4');
    $prom_text = $r->{content};

    $r = get('/gw_status');
    is($r->{status}, 200, 'status: /gw_status answers 200');
    like($r->{headers}{'content-type'} // '', qr{^application/json},
         'status: /gw_status is JSON');
    $status = eval { $json->decode($r->{content}) };
    ok(ref $status eq 'HASH', 'status: /gw_status parses as a JSON object')
        or diag($@ || $r->{content});
    $status = {} unless ref $status eq 'HASH';
}

my $m = eval { prom_parse($prom_text) };
ok($m, 'status: /metrics follows the text format (prom_parse)') or diag($@);
$m ||= { families => {}, samples => [] };

{
    my ($ok, $out) = prom_check($prom_text);
    ok($ok, 'status: promtool check metrics passes on /metrics') or diag($out);
    note("promtool: $out") if $out =~ /not installed/;
}

is(prom_value($m, 'nginx_gw_info', { nginx_version => $status->{nginx_gw}{nginx_version} // '?' }),
   1, 'status: nginx_gw_info names the nginx version of /gw_status');

# gw_auth: one decision per request that reached the access phase of
# /account/ (JWT) or /partners/ (API key); the consumer's 429 was refused in
# the preaccess phase, before gw_auth decides.

{
    my $n = 'nginx_gw_auth_requests_total';
    my @expect = (
        [ { method => 'jwt', result => 'accepted', reason => '' },
          $sent{jwt_accepted}, 'JWT accepted' ],
        [ { method => 'jwt', result => 'rejected',
            reason => 'insufficient_scope' },
          $sent{jwt_scope}, 'JWT without the scope' ],
        [ { method => 'jwt', result => 'rejected', reason => 'missing' },
          $sent{jwt_missing}, 'no token' ],
        [ { method => 'api_key', result => 'accepted', reason => '' },
          $sent{api_key_accepted}, 'API key accepted' ],
        [ { method => 'api_key', result => 'rejected',
            reason => 'unknown_key' },
          $sent{api_key_unknown}, 'wrong API key' ],
    );
    my $total = 0;
    for my $e (@expect) {
        my ($labels, $want, $what) = @$e;
        is(prom_value($m, $n, $labels), $want,
           "status: $n" . labels_str($labels) . ": $want ($what)");
        $total += $want;
    }
    cmp_ok($sent{api_key_accepted}, '>', 0, 'status: API-key requests sent');
    is(prom_sum($m, $n), $total,
       "status: $n: no other auth decision counted (all others 0)");

    is(prom_sum($m, $_), 0,
       "status: $_: 0 (the example has no gw_auth_cache, JWKS URL or IdP)")
        for qw(nginx_gw_auth_cache_hits_total nginx_gw_auth_cache_misses_total
               nginx_gw_auth_jwks_fetches_total
               nginx_gw_auth_introspection_requests_total);
}

# gw_ratelimit on /partners/: per_consumer, then per_ip.  An empty key (the
# wrong API key has no consumer) is not checked, nor is a limit after one
# that rejected.

{
    my $n = 'nginx_gw_ratelimit_requests_total';
    my %expect = (
        'per_consumer passed'   => $sent{api_key_accepted},
        'per_consumer rejected' => $sent{consumer_rejected},
        'per_ip passed'         => $sent{api_key_accepted}
                                   + $sent{api_key_unknown},
        'per_ip rejected'       => 0,
    );
    my $total = 0;
    for my $k (sort keys %expect) {
        my ($zone, $st) = split / /, $k;
        is(prom_value($m, $n, { zone => $zone, status => $st }), $expect{$k},
           "status: $n\{zone=\"$zone\",status=\"$st\"}: $expect{$k}");
        $total += $expect{$k};
    }
    cmp_ok($sent{consumer_rejected}, '>=', 1, 'status: the test got a 429');
    is(prom_sum($m, $n), $total,
       "status: $n: nothing else counted (dry_run, error: 0)");
    is(prom_value($m, 'nginx_gw_ratelimit_keys', { zone => $_ }), 1,
       "status: nginx_gw_ratelimit_keys{zone=\"$_\"}: 1 (one consumer, one address)")
        for qw(per_consumer per_ip);
    is(prom_sum($m, 'nginx_gw_ratelimit_evictions_total'), 0,
       'status: nginx_gw_ratelimit_evictions_total: 0');
}

# gw_webhook github on /hooks/github.

{
    my $n = 'nginx_gw_webhook_requests_total';
    for my $st (sort keys %webhook) {
        is(prom_value($m, $n, { scheme => 'github', status => $st }),
           $webhook{$st},
           "status: $n\{scheme=\"github\",status=\"$st\"}: $webhook{$st}");
    }
    my $total = 0;
    $total += $_ for values %webhook;
    is(prom_sum($m, $n), $total,
       "status: $n: nothing else counted (expired, other schemes: 0)");
    is(prom_value($m, 'nginx_gw_webhook_body_bytes_total',
                  { scheme => 'github' }), $webhook_bytes,
       "status: nginx_gw_webhook_body_bytes_total{scheme=\"github\"}: "
       . "$webhook_bytes (the bodies MACed, the unsigned one not read)");
    is(prom_value($m, 'nginx_gw_webhook_replay_entries', { zone => 'webhooks' }),
       $webhook{verified},
       'status: nginx_gw_webhook_replay_entries{zone="webhooks"}: '
       . "$webhook{verified} (the deliveries the backend accepted)");
    is(prom_value($m, 'nginx_gw_webhook_replay_evictions_total',
                  { zone => 'webhooks' }), 0,
       'status: nginx_gw_webhook_replay_evictions_total{zone="webhooks"}: 0');
}

# gw_breaker on payments: the dead server failed twice, opened, and its
# breaker then refused it; every client request ended on the live server.

{
    my $live = "127.0.0.1:$port{9002}";
    my $dead = "127.0.0.1:$port{9005}";
    my %want = (
        state                => [ 0, 1 ],
        consecutive_failures => [ 0, 2 ],
        failure_rate         => [ 0, 1 ],
        trips_total          => [ 0, 1 ],
        requests_total       => [ $sent{payments}, 2 ],
        failures_total       => [ 0, 2 ],
        rejected_total       => [ 0, undef ],
        next_probe_seconds   => [ 0, undef ],
    );
    for my $f (sort keys %want) {
        my $n = "nginx_gw_breaker_$f";
        is_deeply([ sort map { "$_->{labels}{upstream} $_->{labels}{peer}" }
                         prom_samples($m, $n) ],
                  [ sort "payments $live", "payments $dead" ],
                  "status: $n: a series for each peer of payments");
        my ($l, $d) = @{ $want{$f} };
        is(prom_value($m, $n, { upstream => 'payments', peer => $live }), $l,
           "status: $n live server: $l");
        is(prom_value($m, $n, { upstream => 'payments', peer => $dead }), $d,
           "status: $n dead server: $d") if defined $d;
    }
    my $rej = prom_value($m, 'nginx_gw_breaker_rejected_total',
                         { upstream => 'payments', peer => $dead }) // -1;
    ok($rej >= 1 && $rej <= $sent{payments} - 2,
       "status: nginx_gw_breaker_rejected_total dead server: $rej, "
       . "at most one per request after the trip");
    my $probe = prom_value($m, 'nginx_gw_breaker_next_probe_seconds',
                           { upstream => 'payments', peer => $dead }) // -1;
    ok($probe > 0 && $probe <= 15,
       "status: nginx_gw_breaker_next_probe_seconds dead server: $probe (open=15s)");
}

# gw_least_time header inflight on lb_least_time, gw_least_bandwidth on
# lb_least_bandwidth, over backend-a and backend-b; no retries there.

{
    my @peers = map { "127.0.0.1:$port{$_}" } 9001, 9002;
    my %families = (
        response_seconds           => [ 'lb_least_time' ],
        bandwidth_bytes_per_second => [ 'lb_least_bandwidth' ],
        active_requests            => [ 'lb_least_time', 'lb_least_bandwidth' ],
        selected_total             => [ 'lb_least_time', 'lb_least_bandwidth' ],
    );
    my %mode = (lb_least_time => 'header', lb_least_bandwidth => 'bandwidth');
    for my $f (sort keys %families) {
        my $n = "nginx_gw_least_time_$f";
        is_deeply([ sort map { join ' ', @{ $_->{labels} }{qw(upstream peer mode)} }
                         prom_samples($m, $n) ],
                  [ sort map { my $u = $_; map { "$u $_ $mode{$u}" } @peers }
                         @{ $families{$f} } ],
                  "status: $n: a series for each peer of @{ $families{$f} }");
    }
    is(prom_sum($m, 'nginx_gw_least_time_selected_total',
                { upstream => 'lb_least_time' }), $sent{least_time},
       "status: nginx_gw_least_time_selected_total lb_least_time: $sent{least_time}");
    is(prom_sum($m, 'nginx_gw_least_time_selected_total',
                { upstream => 'lb_least_bandwidth' }), $sent{least_bandwidth},
       "status: nginx_gw_least_time_selected_total lb_least_bandwidth: "
       . "$sent{least_bandwidth}");
    ok(!grep({ !prom_value($m, 'nginx_gw_least_time_selected_total',
                           { upstream => 'lb_least_bandwidth', peer => $_ }) }
             @peers),
       'status: least_bandwidth chose both peers');
    is(prom_sum($m, 'nginx_gw_least_time_active_requests'), 0,
       'status: nginx_gw_least_time_active_requests: 0 when all is done');
}

# The same figures in both formats: every JSON family is the Prometheus
# family nginx_gw_<module>_<name>, with the same series and values (two
# gauges that move with the clock are compared by their series only).

{
    my %clock = map { $_ => 1 } qw(nginx_gw_breaker_next_probe_seconds
                                   nginx_gw_least_time_bandwidth_bytes_per_second);
    my (@bad, %in_json);
    for my $mod (sort grep { $_ ne 'nginx_gw' } keys %$status) {
        for my $f (sort keys %{ $status->{$mod} }) {
            my $n = "nginx_gw_${mod}_$f";
            $in_json{$n} = 1;
            my $v = $status->{$mod}{$f};
            my @p = prom_samples($m, $n);
            if (!exists $m->{families}{$n}{type}) {
                push @bad, "$n: in JSON only";
                next;
            }
            my @j = ref $v ? @$v : ({ value => $v });
            if (@j != @p) {
                push @bad, "$n: " . @j . " series in JSON, " . @p . " in Prometheus";
                next;
            }
            for my $s (@j) {
                my %l = %$s;
                my $jv = delete $l{value};
                my $pv = eval { prom_value($m, $n, \%l) };
                if (!defined $pv) {
                    push @bad, "$n" . labels_str(\%l) . ": not in Prometheus";
                } elsif (!$clock{$n} && $pv != $jv) {
                    push @bad, "$n" . labels_str(\%l) . ": JSON $jv, Prometheus $pv";
                }
            }
        }
    }
    push @bad, map { "$_: in Prometheus only" }
               grep { /^nginx_gw_/ && $_ ne 'nginx_gw_info' && !$in_json{$_} }
               sort keys %{ $m->{families} };
    ok(keys %in_json > 20 && !@bad,
       'status: /gw_status and /metrics have the same families, series and values')
        or diag(join "\n", @bad);

    is(json_value($status, 'webhook', 'requests_total',
                  { scheme => 'github', status => 'verified' }),
       $webhook{verified}, 'status: JSON webhook requests_total github verified');
    is(json_value($status, 'ratelimit', 'requests_total',
                  { zone => 'per_consumer', status => 'rejected' }),
       $sent{consumer_rejected},
       'status: JSON ratelimit requests_total per_consumer rejected');
    is(json_value($status, 'auth', 'requests_total',
                  { method => 'api_key', result => 'accepted' }),
       $sent{api_key_accepted}, 'status: JSON auth requests_total api_key accepted');
}


# -- examples/grafana-dashboard.json draws what /metrics has ----------------
#
# Every nginx_gw_ metric in any query of the dashboard (panel targets, rows,
# templating) is a family of /metrics, a counter where it is rated and a
# gauge where it is not; every label it filters on, groups by or names in a
# legend is a label of that metric, and every value it filters on is one the
# metric has.  Families without series in the example (the Redis client's:
# the example has no Redis) have their names checked (# TYPE) and their
# labels only noted.  instance and job are Prometheus's target labels.

{
    my $file = "$root/examples/grafana-dashboard.json";
    my $dash = eval { decode_json(slurp($file)) };
    ok(ref $dash eq 'HASH', 'dashboard: examples/grafana-dashboard.json is JSON')
        or diag($@);

    my @queries;            # [ where, query, legend ]
    dashboard_queries($dash // {}, 'dashboard', \@queries);
    cmp_ok(scalar(grep { $_->[1] =~ /nginx_gw_/ } @queries), '>=', 20,
           'dashboard: queries found');

    my %target = map { $_ => 1 } qw(instance job);
    my (%used, @bad, @unsampled);

    for my $q (@queries) {
        my ($where, $expr, $legend) = @$q;
        my @names = $expr =~ /\b(nginx_gw_[a-z0-9_]+)/g;
        next unless @names;

        for my $n (@names) {
            $used{$n}++;
            my $type = $m->{families}{$n}{type};
            if (!defined $type) {
                push @bad, "$where: $n: no such family in /metrics";
                next;
            }
            next if $expr =~ /^\s*label_values\(/;
            my $rated = $expr =~ /\b(?:rate|irate|increase)\(\s*\Q$n\E\b/;
            push @bad, "$where: $n is a $type, "
                       . ($rated ? 'rated' : 'drawn without rate()')
                if ($rated ? 1 : 0) != ($type eq 'counter' ? 1 : 0);
        }

        # label matchers of each selector: name{label op "value", ...}
        while ($expr =~ /\b(nginx_gw_[a-z0-9_]+)\{([^}]*)\}/g) {
            my ($n, $sel) = ($1, $2);
            while ($sel =~ /([a-zA-Z_]\w*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"/g) {
                my ($label, $op, $value) = ($1, $2, $3);
                next if $target{$label};
                check_label($m, $where, $n, $label, \@bad, \@unsampled) or next;
                next if $value =~ /\$/ || $op =~ /^!/;
                my @want = $op eq '=' ? ($value)
                         : $value =~ /^[\w|]+$/ ? split(/\|/, $value) : ();
                for my $v (@want) {
                    push @bad, "$where: $n\{$label=\"$v\"}: no such series"
                        unless grep { ($_->{labels}{$label} // "\0") eq $v }
                               prom_samples($m, $n);
                }
            }
        }

        # by (...) and without (...): labels of every metric they aggregate
        my @by;
        for my $g (grouping_clauses($expr)) {
            my ($labels, $inner) = @$g;
            push @by, $labels;
            for my $n ($inner =~ /\b(nginx_gw_[a-z0-9_]+)/g) {
                check_label($m, $where, $n, $_, \@bad, \@unsampled)
                    for grep { !$target{$_} } @$labels;
            }
        }

        # {{label}} in the legend: kept by every aggregation of the query,
        # or, without one, a label of its metrics
        for my $label (($legend // '') =~ /\{\{\s*(\w+)\s*\}\}/g) {
            next if $target{$label};
            if (@by) {
                push @bad, "$where: legend {{$label}}: not kept by every by (...)"
                    if grep { my $b = $_; !grep { $_ eq $label } @$b } @by;
            } else {
                check_label($m, $where, $_, $label, \@bad, \@unsampled)
                    for $expr =~ /\b(nginx_gw_[a-z0-9_]+)/g;
            }
        }
    }

    ok(!@bad, 'dashboard: every metric, label and value it uses is in /metrics ('
              . scalar(keys %used) . ' metrics)') or diag(join "\n", @bad);
    my %u;
    note("dashboard: no series in the example, label not checked: $_")
        for grep { !$u{$_}++ } @unsampled;
}


# -- the JSON access log -----------------------------------------------------

{
    open my $lf, '<', "$prefix/logs/access.log"
        or BAIL_OUT("$prefix/logs/access.log: $!");
    my @lines = <$lf>;
    close $lf;

    my (@entries, @bad);
    for my $i (0 .. $#lines) {
        my $e = eval { $json->decode($lines[$i]) };
        if (ref $e eq 'HASH') {
            push @entries, $e;
        } else {
            push @bad, "line " . ($i + 1) . ": $lines[$i]";
        }
    }
    cmp_ok(scalar @lines, '>', 100, 'access log: written, ' . @lines . ' lines');
    ok(!@bad, 'access log: every line is a JSON object') or diag(@bad[0 .. ($#bad < 4 ? $#bad : 4)]);

    my @missing = grep { my $e = $_; grep { !exists $e->{$_} }
                         qw(request_id status auth subject consumer
                            ratelimit ratelimit_remaining webhook breaker) }
                  @entries;
    is(scalar @missing, 0, 'access log: every line has the gw fields');

    my %by_id = map { $_->{request_id} => $_ } @entries;

    my $e = $by_id{ $request_id{jwt} // '' } // {};
    is($e->{request}, 'GET /account/me HTTP/1.1',
       'access log: the JWT request found by its X-Request-Id');
    is($e->{auth}, 'jwt', 'access log: JWT request: "auth":"jwt"');
    is($e->{subject}, 'alice', 'access log: JWT request: "subject" is the token\'s sub');
    is($e->{consumer}, 'alice', 'access log: JWT request: "consumer" is the subject');
    is($e->{ratelimit}, '', 'access log: JWT request: "ratelimit" empty (no limit on /account/)');

    $e = $by_id{ $request_id{rejected} // '' } // {};
    is($e->{status}, 429, 'access log: the 429 found by its X-Request-Id');
    is($e->{ratelimit}, 'REJECTED', 'access log: 429: "ratelimit":"REJECTED"');
    is($e->{consumer}, 'acme', 'access log: 429: "consumer":"acme"');
    is($e->{subject}, '', 'access log: 429: no "subject" (an API key has none)');

    my @passed = grep { $_->{consumer} eq 'acme' && $_->{ratelimit} eq 'PASSED' }
                 @entries;
    is(scalar @passed, $sent{api_key_accepted},
       'access log: "ratelimit":"PASSED" on every accepted API-key request');
    ok(!grep({ $_->{ratelimit_remaining} !~ /^\d+$/ } @passed),
       'access log: with "ratelimit_remaining"');

    for my $st (sort keys %webhook) {
        is(scalar(grep { $_->{webhook} eq uc $st } @entries), $webhook{$st},
           "access log: \"webhook\":\"" . uc($st) . "\" on $webhook{$st} line(s)");
    }
}


# -- stop --------------------------------------------------------------------

my $pgid = $nginx_pid;
stop_nginx();
ok(!kill(0, -$pgid), 'nginx and its workers stopped');
check_sanitizers("$prefix/logs", 'the example gateway');

done_testing();


# -- helpers -----------------------------------------------------------------

sub get {
    my ($path, %headers) = @_;
    return $http->get("http://127.0.0.1:$gw$path", { headers => \%headers });
}


# The demo backends answer "name: value" lines.

sub echoed {
    my ($res, $name) = @_;
    return $res->{content} =~ /^\Q$name\E: ?(.*)$/m ? $1 : undef;
}


sub backend {
    return echoed($_[0], 'backend') // "status $_[0]{status}";
}


sub uniq {
    my %s;
    return grep { !$s{$_}++ } @_;
}


sub max {
    my $m = shift;
    $m = $_ > $m ? $_ : $m for @_;
    return $m;
}


sub have {
    my ($cmd) = @_;
    return system("command -v $cmd >/dev/null 2>&1") == 0;
}


# Distinct free loopback ports: all bound at once, then released.

sub free_ports {
    my ($n) = @_;
    my @s = map {
        IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                              Proto => 'tcp', Listen => 1, ReuseAddr => 1)
            or BAIL_OUT("cannot bind a free port: $!")
    } 1 .. $n;
    my @ports = map { $_->sockport } @s;
    close $_ for @s;
    return @ports;
}


sub start_nginx {
    my $pid = fork // BAIL_OUT("fork: $!");

    if ($pid == 0) {
        setpgrp(0, 0);
        open STDOUT, '>', "$prefix/logs/stderr.log";
        open STDERR, '>&', \*STDOUT;
        my $env = sanitizer_env("$prefix/logs");
        @ENV{keys %$env} = values %$env;
        exec @{ valgrind_command([$nginx, '-p', "$prefix/", '-c',
                                  "$prefix/nginx.conf", '-g',
                                  'daemon off; ' . sanitizer_directives()],
                                 "$prefix/logs") };
        exit 127;
    }

    $nginx_pid = $pid;

    my $deadline = time + ($ENV{TEST_NGINX_USE_VALGRIND} ? 60 : 10);
    while (time < $deadline) {
        if (waitpid($pid, WNOHANG) == $pid) {
            $nginx_pid = undef;
            diag(slurp("$prefix/logs/stderr.log"));
            diag(slurp("$prefix/logs/error.log"));
            BAIL_OUT("nginx exited with status " . ($? >> 8));
        }
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $gw, Timeout => 1);
        return if $s;
        sleep 0.05;
    }

    BAIL_OUT("nginx did not listen on 127.0.0.1:$gw in time");
}


# TERM to the master, which stops its workers; if anything of the process
# group is still there after 5 s, KILL the group.

sub stop_nginx {
    return unless $nginx_pid;
    my $pid = $nginx_pid;
    $nginx_pid = undef;

    kill 'TERM', $pid;

    my $deadline = time + 5;
    my $reaped = 0;
    while (time < $deadline) {
        $reaped ||= waitpid($pid, WNOHANG) == $pid;
        last if $reaped && !kill(0, -$pid);
        sleep 0.05;
    }

    if (kill 0, -$pid) {
        kill 'KILL', -$pid;
        waitpid($pid, 0) unless $reaped;
    }
}


# Samples of one metric name; the sum of those matching a label subset.

sub prom_samples {
    my ($m, $name) = @_;
    return grep { $_->{name} eq $name } @{ $m->{samples} };
}


sub prom_sum {
    my ($m, $name, $want) = @_;
    $want ||= {};
    my $sum = 0;
    for my $s (prom_samples($m, $name)) {
        next if grep { ($s->{labels}{$_} // "\0") ne $want->{$_} } keys %$want;
        $sum += $s->{value};
    }
    return $sum;
}


sub labels_str {
    my ($l) = @_;
    return '{' . join(',', map { "$_=\"$l->{$_}\"" } sort keys %$l) . '}';
}


# Every query of a Grafana dashboard, wherever it is: panels, rows (and
# their collapsed panels), targets, templating.  [ where, query, legend ].

sub dashboard_queries {
    my ($node, $where, $out) = @_;

    if (ref $node eq 'ARRAY') {
        dashboard_queries($node->[$_], "$where\[$_]", $out) for 0 .. $#$node;
        return;
    }
    return unless ref $node eq 'HASH';

    my $here = defined $node->{title} && !ref $node->{title}
             ? "$where \"$node->{title}\"" : $where;
    for my $k (qw(expr query definition)) {
        my $v = $node->{$k};
        push @$out, [ "$here.$k", $v, $node->{legendFormat} ]
            if defined $v && !ref $v;
    }
    dashboard_queries($node->{$_}, "$here.$_", $out)
        for grep { ref $node->{$_} } sort keys %$node;
}


# The grouping clauses of a PromQL expression: [ [labels], the expression
# they aggregate ], for both "sum by (a) (x)" and "sum (x) by (a)".

sub grouping_clauses {
    my ($expr) = @_;
    my @out;
    while ($expr =~ /\b(?:by|without)\s*\(([^)]*)\)/g) {
        my ($list, $end, $start) = ($1, pos($expr), $-[0]);
        my @labels = grep { length } map { s/^\s+|\s+$//gr } split /,/, $list;
        my $inner;
        if (substr($expr, $end) =~ /^\s*\(/) {
            $inner = balanced($expr, $end + $+[0] - 1, 1);
        } else {
            my $close = rindex(substr($expr, 0, $start), ')');
            $inner = balanced($expr, $close, -1) if $close >= 0;
        }
        push @out, [ \@labels, $inner // '' ];
        pos($expr) = $end;
    }
    return @out;
}


# The parenthesised text that opens (dir 1) or closes (dir -1) at $i.

sub balanced {
    my ($s, $i, $dir) = @_;
    my $depth = 0;
    for (my $j = $i; $j >= 0 && $j < length $s; $j += $dir) {
        my $c = substr($s, $j, 1);
        $depth += $c eq '(' ? $dir : $c eq ')' ? -$dir : 0;
        next if $depth;
        return $dir > 0 ? substr($s, $i, $j - $i + 1)
                        : substr($s, $j, $i - $j + 1);
    }
    return undef;
}


# A label the dashboard uses on $name: true when some series of $name has
# it; a family without series is recorded as not checked.

sub check_label {
    my ($m, $where, $name, $label, $bad, $unsampled) = @_;
    my @s = prom_samples($m, $name);
    if (!@s) {
        push @$unsampled, "$name\{$label}";
        return 0;
    }
    return 1 if grep { exists $_->{labels}{$label} } @s;
    push @$bad, "$where: $name has no label \"$label\"";
    return 0;
}


sub slurp {
    open my $f, '<', $_[0] or return "($_[0]: $!)";
    local $/;
    return <$f>;
}


sub error_log {
    open my $fh, '<', "$prefix/logs/error.log" or return '';
    local $/;
    return <$fh>;
}
