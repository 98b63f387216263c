# $gw_upstream_score: the cost of the peer chosen, at the moment it was
# chosen.  least_time: the average time in microseconds (at least 1000)
# times (active requests + 1), divided by the weight; least_bandwidth: the
# bytes of the window divided by the weight; empty when no gw balancer
# chose the peer.

use Test::Nginx::Socket 'no_plan';

no_shuffle();
run_tests();

__DATA__

=== TEST 1: header mode: 0 for a peer never tried, then its time to the header in microseconds (about 100000 for 100 ms)
--- skip_eval: 8: $ENV{TEST_NGINX_USE_VALGRIND}
--- http_config
    upstream u {
        gw_least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { echo_sleep 0.1; echo -n s; }
    }
--- config
    location /p/ {
        proxy_pass http://u/;
        add_header X-Score $gw_upstream_score;
    }
--- request eval
["GET /p/1", "GET /p/2"]
--- response_headers_like eval
["X-Score: 0", "X-Score: (?:9[5-9]|1[0-9][0-9])[0-9]{3}"]
--- response_body eval
["s", "s"]
--- no_error_log
[error]



=== TEST 2: a peer faster than a millisecond scores 1000 (nginx measures in milliseconds; decay=10ms forgets a slower first connection)
--- http_config
    upstream u {
        gw_least_time header decay=10ms;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { echo -n f; }
    }
--- config
    location /p/ {
        proxy_pass http://u/;
        add_header X-Score $gw_upstream_score;
    }
--- request eval
["GET /p/1", "GET /p/2", "GET /p/3"]
--- response_headers eval
["X-Score: 0", "X-Score: 1000", "X-Score: 1000"]
--- no_error_log
[error]



=== TEST 3: the score is divided by the weight: 100 ms with weight=4 scores about 25000
--- skip_eval: 6: $ENV{TEST_NGINX_USE_VALGRIND}
--- http_config
    upstream u {
        gw_least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1 weight=4;
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { echo_sleep 0.1; echo -n s; }
    }
--- config
    location /p/ {
        proxy_pass http://u/;
        add_header X-Score $gw_upstream_score;
    }
--- request eval
["GET /p/1", "GET /p/2"]
--- response_headers_like eval
["X-Score: 0", "X-Score: 2[4-9][0-9]{3}"]
--- no_error_log
[error]



=== TEST 4: least_bandwidth: the bytes of the window (request and response) divided by the weight
--- http_config
    upstream u {
        gw_least_bandwidth;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1 weight=2;
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { echo_duplicate 10000 "x"; }
    }
--- config
    location /p/ {
        proxy_pass http://u/;
        add_header X-Score $gw_upstream_score;
    }
--- request eval
["GET /p/1", "GET /p/2", "GET /p/3"]
--- response_headers_like eval
["X-Score: 0", "X-Score: 5[01][0-9]{2}", "X-Score: 10[0-9]{3}"]
--- no_error_log
[error]



=== TEST 5: empty for an upstream of another balancer, for a proxy_pass to an address and without any upstream
--- http_config
    upstream rr {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
    upstream lc {
        least_conn;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { echo -n ok; }
    }
--- config
    location /rr/ {
        proxy_pass http://rr/;
        add_header X-Score "[$gw_upstream_score]";
    }
    location /lc/ {
        proxy_pass http://lc/;
        add_header X-Score "[$gw_upstream_score]";
    }
    location /addr/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/;
        add_header X-Score "[$gw_upstream_score]";
    }
    location = /none {
        add_header X-Score "[$gw_upstream_score]";
        return 200 "ok";
    }
--- request eval
["GET /rr/", "GET /lc/", "GET /addr/", "GET /none"]
--- response_headers eval
["X-Score: []", "X-Score: []", "X-Score: []", "X-Score: []"]
--- response_body eval
["ok", "ok", "ok", "ok"]



=== TEST 6: empty when no peer could be chosen (every peer down: 502 "no live upstreams")
--- http_config
    upstream u {
        gw_least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1 down;
    }
--- config
    location /p/ {
        proxy_pass http://u/;
        add_header X-Score "[$gw_upstream_score]" always;
    }
--- request
GET /p/
--- error_code: 502
--- response_headers
X-Score: []
--- error_log
no live upstreams while connecting to upstream



=== TEST 7: a subrequest that proxies to the upstream has its own score (access log of subrequests)
--- http_config
    upstream u {
        gw_least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { echo -n f; }
    }
    log_format score "score $uri [$gw_upstream_score]";
--- config
    location = /t {
        echo_location /p/1;
        echo_location /p/2;
        echo_location /p/3;
    }
    location /p/ {
        log_subrequest on;
        access_log logs/access.log score;
        proxy_pass http://u/;
    }
--- request
GET /t
--- response_body chomp
fff
--- access_log eval
[qr{^score /p/1 \[0\]$}, qr{^score /p/2 \[[1-9][0-9]{3,}\]$},
 qr{^score /p/3 \[[1-9][0-9]{3,}\]$}]
--- no_error_log
[error]
