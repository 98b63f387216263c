# gw_breaker failure_rate=: the share of failed requests over a sliding
# window opens a peer's breaker, once the window holds min_requests requests.
#
# One backend, b1, on $TEST_NGINX_RAND_PORT_1: /ok answers 200, /fail 502;
# it logs "b1 <uri> <status>" to access.log.  /pause?s=N (echo_sleep) lets
# time pass between pipelined requests, which nginx serves in order.

use Test::Nginx::Socket 'no_plan';

check_accum_error_log();
no_shuffle();
run_tests();

__DATA__

=== TEST 1: failure_rate=50 min_requests=4: three failures of three stay closed (too few requests); the fourth request counts, and 4 failures of 5 open it
--- http_config
    log_format backend '$server_name $request_uri $status';

    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker failure_rate=50 min_requests=4;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server_name b1;
        access_log logs/access.log backend;
        location /ok   { return 200 "b1\n"; }
        location /fail { return 502; }
    }
--- config
    location /api/ {
        proxy_pass http://backends/;
        proxy_next_upstream off;
    }
--- pipelined_requests eval
["GET /api/fail?n=1", "GET /api/fail?n=2", "GET /api/fail?n=3",
 "GET /api/ok?n=4", "GET /api/fail?n=5", "GET /api/ok?n=6"]
--- error_code eval
[502, 502, 502, 200, 502, 503]
--- response_headers_like eval
["Retry-After:", "Retry-After:", "Retry-After:", "Retry-After:",
 "Retry-After:", "Retry-After: (29|30)"]
--- access_log
b1 /ok?n=4 200
--- no_access_log
b1 /ok?n=6
--- error_log eval
qr/\[warn\] .*gw_breaker: peer 127\.0\.0\.1:\d+ of upstream "backends" opened: failure rate 80% over 5 requests, next probe in 30000 ms/
--- grep_error_log eval
qr/gw_breaker: peer \S+ of upstream "backends" opened/
--- grep_error_log_out eval
qr/\A(gw_breaker: peer 127\.0\.0\.1:\d+ of upstream "backends" opened\n)\z/



=== TEST 2: 40% stays closed, 50% (= failure_rate) opens
--- http_config
    log_format backend '$server_name $request_uri $status';

    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker failure_rate=50 min_requests=4;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server_name b1;
        access_log logs/access.log backend;
        location /ok   { return 200 "b1\n"; }
        location /fail { return 502; }
    }
--- config
    location /api/ {
        proxy_pass http://backends/;
        proxy_next_upstream off;
    }
--- pipelined_requests eval
["GET /api/ok?n=1", "GET /api/ok?n=2", "GET /api/fail?n=3",
 "GET /api/ok?n=4", "GET /api/fail?n=5", "GET /api/ok?n=6",
 "GET /api/fail?n=7", "GET /api/fail?n=8", "GET /api/ok?n=9"]
--- error_code eval
[200, 200, 502, 200, 502, 200, 502, 502, 503]
--- access_log
b1 /ok?n=6 200
b1 /fail?n=8 502
--- no_access_log
b1 /ok?n=9
--- error_log eval
qr/opened: failure rate 50% over 8 requests, next probe in 30000 ms/
--- grep_error_log eval
qr/gw_breaker: peer \S+ of upstream "backends" opened/
--- grep_error_log_out eval
qr/\A(gw_breaker: peer 127\.0\.0\.1:\d+ of upstream "backends" opened\n)\z/



=== TEST 3: only failure_rate= given: the consecutive trigger is off, six failures in a row (more than the default 5) do not open it
--- http_config
    log_format backend '$server_name $request_uri $status';

    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker failure_rate=90 min_requests=8;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server_name b1;
        access_log logs/access.log backend;
        location /ok   { return 200 "b1\n"; }
        location /fail { return 502; }
    }
--- config
    location /api/ {
        proxy_pass http://backends/;
        proxy_next_upstream off;
    }
--- pipelined_requests eval
[(map { "GET /api/fail?n=$_" } 1 .. 6), "GET /api/ok?n=7",
 "GET /api/fail?n=8", "GET /api/ok?n=9"]
--- error_code eval
[(502) x 6, 200, 502, 200]
--- access_log
b1 /ok?n=7 200
b1 /ok?n=9 200
--- no_error_log
gw_breaker: peer



