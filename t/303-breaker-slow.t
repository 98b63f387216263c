# gw_breaker slow=: a response slower than this, from the pick of the peer
# to the end of the response, counts as a failure (the client still gets it).
#
# b1 on $TEST_NGINX_RAND_PORT_1: /ok answers at once, /slow after 300 ms,
# /slowbody sends its header at once and ends its body after 300 ms.  It
# logs "b1 <uri> <status>" to access.log.

use Test::Nginx::Socket 'no_plan';

check_accum_error_log();
no_shuffle();
run_tests();

__DATA__

=== TEST 1: slow=150ms: two 300 ms answers open the breaker (failures=2), though both reached the client as 200
--- http_config
    log_format backend '$server_name $request_uri $status';

    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker failures=2 slow=150ms;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server_name b1;
        access_log logs/access.log backend;
        location /ok   { return 200 "b1\n"; }
        location /slow { echo_sleep 0.3; echo "b1 slow"; }
    }
--- config
    location /api/ {
        proxy_pass http://backends/;
        proxy_next_upstream off;
    }
--- pipelined_requests eval
["GET /api/slow?n=1", "GET /api/slow?n=2", "GET /api/ok?n=3"]
--- error_code eval
[200, 200, 503]
--- response_body_like eval
[qr/^b1 slow\n\z/, qr/^b1 slow\n\z/, qr/503 Service Temporarily Unavailable/]
--- no_access_log
b1 /ok?n=3
--- error_log
opened: 2 consecutive failures, next probe in 30000 ms
--- timeout: 5



=== TEST 2: without slow=, slow answers are successes
--- http_config
    log_format backend '$server_name $request_uri $status';

    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker failures=2;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server_name b1;
        access_log logs/access.log backend;
        location /ok   { return 200 "b1\n"; }
        location /slow { echo_sleep 0.3; echo "b1 slow"; }
    }
--- config
    location /api/ {
        proxy_pass http://backends/;
        proxy_next_upstream off;
    }
--- pipelined_requests eval
["GET /api/slow?n=1", "GET /api/slow?n=2", "GET /api/slow?n=3",
 "GET /api/ok?n=4"]
--- error_code eval
[200, 200, 200, 200]
--- access_log
b1 /ok?n=4 200
--- no_error_log
gw_breaker: peer
--- timeout: 5



=== TEST 3: slow=1s: 300 ms answers are under the limit and count as successes
--- http_config
    log_format backend '$server_name $request_uri $status';

    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker failures=2 slow=1s;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server_name b1;
        access_log logs/access.log backend;
        location /ok   { return 200 "b1\n"; }
        location /slow { echo_sleep 0.3; echo "b1 slow"; }
    }
--- config
    location /api/ {
        proxy_pass http://backends/;
        proxy_next_upstream off;
    }
--- pipelined_requests eval
["GET /api/slow?n=1", "GET /api/slow?n=2", "GET /api/slow?n=3",
 "GET /api/ok?n=4"]
--- error_code eval
[200, 200, 200, 200]
--- access_log
b1 /ok?n=4 200
--- no_error_log
gw_breaker: peer
--- timeout: 5



=== TEST 4: the time runs to the end of the response: a header sent at once with a body that ends 300 ms later is slow
--- http_config
    log_format backend '$server_name $request_uri $status';

    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker failures=2 slow=150ms;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server_name b1;
        access_log logs/access.log backend;
        location /ok { return 200 "b1\n"; }
        location /slowbody {
            echo "start";
            echo_flush;
            echo_sleep 0.3;
            echo "end";
        }
    }
--- config
    location /api/ {
        proxy_pass http://backends/;
        proxy_next_upstream off;
    }
--- pipelined_requests eval
["GET /api/slowbody?n=1", "GET /api/slowbody?n=2", "GET /api/ok?n=3"]
--- error_code eval
[200, 200, 503]
--- response_body_like eval
[qr/^start\nend\n\z/, qr/^start\nend\n\z/, qr/503 Service Temporarily Unavailable/]
--- no_access_log
b1 /ok?n=3
--- error_log
opened: 2 consecutive failures
--- timeout: 5



=== TEST 5: a slow probe is a failed probe: it re-opens the breaker for twice the open time
--- http_config
    log_format backend '$server_name $request_uri $status';

    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker failures=1 slow=150ms open=1s;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server_name b1;
        access_log logs/access.log backend;
        location /ok   { return 200 "b1\n"; }
        location /slow { echo_sleep 0.3; echo "b1 slow"; }
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
["GET /api/slow?n=1", "GET /pause?s=1.1", "GET /api/slow?n=3",
 "GET /api/ok?n=4"]
--- error_code eval
[200, 200, 200, 503]
--- response_headers_like eval
["Retry-After:", "Retry-After:", "Retry-After:", "Retry-After: 2"]
--- access_log
b1 /slow?n=3 200
--- no_access_log
b1 /ok?n=4
--- grep_error_log eval
qr/gw_breaker: peer \S+ of upstream "backends" [^,]+/
--- grep_error_log_out eval
qr/\Agw_breaker: peer 127\.0\.0\.1:\d+ of upstream "backends" opened: 1 consecutive failures
gw_breaker: peer 127\.0\.0\.1:\d+ of upstream "backends" half-open: open time over
gw_breaker: peer 127\.0\.0\.1:\d+ of upstream "backends" opened: probe failed
\z/
--- error_log
opened: probe failed, next probe in 2000 ms
--- timeout: 5
