# gw_breaker around each of nginx's balancers: the balancer picks as usual,
# a pick of an open peer is handed back and the balancer asked again, so the
# open peer gets no traffic while the others share it the balancer's way.
#
# b1, b2, b3 on $TEST_NGINX_RAND_PORT_1 .. 3 answer /ok with their name;
# /flaky fails (502) only where the block says so.  They log
# "<name> <uri> <status>" to access.log.  /scan (echo_location, one
# subrequest after the other) sends a series of requests through the
# gateway and shows who answered each, one name per line.

use Test::Nginx::Socket 'no_plan';
use Compress::Zlib qw(crc32);

# nginx's "hash" balancer (not consistent) with three peers of weight 1:
# the first peer it tries for a key
sub hash_peer { 'b' . (1 + ((crc32($_[0]) >> 16) & 0x7fff) % 3) }

# nginx's "ip_hash" with three peers of weight 1: the first peer it tries
# for a client of 127.0.0.x (the first three octets count)
sub ip_hash_peer {
    my $h = 89;
    $h = ($h * 113 + $_) % 6271 for 127, 0, 0;
    return 'b' . (1 + $h % 3);
}

our @keys = map { "k$_" } 1 .. 12;

# /scan?s=N: a request for each key, marked s=N, one after the other
our $scan_keys = "location = /scan {\n"
    . CORE::join('', map { "        echo_location /api/ok k=$_&s=\$arg_s;\n" } @keys)
    . "    }";

# a body of lines, one per request, each of the names given (a regex)
sub lines_of { my ($re, $n) = @_; qr/\A(?:(?:$re)\n){$n}\z/ }

# the body of lines of two names with between $lo and $hi of the second
sub share_of {
    my ($a, $b, $n, $lo, $hi) = @_;
    qr/\A(?=(?:(?:$a\n)*$b\n){$lo,$hi}(?:$a\n)*\z)(?:(?:$a|$b)\n){$n}\z/;
}

check_accum_error_log();
no_shuffle();
run_tests();

__DATA__

=== TEST 1: weighted round robin (b1 weight=1, b2 weight=2, b3 weight=1): once b3 is open, b1 and b2 share its traffic about 1:2
--- http_config
    log_format backend '$server_name $request_uri $status';

    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1 weight=1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2 weight=2;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_3 weight=1;
        gw_breaker failures=1;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server_name b1;
        access_log logs/access.log backend;
        location /ok    { return 200 "b1\n"; }
        location /flaky { return 200 "b1\n"; }
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        server_name b2;
        access_log logs/access.log backend;
        location /ok    { return 200 "b2\n"; }
        location /flaky { return 200 "b2\n"; }
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_3;
        server_name b3;
        access_log logs/access.log backend;
        location /ok    { return 200 "b3\n"; }
        location /flaky { return 502; }
    }
--- config
    location /api/ {
        proxy_pass http://backends/;
        proxy_next_upstream off;
    }
    location = /scan {
        echo_location /api/flaky n=1; echo_location /api/flaky n=2;
        echo_location /api/flaky n=3; echo_location /api/flaky n=4;
        echo_location /api/ok n=5;  echo_location /api/ok n=6;
        echo_location /api/ok n=7;  echo_location /api/ok n=8;
        echo_location /api/ok n=9;  echo_location /api/ok n=10;
        echo_location /api/ok n=11; echo_location /api/ok n=12;
        echo_location /api/ok n=13; echo_location /api/ok n=14;
        echo_location /api/ok n=15; echo_location /api/ok n=16;
        echo_location /api/ok n=17; echo_location /api/ok n=18;
        echo_location /api/ok n=19; echo_location /api/ok n=20;
        echo_location /api/ok n=21; echo_location /api/ok n=22;
        echo_location /api/ok n=23; echo_location /api/ok n=24;
        echo_location /api/ok n=25; echo_location /api/ok n=26;
        echo_location /api/ok n=27; echo_location /api/ok n=28;
    }