=== TEST 4: failures= and failure_rate= together: either trigger opens it (here the consecutive one)
--- http_config
    log_format backend '$server_name $request_uri $status';

    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker failures=3 failure_rate=90 min_requests=20;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server_name b1;
        access_log logs/access.log backend;
        location /ok   { return 200 "b1\n"; }
        location /fail { return 502; }
    }
--- config
    location /api/ {
        proxy_pass http://backends/;
        proxy_next_upstream off;
    }
--- pipelined_requests eval
["GET /api/fail?n=1", "GET /api/fail?n=2", "GET /api/fail?n=3",
 "GET /api/ok?n=4"]
--- error_code eval
[502, 502, 502, 503]
--- no_access_log
b1 /ok?n=4
--- error_log
opened: 3 consecutive failures, next probe in 30000 ms



=== TEST 5: failures= and failure_rate= together: either trigger opens it (here the rate, without three failures in a row)
--- http_config
    log_format backend '$server_name $request_uri $status';

    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker failures=3 failure_rate=50 min_requests=6;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server_name b1;
        access_log logs/access.log backend;
        location /ok   { return 200 "b1\n"; }
        location /fail { return 502; }
    }
--- config
    location /api/ {
        proxy_pass http://backends/;
        proxy_next_upstream off;
    }
--- pipelined_requests eval
["GET /api/fail?n=1", "GET /api/fail?n=2", "GET /api/ok?n=3",
 "GET /api/fail?n=4", "GET /api/ok?n=5", "GET /api/fail?n=6",
 "GET /api/ok?n=7"]
--- error_code eval
[502, 502, 200, 502, 200, 502, 503]
--- no_access_log
b1 /ok?n=7
--- error_log
opened: failure rate 66% over 6 requests, next probe in 30000 ms



=== TEST 6: old failures slide out of the window: after window=1s, three old failures no longer count
--- http_config
    log_format backend '$server_name $request_uri $status';

    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker failure_rate=50 min_requests=4 window=1s;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server_name b1;
        access_log logs/access.log backend;
        location /ok   { return 200 "b1\n"; }
        location /fail { return 502; }
    }
--- config
    location /api/ {
        proxy_pass http://backends/;
        proxy_next_upstream off;
    }
    location = /pause {
        echo_sleep $arg_s;
        echo paused;
    }
--- pipelined_requests eval
["GET /api/fail?n=1", "GET /api/fail?n=2", "GET /api/fail?n=3",
 "GET /pause?s=1.3",
 # 1 failure of 2 in the window; with the old three it would be 4 of 5
 "GET /api/ok?n=5", "GET /api/fail?n=6", "GET /api/ok?n=7",
 # 2 of 4 in the window
 "GET /api/fail?n=8", "GET /api/ok?n=9"]
--- error_code eval
[502, 502, 502, 200, 200, 502, 200, 502, 503]
--- access_log
b1 /ok?n=7 200
--- no_access_log
b1 /ok?n=9
--- error_log
opened: failure rate 50% over 4 requests
--- grep_error_log eval
qr/gw_breaker: peer \S+ of upstream "backends" opened/
--- grep_error_log_out eval
qr/\A(gw_breaker: peer 127\.0\.0\.1:\d+ of upstream "backends" opened\n)\z/
--- timeout: 5



=== TEST 7: the window counts requests of the last window only, also while failures keep coming: one failure per 400 ms with window=1s never reaches min_requests=4
--- http_config
    log_format backend '$server_name $request_uri $status';

    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker failure_rate=50 min_requests=4 window=1s;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server_name b1;
        access_log logs/access.log backend;
        location /ok   { return 200 "b1\n"; }
        location /fail { return 502; }
    }
--- config
    location /api/ {
        proxy_pass http://backends/;
        proxy_next_upstream off;
    }
    location = /pause {
        echo_sleep $arg_s;
        echo paused;
    }
--- pipelined_requests eval
[(map { ("GET /api/fail?n=$_", "GET /pause?s=0.4") } 1 .. 5),
 "GET /api/ok?n=6"]
--- error_code eval
[(502, 200) x 5, 200]
--- access_log
b1 /ok?n=6 200
--- no_error_log
gw_breaker: peer
--- timeout: 5
