# gw_least_time with nginx's peer parameters and retries: weight, down,
# backup, max_fails/fail_timeout, max_conns, proxy_next_upstream and
# "no live upstreams".  Backends answer with one letter; /t asks the
# upstream several times in a row and the body lists who answered.
# $TEST_NGINX_RAND_PORT_5 is a port where nothing listens (a dead peer).

use Test::Nginx::Socket 'no_plan';

# A body of $n one-letter answers in which $peer answered between $min and
# $max times.
sub answers {
    my ($n, $peer, $min, $max) = @_;
    my $other = "[^$peer]";
    return qr/^(?=[a-z]{$n}$)$other*(?:$peer$other*){$min,$max}$/;
}

our $twenty = "location = /t {\n"
              . ("    echo_location /p\$uri;\n" x 20)
              . "}\n";

sub addr { "127.0.0.1:" . $ENV{"TEST_NGINX_RAND_PORT_$_[0]"} }

no_shuffle();
run_tests();

__DATA__

=== TEST 1: weight divides the cost: of two peers equally slow (20 ms), the one with weight=3 takes nearly every request made one at a time
--- http_config
    upstream u {
        gw_least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2 weight=3;
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { echo_sleep 0.02; echo -n a; }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        location / { echo_sleep 0.02; echo -n h; }
    }
--- config eval
$main::twenty . <<'_EOC_';
    location /p/ {
        proxy_pass http://u/;
    }
_EOC_
--- request
GET /t
--- response_body_like eval
main::answers(20, 'h', 17, 20)
--- no_error_log
[error]



=== TEST 2: weight=20 outweighs a slower time: a 5 ms peer with weight=20 beats a fast peer of weight 1
--- http_config
    upstream u {
        gw_least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2 weight=20;
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { echo -n f; }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        location / { echo_sleep 0.005; echo -n h; }
    }
--- config eval
$main::twenty . <<'_EOC_';
    location /p/ {
        proxy_pass http://u/;
    }
_EOC_
--- request
GET /t
--- response_body_like eval
main::answers(20, 'h', 17, 20)
--- no_error_log
[error]



=== TEST 3: a peer marked down gets nothing, although it is the fastest
--- http_config
    upstream u {
        gw_least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1 down;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { echo -n d; }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        location / { echo_sleep 0.02; echo -n s; }
    }
--- config
    location = /t {
        echo_location /p/1; echo_location /p/2; echo_location /p/3;
        echo_location /p/4; echo_location /p/5;
        echo "";
    }
    location /p/ {
        proxy_pass http://u/;
    }
--- request
GET /t
--- response_body
sssss
--- no_error_log
[error]



=== TEST 4: a backup peer gets nothing while a primary one is usable, although it is faster
--- http_config
    upstream u {
        gw_least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2 backup;
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { echo_sleep 0.02; echo -n p; }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        location / { echo -n b; }
    }
--- config
    location = /t {
        echo_location /p/1; echo_location /p/2; echo_location /p/3;
        echo_location /p/4; echo_location /p/5;
        echo "";
    }
    location /p/ {
        proxy_pass http://u/;
    }
--- request
GET /t
--- response_body
ppppp
--- no_error_log
[error]



=== TEST 5: backup peers take over when every primary is dead, and the faster backup takes their traffic
--- http_config
    upstream u {
        gw_least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_5;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1 backup;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2 backup;
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { echo_sleep 0.05; echo -n s; }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        location / { echo -n f; }
    }
--- config eval
$main::twenty . <<'_EOC_';
    location /p/ {
        proxy_pass http://u/;
    }
_EOC_
--- request
GET /t
--- response_body_like eval
main::answers(20, 's', 0, 2)
--- error_log
connect() failed (111: Connection refused)



=== TEST 6: backup peers take over when every primary is down
--- http_config
    upstream u {
        gw_least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1 down;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2 backup;
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { echo -n d; }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        location / { echo -n b; }
    }
--- config
    location = /t {
        echo_location /p/1; echo_location /p/2; echo_location /p/3;
        echo "";
    }
    location /p/ {
        proxy_pass http://u/;
    }
--- request
GET /t
--- response_body
bbb
--- no_error_log
[error]



=== TEST 7: a dead peer, never tried, is tried first; the request is retried on another peer; then max_fails=1 keeps the dead peer out for fail_timeout
--- http_config
    upstream u {
        gw_least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_5;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { echo -n "a"; }
    }
--- config
    location /p/ {
        proxy_pass http://u/;
        add_header X-Upstream $upstream_addr;
    }