--- request
GET /scan
--- response_body_like eval
# the 4 /flaky requests: b3 fails once (its 502 page), b1 and b2 answer;
# then 24 /ok requests: b2 gets 2/3 of them (16), give or take 2
qr/\A(?:b[12]\n|<html>.*?<\/html>\r\n){4}(?=(?:(?:b1\n)*b2\n){14,18}(?:b1\n)*\z)(?:b[12]\n){24}\z/s
--- access_log
b3 /flaky?n=
b1 /ok?n=
b2 /ok?n=
--- no_access_log
b3 /ok
--- error_log
opened: 1 consecutive failures



=== TEST 2: least_conn: once b1 is open, b2 and b3 share its traffic
--- http_config
    log_format backend '$server_name $request_uri $status';

    upstream backends {
        least_conn;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_3;
        gw_breaker failures=1;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server_name b1;
        access_log logs/access.log backend;
        location /ok   { return 200 "b1\n"; }
        location /fail { return 502; }
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        server_name b2;
        access_log logs/access.log backend;
        location /ok { return 200 "b2\n"; }
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_3;
        server_name b3;
        access_log logs/access.log backend;
        location /ok { return 200 "b3\n"; }
    }
--- config
    location /api/ {
        proxy_pass http://backends/;
        proxy_next_upstream off;
    }
    location = /scan {
        echo_location /api/ok n=1;  echo_location /api/ok n=2;
        echo_location /api/ok n=3;  echo_location /api/ok n=4;
        echo_location /api/ok n=5;  echo_location /api/ok n=6;
        echo_location /api/ok n=7;  echo_location /api/ok n=8;
        echo_location /api/ok n=9;  echo_location /api/ok n=10;
        echo_location /api/ok n=11; echo_location /api/ok n=12;
    }
--- pipelined_requests eval
["GET /scan", "GET /api/fail", "GET /scan"]
--- error_code eval
[200, 502, 200]
--- response_body_like eval
[::share_of('b[23]', 'b1', 12, 4, 4), qr/502 Bad Gateway/,
 ::share_of('b2', 'b3', 12, 4, 8)]
--- error_log
opened: 1 consecutive failures



=== TEST 3: hash $arg_k: once b1 is open its keys move to b2 and b3, every other key stays where it was
--- http_config
    log_format backend '$server_name $request_uri $status';

    upstream backends {
        hash $arg_k;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_3;
        gw_breaker failures=1;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server_name b1;
        access_log logs/access.log backend;
        location /ok   { return 200 "b1\n"; }
        location /fail { return 502; }
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        server_name b2;
        access_log logs/access.log backend;
        location /ok { return 200 "b2\n"; }
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_3;
        server_name b3;
        access_log logs/access.log backend;
        location /ok { return 200 "b3\n"; }
    }
--- config eval
"    location /api/ {
        proxy_pass http://backends/;
        proxy_next_upstream off;
    }
    $::scan_keys"
--- pipelined_requests eval
# k1 is one of b1's keys
die "k1 is not b1's key" unless ::hash_peer('k1') eq 'b1';
["GET /scan?s=1", "GET /api/fail?k=k1", "GET /scan?s=2"]
--- error_code eval
[200, 502, 200]
--- response_body eval
[CORE::join('', map { ::hash_peer($_) . "\n" } @::keys), qr/502 Bad Gateway/,
 do { my $re = CORE::join '', map { my $p = ::hash_peer($_);
                                    $p eq 'b1' ? 'b[23]\n' : "$p\\n" } @::keys;
      qr/\A$re\z/ }]
--- access_log eval
[qr/^b1 \/ok\?k=\w+&s=1 200$/m, qr/^b2 \/ok\?k=\w+&s=2 200$/m,
 qr/^b3 \/ok\?k=\w+&s=2 200$/m]
--- no_access_log eval
[qr/^b1 \/ok\?k=\w+&s=2 /m]
--- error_log
opened: 1 consecutive failures



