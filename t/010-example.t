#!/usr/bin/perl

# t/010-example.t: boots examples/nginx.conf, the example gateway, and checks
# with real requests every capability it shows: routing by path, header and
# query argument; round robin, weights, least_conn, ip_hash, hash and random
# balancing with upstream keepalive; proxy_cache; gzip; security headers;
# request and response header rewriting; JSON errors; /healthz; HSTS on TLS;
# JWT and API-key auth; per-consumer rate limits; webhook signatures.
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

    my $slow = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                     PeerPort => $gw, Timeout => 5)
        or die "connect: $!";
    print $slow "GET /lb/least-time/slow HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                . "Connection: close\r\n\r\n";

    my $deadline = time + 2;
    while (time < $deadline) {
        my ($writing) = get('/nginx_status')->{content} =~ /Writing: (\d+)/;
        last if ($writing // 0) >= 3;
        sleep 0.02;
    }

    sleep 0.1;
    my @quick = map { backend(get('/lb/least-time/quick')) } 1 .. 6;

    my $reply = do { local $/; <$slow> } // '';
    close $slow;

    my ($busy) = $reply =~ /^backend: (\S+)/m;
    ok(defined $busy, 'least_time: slow request answered') or diag($reply);
    $busy //= '?';

    is(scalar(grep { $_ eq $busy } @quick), 0,
       "least_time: no quick request went to the busy $busy")
        or diag("quick: @quick");

    my @bw = map { backend(get('/lb/least-bandwidth/x')) } 1 .. 10;
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
    is($r->{status}, 200, 'auth: JWT with the scope accepted');
    is(echoed($r, 'x-consumer-id'), 'alice',
       'auth: backend told the subject, not the client\'s X-Consumer-Id');

    $r = get('/account/me', Authorization => 'Bearer '
                                             . $jwt->(scope => 'other'));
    is($r->{status}, 403, 'auth: JWT without the scope: 403');
    like($r->{headers}{'www-authenticate'} // '', qr/insufficient_scope/,
         'auth: 403 says insufficient_scope');

    $r = get('/account/me');
    is($r->{status}, 401, 'auth: no token: 401');
    is($r->{headers}{'www-authenticate'}, 'Bearer realm="demo"',
       'auth: WWW-Authenticate with the realm');

    $r = get('/partners/x', 'X-API-Key' => 'demo-partner-key');
    is($r->{status}, 200, 'auth: API key accepted');
    is(echoed($r, 'x-consumer-id'), 'acme', 'auth: API key consumer passed on');

    $r = get('/partners/x', 'X-API-Key' => 'guess');
    is($r->{status}, 401, 'auth: wrong API key: 401');

    # the per-consumer limit: 60 a minute; the first request above took one
    my @remaining;
    for (1 .. 3) {
        $r = get('/partners/x', 'X-API-Key' => 'demo-partner-key');
        push @remaining, $r->{headers}{'x-ratelimit-remaining'} // 'none';
    }
    is($r->{headers}{'x-ratelimit-limit'}, 60,
       'ratelimit: the per-consumer limit is reported');
    is($remaining[1], $remaining[0] - 1, 'ratelimit: each request counts');
    like($r->{headers}{'ratelimit-policy'} // '', qr/^"per_consumer";q=60;w=60$/,
         'ratelimit: RateLimit-Policy names the consumer zone');
    my $n = 4;
    while ($r->{status} == 200 && $n++ < 70) {
        $r = get('/partners/x', 'X-API-Key' => 'demo-partner-key');
    }
    is($r->{status}, 429, 'ratelimit: over the limit: 429');
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
    is($r->{status}, 200, 'webhook: signed delivery accepted');
    is(backend($r), 'backend-c', 'webhook: forwarded to the backend');

    $r = $post->($payload, 'X-Hub-Signature-256' => $sig);
    is($r->{status}, 200, 'webhook: replay answered 200');
    is($r->{content}, '', 'webhook: replay not forwarded again');

    $r = $post->($payload . ' ', 'X-Hub-Signature-256' => $sig);
    is($r->{status}, 401, 'webhook: tampered body refused');
    is($r->{headers}{'content-type'}, 'application/json',
       'webhook: 401 as JSON');

    $r = $post->($payload);
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
