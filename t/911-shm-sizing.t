#!/usr/bin/perl

# t/911-shm-sizing.t: how much shared memory an entry takes, measured, for
# README's "Shared memory sizing" (Operating).
#
# Keyed zones (gw_ratelimit_zone size=, gw_auth_cache, gw_webhook_replay):
# a gateway with one zone of each kind, all of the same size, gets more
# distinct keys than fit (every one still counted: 10r/h limits, tokens
# valid for an hour, deliveries within their tolerance), pipelined on
# keepalive connections; gw_status then says how many entries each zone
# holds (its capacity) and how many it evicted, which must be exactly the
# keys sent beyond the capacity.  Done at 128 KB and 512 KB: the bytes an
# entry takes are the difference in size over the difference in entries
# (what the slab pool's own pages cost cancels out).
#
# Peer zones (gw_breaker, gw_least_time: one zone of fixed size per
# upstream): the most peers an upstream may have, found with "nginx -t"
# (more fail it with "too many peers").
#
# The figures are printed with diag.

use strict;
use warnings;

use Test::More;
use FindBin;
use Cwd qw(abs_path);
use Digest::SHA qw(hmac_sha256_hex);
use File::Path qw(remove_tree make_path);
use IO::Socket::INET;
use IO::Select;
use Time::HiRes qw(time);

use lib "$FindBin::Bin/lib";
use NginxGw::Util qw(free_port start_nginx http_request nginx_output
                     check_sanitizers);
use NginxGw::Auth qw(jwt jwks oct_jwk write_file);
use NginxGw::Status qw(prom_parse prom_value);

my $root = abs_path("$FindBin::Bin/..");
my $prefix = ($ENV{TEST_NGINX_SERVROOT} // "$root/build/t")
             . "/911-shm-sizing";
my @modules = split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} // '');

my %mod = map { /(ngx_http_gw_\w+_module)\.so$/ ? ($1 => $_) : () } @modules;

plan skip_all => 'TEST_NGINX_LOAD_MODULES must load the gw modules'
    unless 6 == grep { $mod{"ngx_http_gw_${_}_module"} }
                     qw(auth ratelimit webhook breaker lb_least_time status);

plan skip_all => 'fills zones with thousands of keys: too slow under valgrind'
    if $ENV{TEST_NGINX_USE_VALGRIND};

remove_tree($prefix);
make_path($prefix);

my $user = $> == 0 ? "user root;\n" : '';
my $hs = join '', map { chr(65 + int rand 26) } 1 .. 32;
my $hook_secret = 'whsec-' . join '', map { int rand 10 } 1 .. 20;


# pipelined($port, @requests): sends them on one keepalive connection, in
# batches, and returns the status codes in order

