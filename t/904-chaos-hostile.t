#!/usr/bin/perl

# t/904-chaos-hostile.t: hostile clients and a hostile key server, while
# well-behaved clients keep going:
#
#   tokens and headers  a 60 KB Authorization, 100 dots, invalid base64, a
#                       JWT nesting JSON 5000 deep (correctly signed), an
#                       oversized token, "alg":"none", a JSON bomb of keys,
#                       a 60 KB API key, huge and malformed webhook signature
#                       headers, header lines past large_client_header_buffers
#                       and too many of them: each answered 4xx (401 from the
#                       modules, 400 from nginx for what it cannot read)
#   slowloris           60 webhook deliveries that send their headers and a
#                       few bytes of body, then nothing: each ended after
#                       client_body_timeout (1 s) and logged 408 (nginx
#                       closes such a connection without a response), and
#                       20 requests that never finish their headers, closed
#                       after client_header_timeout (1 s), while the worker
#                       keeps serving the others
#   hostile JWKS        documents that are huge (1.1 MB, more than the
#                       512 KB a key document may have), too big for the
#                       subrequest buffer, truncated, nested 100000 deep, not
#                       JSON, of the wrong types, with broken keys: the token
#                       is refused (401; the one too big for the buffer ends
#                       its request, as README says), the failed fetch is not
#                       repeated for every request, nothing crashes
#
# Nothing hostile reaches the backend (an nginx of its own that logs every
# request URI: the hostile ones carry paths of their own), no worker exits
# on a signal, nothing is logged at alert or emerg.  Meanwhile 2 clients
# send valid JWT requests and signed webhook deliveries: all 200, their
# worst latency printed.

use strict;
use warnings;

use Test::More;
use FindBin;
use Cwd qw(abs_path);
use Digest::SHA qw(hmac_sha256_hex);
use File::Path qw(remove_tree make_path);
use IO::Select;
use IO::Socket::INET;
use MIME::Base64 qw(encode_base64);
use Time::HiRes qw(sleep time);

use lib "$FindBin::Bin/lib";
use NginxGw::Util qw(free_port start_nginx http_request
                     parse_http_response);
use NginxGw::Auth qw(jwt jwks jws jwk oct_jwk rsa_key api_key_line
                     write_file b64u);
use NginxGw::Chaos qw(start_load finish_load tally log_problems
                      one_request);

my $root = abs_path("$FindBin::Bin/..");
my $prefix = ($ENV{TEST_NGINX_SERVROOT} // "$root/build/t")
             . "/904-chaos-hostile";
my @modules = split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} // '');

plan skip_all => 'TEST_NGINX_LOAD_MODULES must load gw_auth, gw_webhook '
                 . 'and echo'
    unless 3 == grep { /gw_auth_module|gw_webhook_module|echo/ } @modules;

remove_tree($prefix);
make_path("$prefix/gw/conf", "$prefix/backend/html/keys");

my ($gw, $be) = map { free_port() } 1 .. 2;
my $user = $> == 0 ? "user root;\n" : '';

# --- fixtures -------------------------------------------------------------

my $hs = join '', map { chr(97 + int rand 26) } 1 .. 32;
my $exp = time + 3600;
my $token = jwt('HS256', $hs, { sub => 'alice', exp => $exp },
                { kid => 'k1' });
my $api_key = 'key-' . join '', map { int rand 10 } 1 .. 20;
my $hook_secret = 'hook-' . join '', map { int rand 10 } 1 .. 20;
my $hook_body = '{"action":"opened","number":904}';
my $hook_sig = 'sha256=' . hmac_sha256_hex($hook_body, $hook_secret);

write_file("$prefix/gw/conf/jwks.json", jwks(oct_jwk($hs, kid => 'k1')));
write_file("$prefix/gw/conf/api-keys.txt", api_key_line($api_key, 'acme'));
write_file("$prefix/gw/conf/hook.secret", $hook_secret);