--- request eval
[ map { "GET /p/$_" } 1 .. 4 ]
--- response_headers eval
[ "X-Upstream: " . main::addr(5) . ", " . main::addr(1),
  ("X-Upstream: " . main::addr(1)) x 3 ]
--- response_body eval
["a", "a", "a", "a"]



=== TEST 8: a retry goes to a peer not tried yet: two dead peers and a live one, every request answered after at most three attempts, never the same peer twice
--- http_config
    upstream u {
        gw_least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_5 max_fails=0;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_4 max_fails=0;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1 max_fails=0;
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { echo -n "a"; }
    }
--- config
    location /p/ {
        proxy_pass http://u/;
        add_header X-Upstream $upstream_addr;
    }
--- request eval
[ map { "GET /p/$_" } 1 .. 4 ]
--- response_headers_like eval
[ map { "X-Upstream: (?!.*(127[^,]+), .*\\1(?!\\d))(?:127\\.0\\.0\\.1:\\d+, ){0,2}"
        . main::addr(1) } 1 .. 4 ]
--- response_body eval
["a", "a", "a", "a"]



=== TEST 9: a peer answering 503 is passed over with proxy_next_upstream http_503, and max_fails keeps it out afterwards
--- http_config
    upstream u {
        gw_least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { return 503; }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        location / { echo -n "b"; }
    }
--- config
    location /p/ {
        proxy_pass http://u/;
        proxy_next_upstream error timeout http_503;
        add_header X-Status $upstream_status;
    }
--- request eval
[ map { "GET /p/$_" } 1 .. 4 ]
--- response_headers eval
["X-Status: 503, 200", "X-Status: 200", "X-Status: 200", "X-Status: 200"]
--- response_body eval
["b", "b", "b", "b"]
--- no_error_log
[error]



=== TEST 10: every peer dead: 502 after trying each once, then "no live upstreams" while max_fails keeps them out
--- http_config
    upstream u {
        gw_least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_5;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_4;
    }
--- config
    location /p/ {
        proxy_pass http://u/;
        add_header X-Upstream $upstream_addr always;
    }
--- request eval
["GET /p/1", "GET /p/2"]
--- error_code eval
[502, 502]
--- response_headers eval
[ "X-Upstream: " . main::addr(5) . ", " . main::addr(4), "X-Upstream: u" ]
--- error_log eval
[qr/connect\(\) failed \(111: Connection refused\)|no live upstreams while connecting to upstream/]



=== TEST 11: a time-out is a sample: a peer that hangs (read timeout 200 ms, max_fails=0) looks slow afterwards and is left alone, so later requests are fast
--- http_config
    upstream u {
        gw_least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1 max_fails=0;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2 max_fails=0;
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { echo_sleep 1; echo -n "h"; }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        location / { echo_sleep 0.02; echo -n "b"; }
    }
--- config
    location /p/ {
        proxy_pass http://u/;
        proxy_read_timeout 200ms;
        add_header X-Upstream $upstream_addr;
    }
--- request eval
[ map { "GET /p/$_" } 1 .. 5 ]
--- response_headers eval
[ "X-Upstream: " . main::addr(1) . ", " . main::addr(2),
  ("X-Upstream: " . main::addr(2)) x 4 ]
--- response_body eval
["b", "b", "b", "b", "b"]



=== TEST 12: max_conns=1: of four requests in flight at once, the peer with max_conns takes only one
--- http_config
    upstream u {
        gw_least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1 max_conns=1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { echo_sleep 0.2; echo -n "m"; }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        location / { echo_sleep 0.2; echo -n "o"; }
    }
--- config
    location = /t {
        echo_location_async /p/1; echo_location_async /p/2;
        echo_location_async /p/3; echo_location_async /p/4;
    }
    location /p/ {
        proxy_pass http://u/;
    }
--- request
GET /t
--- response_body_like eval
main::answers(4, 'm', 1, 1)
--- no_error_log
[error]



=== TEST 13: without max_conns the same four requests are spread over both peers (requests in flight count)
--- http_config
    upstream u {
        gw_least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { echo_sleep 0.2; echo -n "m"; }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        location / { echo_sleep 0.2; echo -n "o"; }
    }
--- config
    location = /t {
        echo_location /p/0;
        echo_location /p/0;
        echo_location_async /p/1; echo_location_async /p/2;
        echo_location_async /p/3; echo_location_async /p/4;
    }
    location /p/ {
        proxy_pass http://u/;
    }
--- request
GET /t
--- response_body_like: ^(?:mo|om)(?=[mo]{4}$)[^m]*(?:m[^m]*){2}$
--- no_error_log
[error]