sub pipelined {
    my ($port, @reqs) = @_;
    my @codes;

    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp')
        or die "connect: $!\n";
    binmode $s;

    while (my @batch = splice @reqs, 0, 64) {
        my $out = join '', @batch;
        my $off = 0;
        while ($off < length $out) {
            my $n = syswrite($s, $out, length($out) - $off, $off);
            die "write: $!\n" unless defined $n;
            $off += $n;
        }

        my $buf = '';
        my $want = @batch;
        my $sel = IO::Select->new($s);

        while ($want) {
            if ($buf =~ /\A(HTTP\/1\.1 (\d{3})[^\r]*\r\n(.*?)\r\n\r\n)/s) {
                my ($head, $code, $h) = ($1, $2, $3);
                my ($len) = $h =~ /^content-length:\s*(\d+)/mi;
                $len //= 0;
                if (length($buf) >= length($head) + $len) {
                    substr($buf, 0, length($head) + $len) = '';
                    push @codes, $code;
                    $want--;
                    next;
                }
            }

            die "timeout waiting for $want responses\n"
                unless $sel->can_read(10);
            my $n = sysread($s, $buf, 65536, length $buf);
            die "read: " . ($n // $!) . "\n" unless $n;
        }
    }

    close $s;
    return @codes;
}

sub get_req {
    my ($path, @h) = @_;
    return "GET $path HTTP/1.1\r\nHost: x\r\n"
           . join('', map { "$_\r\n" } @h) . "\r\n";
}

sub metrics {
    my ($port) = @_;
    my ($code, undef, $body) = http_request(port => $port,
                                            path => '/st?format=prometheus');
    die "gw_status: $code\n" unless ($code // 0) == 200;
    return prom_parse($body);
}


# --- keyed zones --------------------------------------------------------

# zone kind => [ family of entries, family of evictions, labels ]
my %kind = (
    sliding_window => [ 'nginx_gw_ratelimit_keys',
                        'nginx_gw_ratelimit_evictions_total',
                        { zone => 'sw' } ],
    token_bucket   => [ 'nginx_gw_ratelimit_keys',
                        'nginx_gw_ratelimit_evictions_total',
                        { zone => 'tb' } ],
    auth_cache     => [ 'nginx_gw_auth_cache_entries',
                        'nginx_gw_auth_cache_evictions_total',
                        { zone => 'authc' } ],
    webhook_replay => [ 'nginx_gw_webhook_replay_entries',
                        'nginx_gw_webhook_replay_evictions_total',
                        { zone => 'wh' } ],
);

# how many keys to send for a zone of $kb: well past its capacity at 128
# bytes per entry (the smallest slab slot that holds one; a zone that does
# not fill fails below)
sub keys_for { my ($kb) = @_; return int($kb * 1024 / 128 * 1.25) + 50 }

my %fig;   # $fig{$kind}{$kb} = [entries, evictions, sent]

for my $kb (128, 512) {
    my $port = free_port();
    my $dir = "$prefix/keyed-$kb";
    make_path("$dir/conf", "$dir/html");
    write_file("$dir/conf/jwks.json", jwks(oct_jwk($hs, kid => 'k1')));
    write_file("$dir/html/ok.txt", 'ok');

    my $mods = join '', map { "load_module $mod{$_};\n" }
        map { "ngx_http_gw_${_}_module" } qw(auth ratelimit webhook status);

    my $nginx = start_nginx(<<"_EOC_", $dir, port => $port);
${mods}${user}worker_processes 1;
error_log logs/error.log notice;
events { worker_connections 256; }
http {
    access_log off;
    keepalive_requests 100000;

    gw_auth_cache     zone=authc:${kb}k;
    gw_ratelimit_zone sw key=\$arg_k rate=10r/h size=${kb}k;
    gw_ratelimit_zone tb key=\$arg_k rate=10r/h size=${kb}k
                      algorithm=token_bucket;

    upstream self { server 127.0.0.1:$port; keepalive 4; }

    server {
        listen 127.0.0.1:$port;
        root html;

        location = /st { gw_status; }
        location = /sw { gw_ratelimit sw; try_files /ok.txt =404; }
        location = /tb { gw_ratelimit tb; try_files /ok.txt =404; }

        location = /jwt {
            gw_auth_jwt api;
            gw_auth_jwt_key_file jwks.json;
            try_files /ok.txt =404;
        }

        location = /hook {
            gw_webhook github;
            gw_webhook_secret $hook_secret;
            gw_webhook_replay zone=wh:${kb}k;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass http://self/ok;
        }

        location = /ok { return 200 "ok"; }
    }
}
_EOC_

    my $n = keys_for($kb);
    my $t0 = time;

    my @codes = pipelined($port, map { get_req("/sw?k=key-$_") } 1 .. $n);
    is(scalar(grep { $_ == 200 } @codes), $n,
       "$kb KB: sliding window, $n keys, each passed once");

    @codes = pipelined($port, map { get_req("/tb?k=key-$_") } 1 .. $n);
    is(scalar(grep { $_ == 200 } @codes), $n,
       "$kb KB: token bucket, $n keys, each passed once");

    # a token with what a typical IdP puts in it: a subject, a scope, an
    # audience, an issuer; the cache keeps its subject and scope
    my $exp = time + 3600;
    @codes = pipelined($port, map {
        get_req('/jwt', 'Authorization: Bearer '
                . jwt('HS256', $hs, { sub => "user-$_\@example.com",
                                      scope => 'orders:read orders:write',
                                      aud => 'api', iss => 'https://idp',
                                      exp => $exp }, { kid => 'k1' }))
    } 1 .. $n);
    is(scalar(grep { $_ == 200 } @codes), $n,
       "$kb KB: $n distinct JWTs accepted");

    @codes = pipelined($port, map {
        my $body = qq({"delivery":$_,"zen":"Keep it logically awesome."});
        "POST /hook HTTP/1.1\r\nHost: x\r\nContent-Length: "
        . length($body) . "\r\nX-Hub-Signature-256: sha256="
        . hmac_sha256_hex($body, $hook_secret) . "\r\n\r\n$body"
    } 1 .. $n);
    is(scalar(grep { $_ == 200 } @codes), $n,
       "$kb KB: $n distinct webhook deliveries forwarded");

    my $m = metrics($port);

    for my $k (sort keys %kind) {
        my ($entries_f, $evictions_f, $labels) = @{ $kind{$k} };
        my $entries = prom_value($m, $entries_f, $labels);
        my $evictions = prom_value($m, $evictions_f, $labels);

        ok(defined $entries && defined $evictions,
           "$kb KB: $k: $entries_f and $evictions_f reported");
        ok(($evictions // 0) > 0, "$kb KB: $k: the zone filled up");
        is(($entries // 0) + ($evictions // 0), $n,
           "$kb KB: $k: entries + evictions = keys sent");

        $fig{$k}{$kb} = [$entries // 0, $evictions // 0, $n];
    }

    my $log = $nginx->error_log_text;
    like($log, qr/gw_ratelimit: zone "sw" is full/,
         "$kb KB: the full limiter zone is logged");
    unlike($log, qr/\[(alert|crit|emerg)\]|exited on signal/,
           "$kb KB: no alert, crit, emerg or crash");

    diag(sprintf "%d KB zones filled in %.1f s", $kb, time - $t0);
    $nginx->stop;
}

my %per_entry;

for my $k (sort keys %kind) {
    my ($small, $large) = map { $fig{$k}{$_}[0] } 128, 512;
    next unless $large > $small;

    my $bytes = (512 - 128) * 1024 / ($large - $small);
    $per_entry{$k} = $bytes;

    diag(sprintf "%-15s 128 KB: %5d entries, 512 KB: %5d entries; "
                 . "%.0f bytes per entry, %d per MB", $k, $small, $large,
                 $bytes, 1024 * 1024 / $bytes);
}

# README states these: an entry of a limiter or of the auth cache (with
# this token's subject and scope) takes 256 bytes of the slab, one of the
# webhook replay zone 128
for my $k (qw(sliding_window token_bucket auth_cache)) {
    ok(($per_entry{$k} // 1e9) <= 260, "$k: at most 256 bytes per entry")
        or diag("$k: " . ($per_entry{$k} // 'no figure'));
}
ok(($per_entry{webhook_replay} // 1e9) <= 130,
   'webhook_replay: at most 128 bytes per entry')
    or diag('webhook_replay: ' . ($per_entry{webhook_replay} // 'no figure'));


# --- peer zones ---------------------------------------------------------

# nginx -t of an upstream of $n peers with the balancer's directive;
# returns (ok, output)
sub peers_ok {
    my ($module, $directive, $n, $first) = @_;
    my $dir = "$prefix/peers";
    make_path("$dir/conf", "$dir/logs");

    my $servers = join '', map { "        server 127.0.0.1:" . (10000 + $_)
                                 . ";\n" } 1 .. $n;
    my $conf = "load_module $mod{$module};\n${user}"
             . "error_log logs/error.log;\npid logs/nginx.pid;\n"
             . "events { }\nhttp {\n"
             . join('', map { "    ${_}_temp_path $dir/${_}_temp;\n" }
                            qw(client_body proxy fastcgi uwsgi scgi))
             . "    upstream u {\n"
             . ($first ? "        $directive;\n$servers"
                       : "${servers}        $directive;\n")
             . "    }\n    server { listen 127.0.0.1:" . free_port()
             . "; location / { proxy_pass http://u; } }\n}\n";
    write_file("$dir/conf/nginx.conf", $conf);

    my ($status, $out) = nginx_output(['-t', '-p', "$dir/", '-c',
                                       "$dir/conf/nginx.conf"], "$dir/logs");
    return ($status == 0, $out);
}

for my $p (['ngx_http_gw_breaker_module', 'gw_breaker', 0],
           ['ngx_http_gw_lb_least_time_module', 'gw_least_time header', 1])
{
    my ($module, $directive, $first) = @$p;

    my ($lo, $hi) = (1, 8192);
    my ($ok, $out) = peers_ok($module, $directive, $lo, $first);
    ok($ok, "$directive: one peer passes nginx -t") or diag($out);

    ($ok, $out) = peers_ok($module, $directive, $hi, $first);
    ok(!$ok && $out =~ /too many peers in upstream "u"/,
       "$directive: $hi peers fail nginx -t with \"too many peers\"")
        or diag($out);

    while ($hi - $lo > 1) {
        my $mid = int(($lo + $hi) / 2);
        ($ok) = peers_ok($module, $directive, $mid, $first);
        ($ok ? $lo : $hi) = $mid;
    }

    ok($lo >= 300, "$directive: an upstream may have $lo peers (>= 300)");
    diag(sprintf "%-22s at most %d peers per upstream in its 256 KB zone "
                 . "(%.0f bytes per peer)", $directive, $lo,
                 128 * 1024 / $lo);
}

# under ASan: a report of any "nginx -t" above fails here
check_sanitizers("$prefix/peers/logs", 'nginx -t of the peer zones');

done_testing();