# hostile JWKS documents, served by the backend from html/keys/
my $rsa = rsa_key();
my $rsa_jwk = jwk($rsa, kid => 'r');
my %jwks = (
    huge      => jwks(map { jwk($rsa, kid => "r$_") } 1 .. 3000),
    toobig    => jwks(map { jwk($rsa, kid => "r$_") } 1 .. 300),
    truncated => substr(jwks($rsa_jwk, oct_jwk('x' x 32, kid => 'k2')),
                        0, 200),
    nested    => '{"keys":' . ('[' x 100000) . (']' x 100000) . '}',
    binary    => join('', map { chr int rand 256 } 1 .. 10000),
    types     => '{"keys":[1,"x",null,true,[],{"kty":7},{"kty":"oct",'
                 . '"kid":"k1","k":42},{"kty":"oct","kid":["k1"]}]}',
    notarray  => '{"keys":{"kty":"oct","kid":"k1","k":"' . b64u('x' x 32)
                 . '"}}',
    broken    => jwks('{"kty":"RSA","kid":"k1","n":"!!!!","e":"AQAB"}',
                      '{"kty":"RSA","kid":"k1","n":"' . ('A' x 40000)
                      . '","e":"' . ('A' x 5000) . '"}',
                      '{"kty":"EC","kid":"k1","crv":"P-256","x":"AA",'
                      . '"y":"AA"}',
                      '{"kty":"OKP","kid":"k1","crv":"Ed25519","x":"'
                      . ('_' x 100) . '"}',
                      '{"kty":"oct","kid":"k1","k":""}',
                      '{"kty":"oct","kid":"k1","k":"' . b64u('short')
                      . '"}'),
    dupkeys   => '{"keys":[],"keys":[' . oct_jwk($hs, kid => 'k1') . ']}',
    manykeys  => '{' . join(',', map { "\"m$_\":$_" } 1 .. 20000)
                 . ',"keys":[]}',
);
write_file("$prefix/backend/html/keys/$_.json", $jwks{$_}) for keys %jwks;

# --- backend and gateway -------------------------------------------------

my $backend = start_nginx(<<"_EOC_", "$prefix/backend", port => $be);
${user}worker_processes 1;
error_log logs/error.log info;
events { worker_connections 1024; }
http {
    log_format b '\$request_uri \$status';
    access_log logs/access.log b;
    server {
        listen 127.0.0.1:$be;
        location /keys/ { root html; }
        location = /idp { return 200 '{"active":false}'; }
        location / { return 200 "ok"; }
    }
}
_EOC_

my $jwks_locations = join '', map { <<"_EOC_" } sort keys %jwks;
        location = /jwks-$_ {
            gw_auth_jwt api;
            gw_auth_jwt_key_request /_keys/$_;
            proxy_pass http://127.0.0.1:$be;
        }
_EOC_

my $mods = join '', map { "load_module $_;\n" }
                    grep { /gw_auth|gw_webhook/ } @modules;
