# gw_least_time header: the peer with the shorter time to the response
# header ($upstream_header_time) takes the traffic.  Backends answer with
# one letter; the location /t asks the upstream 20 times in a row
# (echo_location: one subrequest after the other, so no request is ever in
# flight when the next peer is picked) and the body lists who answered.

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

no_shuffle();
run_tests();

__DATA__

=== TEST 1: the peer with the faster header takes the traffic: the slow one (50 ms) answers at most twice of 20
--- http_config
    upstream u {
        gw_least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
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
--- no_error_log
[error]



=== TEST 2: the same with the slow peer listed second
--- skip_eval: 3: $ENV{TEST_NGINX_USE_VALGRIND}
--- http_config
    upstream u {
        gw_least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
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
--- no_error_log
[error]



=== TEST 3: a peer that sends its header at once and its body 200 ms later beats a peer whose header takes 50 ms: only the header counts
--- http_config
    upstream u {
        gw_least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { echo_sleep 0.05; echo -n h; }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        location / { echo -n b; echo_flush; echo_sleep 0.2; echo -n "."; }
    }
--- config
    location = /t {
        echo_location /p/1; echo_location /p/2; echo_location /p/3;
        echo_location /p/4; echo_location /p/5; echo_location /p/6;
        echo_location /p/7; echo_location /p/8; echo_location /p/9;
        echo_location /p/10;
    }
    location /p/ {
        proxy_pass http://u/;
    }
--- request
GET /t
--- response_body_like: ^(?=(?:h|b\.){10}$)(?:b\.)*(?:h(?:b\.)*){0,2}$
--- timeout: 10
--- no_error_log
[error]



=== TEST 4: three peers of 100 ms, 30 ms and 0 ms: the fastest answers most, the slowest at most twice
--- http_config
    upstream u {
        gw_least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_3;
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { echo_sleep 0.1; echo -n s; }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        location / { echo_sleep 0.03; echo -n m; }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_3;
        location / { echo -n f; }
    }
--- config eval
$main::twenty . <<'_EOC_';
    location /p/ {
        proxy_pass http://u/;
    }
_EOC_
--- request eval
["GET /t", "GET /t"]
--- response_body_like eval
[main::answers(20, 's', 0, 2), main::answers(20, 'f', 20, 20)]
--- no_error_log
[error]



=== TEST 5: a peer never tried yet costs nothing: each peer is tried once before the figures decide
--- http_config
    upstream u {
        gw_least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_3;
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { echo_sleep 0.03; echo -n a; }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        location / { echo_sleep 0.03; echo -n b; }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_3;
        location / { echo -n c; }
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
abccc
--- no_error_log
[error]



=== TEST 6: peers equally fast (below 1 ms, all counted as 1 ms) share the traffic in turn (decay=1ms: a header late by a hiccup of the machine is soon forgotten)
--- http_config
    upstream u {
        gw_least_time header decay=1ms;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { echo -n a; }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        location / { echo -n b; }
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
main::answers(20, 'a', 5, 15)
--- no_error_log
[error]



=== TEST 7: the choice is per upstream: two upstreams over the same two peers, each with its own figures
--- http_config
    upstream u1 {
        gw_least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    }
    upstream u2 {
        gw_least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location /one/ { echo_sleep 0.1; echo -n a; }
        location /two/ { echo -n a; }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        location /one/ { echo -n b; }
        location /two/ { echo_sleep 0.1; echo -n b; }
    }
--- config
    location = /t {
        echo_location /1/x; echo_location /1/x; echo_location /1/x;
        echo_location /1/x; echo_location /1/x; echo_location /1/x;
        echo "";
        echo_location /2/x; echo_location /2/x; echo_location /2/x;
        echo_location /2/x; echo_location /2/x; echo_location /2/x;
        echo "";
    }
    location /1/ {
        proxy_pass http://u1/one/;
    }
    location /2/ {
        proxy_pass http://u2/two/;
    }
--- request
GET /t
--- response_body_like: ^(?=[ab]{6}\n[ab]{6}\n$)b*ab*(?:ab*)?\na*ba*(?:ba*)?\n$
--- no_error_log
[error]