=== TEST 4: ip_hash: every request of 127.0.0.1 goes to one peer; once it is open, they all go to one other peer
--- http_config
    log_format backend '$server_name $request_uri $status';

    upstream backends {
        ip_hash;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_3;
        gw_breaker failures=1;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server_name b1;
        access_log logs/access.log backend;
        location /ok   { return 200 "b1\n"; }
        location /fail { return 502; }
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        server_name b2;
        access_log logs/access.log backend;
        location /ok   { return 200 "b2\n"; }
        location /fail { return 502; }
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_3;
        server_name b3;
        access_log logs/access.log backend;
        location /ok   { return 200 "b3\n"; }
        location /fail { return 502; }
    }
--- config
    location /api/ {
        proxy_pass http://backends/;
        proxy_next_upstream off;
    }
    location = /scan {
        echo_location /api/ok n=1; echo_location /api/ok n=2;
        echo_location /api/ok n=3; echo_location /api/ok n=4;
        echo_location /api/ok n=5; echo_location /api/ok n=6;
        echo_location /api/ok n=7; echo_location /api/ok n=8;
    }
--- pipelined_requests eval
["GET /scan", "GET /api/fail", "GET /scan"]
--- error_code eval
[200, 502, 200]
--- response_body_like eval
my $p = ::ip_hash_peer();
my @others = grep { $_ ne $p } qw(b1 b2 b3);
[::lines_of($p, 8), qr/502 Bad Gateway/,
 qr/\A($others[0]|$others[1])\n(?:\1\n){7}\z/]
--- error_log
opened: 1 consecutive failures



=== TEST 5: backup: the backup server gets nothing while the primary is closed, everything once it is open
--- http_config
    log_format backend '$server_name $request_uri $status';

    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2 backup;
        gw_breaker failures=2;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server_name b1;
        access_log logs/access.log backend;
        location /ok   { return 200 "b1\n"; }
        location /fail { return 502; }
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        server_name b2;
        access_log logs/access.log backend;
        location /ok   { return 200 "b2\n"; }
        location /fail { return 502; }
    }
--- config
    location /api/ {
        proxy_pass http://backends/;
        proxy_next_upstream off;
    }
--- pipelined_requests eval
["GET /api/ok?n=1", "GET /api/ok?n=2", "GET /api/fail?n=3",
 "GET /api/fail?n=4", "GET /api/ok?n=5", "GET /api/ok?n=6"]
--- error_code eval
[200, 200, 502, 502, 200, 200]
--- response_body_like eval
["^b1\n\\z", "^b1\n\\z", "502 Bad Gateway", "502 Bad Gateway", "^b2\n\\z",
 "^b2\n\\z"]
--- access_log
b1 /fail?n=4 502
b2 /ok?n=6 200
--- no_access_log
b2 /fail
--- error_log
opened: 2 consecutive failures



=== TEST 6: random: once b1 is open it gets no traffic
--- http_config
    log_format backend '$server_name $request_uri $status';

    upstream backends {
        random;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_3;
        gw_breaker failures=1;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server_name b1;
        access_log logs/access.log backend;
        location /ok    { return 200 "b1\n"; }
        location /flaky { return 502; }
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        server_name b2;
        access_log logs/access.log backend;
        location /ok    { return 200 "b2\n"; }
        location /flaky { return 200 "b2\n"; }
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_3;
        server_name b3;
        access_log logs/access.log backend;
        location /ok    { return 200 "b3\n"; }
        location /flaky { return 200 "b3\n"; }
    }