my $nginx = start_nginx(<<"_EOC_", "$prefix/gw", port => $gw);
${mods}${user}worker_processes 2;
error_log logs/error.log info;
events { worker_connections 1024; }
http {
    log_format g '\$request_uri \$status';
    access_log logs/access.log g;
    large_client_header_buffers 4 64k;
    client_header_timeout 1s;
    client_body_timeout 1s;

    server {
        listen 127.0.0.1:$gw;

        location = /valid { gw_auth_jwt api; gw_auth_jwt_key_file jwks.json;
                            proxy_pass http://127.0.0.1:$be; }
        location = /jwt   { gw_auth_jwt api; gw_auth_jwt_key_file jwks.json;
                            proxy_pass http://127.0.0.1:$be; }
        location = /key   { gw_auth_api_key api-keys.txt;
                            proxy_pass http://127.0.0.1:$be; }
        location = /intro { gw_auth_introspect /_introspect;
                            proxy_pass http://127.0.0.1:$be; }
        location = /hook  { gw_webhook github;
                            gw_webhook_secret file=hook.secret;
                            proxy_pass http://127.0.0.1:$be; }
        location = /stripe { gw_webhook stripe;
                             gw_webhook_secret file=hook.secret;
                             proxy_pass http://127.0.0.1:$be; }
        location = /shopify { gw_webhook shopify;
                              gw_webhook_secret file=hook.secret;
                              proxy_pass http://127.0.0.1:$be; }

$jwks_locations
        location /_keys/ {
            internal;
            proxy_pass_request_headers off;
            subrequest_output_buffer_size 4m;
            rewrite ^/_keys/(.*)\$ /keys/\$1.json break;
            proxy_pass http://127.0.0.1:$be;
        }
        location = /_keys/toobig {
            internal;
            proxy_pass_request_headers off;
            subrequest_output_buffer_size 64k;
            rewrite ^ /keys/toobig.json break;
            proxy_pass http://127.0.0.1:$be;
        }
        location = /_introspect {
            internal;
            proxy_pass_request_headers off;
            proxy_method POST;
            proxy_set_body "token=\$gw_auth_token";
            proxy_pass http://127.0.0.1:$be/idp;
        }
    }
}
_EOC_

# --- the well-behaved clients -------------------------------------------

my @good = (
    { name => 'valid-jwt', path => '/valid',
      headers => [Authorization => "Bearer $token"] },
    { name => 'valid-hook', path => '/hook?good=1', method => 'POST',
      body => $hook_body, headers => ['X-Hub-Signature-256' => $hook_sig] },
);

is(join(' ', map { one_request($gw, $_)->[1] } @good), '200 200',
   'a valid JWT and a signed delivery pass');

my $load = start_load(port => $gw, clients => 2, seconds => 9,
                      dir => "$prefix/load", mix => \@good);
my $t0 = time;

# --- hostile tokens and headers -----------------------------------------

sub nested_jwt {
    my ($depth) = @_;
    my $payload = '{"sub":"alice","n":' . ('[' x $depth) . (']' x $depth)
                  . '}';
    return jws('{"alg":"HS256","kid":"k1"}', $payload, ['HS256', $hs]);
}

my $pad = 'A' x 60000;
my @hostile = (
    [jwt => 'huge Authorization (60 KB)', "Bearer $pad"],
    [jwt => '100 dots', 'Bearer ' . ('.' x 100)],
    [jwt => 'dots and nothing else', 'Bearer ..'],
    [jwt => 'invalid base64', 'Bearer !!!$$$.@@@###.%%%^^^'],
    [jwt => 'nested JSON, 5000 deep, signed', 'Bearer ' . nested_jwt(5000)],
    [jwt => 'nested JSON, 65 deep, signed', 'Bearer ' . nested_jwt(65)],
    [jwt => 'a token of 16385 bytes', 'Bearer ' . substr("$token$pad", 0,
                                                       16385)],
    [jwt => 'alg none', 'Bearer ' . b64u('{"alg":"none"}') . '.'
                        . b64u('{"sub":"alice"}') . '.'],
    [jwt => 'a JSON object of 3000 members, signed',
     'Bearer ' . jws('{"alg":"HS256","kid":"k1"}',
                     '{' . join(',', map { "\"c$_\":$_" } 1 .. 3000) . '}',
                     ['HS256', $hs])],
    [jwt => 'a header of 100 kids',
     'Bearer ' . jws('{"alg":"HS256",' . join(',', map { '"kid":"k1"' }
                     1 .. 100) . '}', '{"sub":"alice"}', ['HS256', $hs])],
    [jwt => 'Basic instead of Bearer', 'Basic ' . encode_base64("a:b", '')],
    [jwt => 'Bearer and spaces', 'Bearer          '],
    [intro => 'huge opaque token (60 KB)', "Bearer $pad"],
    [intro => '100 dots', 'Bearer ' . ('.' x 100)],
);

my %want_code = ();
my @hostile_rec;

for my $h (@hostile) {
    my ($loc, $what, $auth) = @$h;
    my $r = one_request($gw, { name => $what, path => "/$loc?hostile=1",
                               headers => [Authorization => $auth] });
    push @hostile_rec, $r;
    is($r->[1], '401', "$loc: $what: 401");
}

# two Authorization headers
{
    my $r = one_request($gw, { name => 'two Authorization headers',
        path => '/jwt?hostile=2', headers => [Authorization =>
        "Bearer $token", Authorization => "Bearer $token"] });
    push @hostile_rec, $r;
    like($r->[1], qr/^4\d\d$/, "jwt: two Authorization headers: 4xx "
         . "($r->[1])");
}

# API keys
for my $k (['a 60 KB API key', $pad], ['an API key of control bytes',
           "\x01\x02\x7f"], ['an empty API key', '']) {
    my $r = one_request($gw, { name => $k->[0], path => '/key?hostile=3',
                               headers => ['X-API-Key' => $k->[1]] });
    push @hostile_rec, $r;
    like($r->[1], qr/^40[01]$/, "key: $k->[0]: 401 (or 400 from nginx) "
         . "($r->[1])");
}

# webhook signatures
for my $s (
    [hook => 'a 60 KB signature header', 'X-Hub-Signature-256',
     "sha256=$pad"],
    [hook => 'a signature of non-hex', 'X-Hub-Signature-256',
     'sha256=' . ('zz' x 32)],
    [hook => 'two signature headers', 'X-Hub-Signature-256', $hook_sig,
     'X-Hub-Signature-256', $hook_sig],
    [stripe => '800 v1= items (54 KB)', 'Stripe-Signature',
     't=' . time . ',' . join(',', map { 'v1=' . ('0' x 64) } 1 .. 800)],
    [stripe => 'a timestamp of 300 digits', 'Stripe-Signature',
     't=' . ('9' x 300) . ',v1=' . ('0' x 64)],
    [shopify => 'invalid base64', 'X-Shopify-Hmac-Sha256', '!!!!====' x 10],
) {
    my ($loc, $what, @h) = @$s;
    my $r = one_request($gw, { name => $what, path => "/$loc?hostile=4",
                               method => 'POST', body => $hook_body,
                               headers => \@h });
    push @hostile_rec, $r;
    is($r->[1], '401', "$loc: $what: 401");
}

# header lines nginx cannot hold: one past large_client_header_buffers
# (64k), and 300 lines of 1 KB (four 64k buffers at most)
for my $h (['a header line of 70 KB', ['X-Big' => 'x' x 70000]],
           ['300 header lines of 1 KB',
            [map { ("X-H$_" => 'y' x 1000) } 1 .. 300]]) {
    my $r = one_request($gw, { name => $h->[0], path => '/jwt?hostile=5',
                               headers => [@{ $h->[1] },
                                           Authorization => "Bearer $token"]
                             });
    push @hostile_rec, $r;
    like($r->[1], qr/^4\d\d$/, "$h->[0]: 4xx from nginx ($r->[1])");
}

# --- slowloris ------------------------------------------------------------

sub slow_connect {
    my ($head, $body) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $gw,
                                  Proto => 'tcp', Timeout => 3)
        or return undef;
    $s->autoflush(1);
    syswrite($s, $head . ($body // ''));
    return $s;
}

# read what each socket gets until EOF, 5 s at most: [status, seconds]
sub slow_collect {
    my ($t, @socks) = @_;
    my %buf;
    my %done;
    my $sel = IO::Select->new(grep { defined } @socks);
    my $deadline = time + 5;
    while ($sel->count && time < $deadline) {
        for my $s ($sel->can_read($deadline - time)) {
            my $n = sysread($s, my $b, 4096);
            if ($n) { $buf{$s} .= $b; next }
            $done{$s} = time - $t;
            $sel->remove($s);
            close $s;
        }
    }
    return map {
        my $res = defined $_ ? parse_http_response($buf{$_} // '', 0, 1)
                             : undef;
        [defined $_ ? ($res && $res->{code} ? $res->{code} : 'closed')
                    : 'no connection',
         defined $_ && defined $done{$_} ? $done{$_} : 99]
    } @socks;
}

my $slow_body_head = "POST /hook?slowloris=1 HTTP/1.1\r\nHost: gw\r\n"
    . "X-Hub-Signature-256: $hook_sig\r\nContent-Length: 1000\r\n"
    . "Connection: close\r\n\r\n";
my $slow_header = "GET /valid?slowloris=2 HTTP/1.1\r\nHost: gw\r\n"
    . "Authorization: Bearer $token\r\nX-Partial: ";

my $ts = time;
my @body_socks = map { slow_connect($slow_body_head, '{"act') } 1 .. 60;
my @head_socks = map { slow_connect($slow_header) } 1 .. 20;

# while they hang, well-behaved requests are served at once
my @during;
for (1 .. 10) {
    push @during, one_request($gw, $good[$_ % 2]);
    sleep 0.05;
}
is(join(' ', map { $_->[1] } @during), join(' ', ('200') x 10),
   'slowloris: other requests are served meanwhile');
my ($worst_during) = sort { $b <=> $a } map { $_->[2] } @during;
cmp_ok($worst_during, '<', 500, sprintf 'slowloris: served within 500 ms '
       . '(worst %.1f ms)', $worst_during);

my @body_res = slow_collect($ts, @body_socks);
my @head_res = slow_collect($ts, @head_socks);

my %bc;
$bc{$_->[0]}++ for @body_res;
is(join(' ', map { "$_ x$bc{$_}" } sort keys %bc), 'closed x60',
   'slowloris: stalled webhook bodies: the connections are closed (nginx '
   . 'ends a request on client_body_timeout without a response)');
my ($bmax) = sort { $b <=> $a } map { $_->[1] } @body_res;
my ($bmin) = sort { $a <=> $b } map { $_->[1] } @body_res;
ok($bmin >= 0.9 && $bmax < 4, sprintf 'slowloris: after client_body_timeout '
   . '(1 s): between %.2f and %.2f s', $bmin, $bmax);
{
    my $glog = do { local (@ARGV, $/) = ("$prefix/gw/logs/access.log");
                    <> // '' };
    my $n408 = () = $glog =~ m{^/hook\?slowloris=1 408$}mg;
    is($n408, 60, 'slowloris: each logged with status 408');
}

my %hc;
$hc{$_->[0]}++ for @head_res;
my ($hmax) = sort { $b <=> $a } map { $_->[1] } @head_res;
is(join(' ', map { "$_ x$hc{$_}" } sort keys %hc), 'closed x20',
   'slowloris: unfinished headers: the connections are closed');
cmp_ok($hmax, '<', 4, sprintf 'slowloris: within client_header_timeout '
       . '(1 s) + slack (%.2f s)', $hmax);

diag(sprintf '904 slowloris: %d stalled bodies ended (408) after %.2f to '
     . '%.2f s, %d stalled headers closed within %.2f s; 10 requests '
     . 'meanwhile, worst %.1f ms', scalar @body_res, $bmin, $bmax,
     scalar @head_res, $hmax, $worst_during);

# --- hostile JWKS ---------------------------------------------------------

for my $name (sort keys %jwks) {
    my @r = map { one_request($gw, { name => "jwks $name",
                                     path => "/jwks-$name",
                                     headers => [Authorization =>
                                                 "Bearer $token"] }) }
            1 .. 3;
    push @hostile_rec, @r;
    # too big for subrequest_output_buffer_size: nginx ends the request
    # that fetched it (README, gw_auth_jwt_key_request); the failed fetch
    # is remembered, the next requests get 401 without a fetch
    my $want = $name eq 'toobig' ? 'none 401 401' : '401 401 401';
    is(join(' ', map { $_->[1] } @r), $want,
       "JWKS $name (" . length($jwks{$name}) . " bytes): $want");
}

# --- figures --------------------------------------------------------------

my $rec = finish_load($load);
tally('904 valid clients beside the hostile ones', $rec,
      'valid-jwt' => qr/^200$/, 'valid-hook' => qr/^200$/);

my ($hworst) = sort { $b <=> $a } map { $_->[2] } @hostile_rec;
my $h4xx = grep { $_->[1] =~ /^4/ } @hostile_rec;
diag(sprintf '904 hostile requests: %d, %d answered 4xx, worst latency '
     . '%.1f ms', scalar @hostile_rec, $h4xx, $hworst);
cmp_ok($hworst, '<', 2000, 'every hostile request answered within 2 s');

$backend->stop;
my $blog = do { local (@ARGV, $/) = ("$prefix/backend/logs/access.log");
                <> // '' };
my @reached = grep { /hostile|slowloris|^\/jwks-/ } split /\n/, $blog;
is(scalar @reached, 0, 'nothing hostile reached the backend')
    or diag(join "\n", @reached[0 .. ($#reached < 9 ? $#reached : 9)]);
my $huge = () = $blog =~ m{^/keys/huge\.json 200$}mg;
is($huge, 1, 'the huge JWKS was fetched once for three requests (a failed '
   . 'fetch, retried after 10 s)');

is($nginx->stop, 0, 'the gateway stops cleanly');
my $log = $nginx->error_log_text;
like($log, qr/\[error\] .*gw_auth: JWKS request "\/_keys\/huge" answered \d+ bytes, more than/,
     'error log: the huge JWKS refused at error');
like($log, qr/too big subrequest response/,
     'error log: the JWKS too big for the subrequest buffer');
my @bad = log_problems($log);
ok(!@bad, 'gateway error log: no worker exited on a signal, no alert, '
   . 'emerg or crit') or diag(join "\n", @bad[0 .. ($#bad < 9 ? $#bad : 9)]);

done_testing();