--- config
    location /api/ {
        proxy_pass http://backends/;
        proxy_next_upstream off;
    }
    # /flaky until b1 has failed once, then twelve /ok
    location = /scan {
        echo_location /api/flaky n=1;  echo_location /api/flaky n=2;
        echo_location /api/flaky n=3;  echo_location /api/flaky n=4;
        echo_location /api/flaky n=5;  echo_location /api/flaky n=6;
        echo_location /api/flaky n=7;  echo_location /api/flaky n=8;
        echo_location /api/flaky n=9;  echo_location /api/flaky n=10;
        echo_location /api/flaky n=11; echo_location /api/flaky n=12;
        echo_location /api/flaky n=13; echo_location /api/flaky n=14;
        echo_location /api/flaky n=15; echo_location /api/flaky n=16;
        echo_location /api/ok n=17; echo_location /api/ok n=18;
        echo_location /api/ok n=19; echo_location /api/ok n=20;
        echo_location /api/ok n=21; echo_location /api/ok n=22;
        echo_location /api/ok n=23; echo_location /api/ok n=24;
        echo_location /api/ok n=25; echo_location /api/ok n=26;
        echo_location /api/ok n=27; echo_location /api/ok n=28;
    }
--- request
GET /scan
--- response_body_like eval
# b1 fails at most once among the /flaky ones (then it is open)
qr/\A(?:b[23]\n)*(?:<html>.*?<\/html>\r\n)(?:b[23]\n){12,}\z/s
--- access_log
b1 /flaky
--- no_access_log
b1 /ok
--- error_log
opened: 1 consecutive failures



=== TEST 7: keepalive after gw_breaker: connections are cached only to peers the breaker lets through
--- http_config
    log_format backend '$server_name $request_uri $status $connection_requests';

    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        gw_breaker failures=1;
        keepalive 8;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server_name b1;
        access_log logs/access.log backend;
        location /ok    { return 200 "b1\n"; }
        location /flaky { return 502; }
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        server_name b2;
        access_log logs/access.log backend;
        location /ok    { return 200 "b2\n"; }
        location /flaky { return 200 "b2\n"; }
    }
--- config
    location /api/ {
        proxy_pass http://backends/;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_next_upstream off;
    }
--- pipelined_requests eval
["GET /api/ok?n=1", "GET /api/ok?n=2", "GET /api/ok?n=3",
 "GET /api/ok?n=4", "GET /api/flaky?n=5", "GET /api/ok?n=6",
 "GET /api/ok?n=7", "GET /api/ok?n=8", "GET /api/ok?n=9"]
--- error_code eval
[200, 200, 200, 200, 502, 200, 200, 200, 200]
--- response_body_like eval
["^b1\n\\z", "^b2\n\\z", "^b1\n\\z", "^b2\n\\z", "502 Bad Gateway",
 "^b2\n\\z", "^b2\n\\z", "^b2\n\\z", "^b2\n\\z"]
--- access_log
b1 /ok?n=3 200 2
b2 /ok?n=9 200 6
--- no_access_log eval
[qr/^b1 \/ok\?n=[6-9]/m]



=== TEST 8: keepalive before gw_breaker: a cached connection to a peer that opened is closed, not used
--- http_config
    log_format backend '$server_name $request_uri $status $connection_requests';

    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        keepalive 8;
        gw_breaker failures=1;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server_name b1;
        access_log logs/access.log backend;
        location /ok    { return 200 "b1\n"; }
        location /flaky { return 502; }
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        server_name b2;
        access_log logs/access.log backend;
        location /ok    { return 200 "b2\n"; }
        location /flaky { return 200 "b2\n"; }
    }
--- config
    location /api/ {
        proxy_pass http://backends/;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_next_upstream off;
    }
--- pipelined_requests eval
["GET /api/ok?n=1", "GET /api/ok?n=2", "GET /api/ok?n=3",
 "GET /api/ok?n=4", "GET /api/flaky?n=5", "GET /api/ok?n=6",
 "GET /api/ok?n=7", "GET /api/ok?n=8", "GET /api/ok?n=9"]
--- error_code eval
[200, 200, 200, 200, 502, 200, 200, 200, 200]
--- response_body_like eval
["^b1\n\\z", "^b2\n\\z", "^b1\n\\z", "^b2\n\\z", "502 Bad Gateway",
 "^b2\n\\z", "^b2\n\\z", "^b2\n\\z", "^b2\n\\z"]
--- access_log
b1 /ok?n=3 200 2
b2 /ok?n=9 200 6
--- no_access_log eval
[qr/^b1 \/ok\?n=[6-9]/m]
