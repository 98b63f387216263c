# gw_breaker: consecutive failures open a peer's breaker.
#
# Backends are extra servers on $TEST_NGINX_RAND_PORT_n where the URI decides
# the answer (/ok: 200 with the backend's name, /fail: 502), each logging to
# access.log as "<name> <uri> <status>", so the log shows which requests
# reached which backend.  The gateway proxies /api/ to the upstream with
# "proxy_next_upstream off", so that every failure reaches the client.
# Requests of a block are pipelined on one connection (nginx serves them in
# order) so that the error log checks see the whole sequence.

use Test::Nginx::Socket 'no_plan';

check_accum_error_log();
no_shuffle();
run_tests();

__DATA__

=== TEST 1: three consecutive 502s open the breaker; the next request fails fast (503, Retry-After) and reaches no backend
--- http_config
    log_format backend '$server_name $request_uri $status';

    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker failures=3 open=30s;
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
 "GET /api/ok?n=4", "GET /api/ok?n=5"]
--- error_code eval
[502, 502, 502, 503, 503]
--- response_headers_like eval
["Retry-After:", "Retry-After:", "Retry-After:",
 "Retry-After: (29|30)", "Retry-After: (29|30)"]
--- response_body_like eval
[qr/502 Bad Gateway/, qr/502 Bad Gateway/, qr/502 Bad Gateway/,
 qr{<title>503 Service Temporarily Unavailable</title>},
 qr{<title>503 Service Temporarily Unavailable</title>}]
--- access_log
b1 /fail?n=1 502
b1 /fail?n=2 502
b1 /fail?n=3 502
--- no_access_log
b1 /ok
--- error_log eval
[qr/\[warn\] .*gw_breaker: peer 127\.0\.0\.1:\d+ of upstream "backends" opened: 3 consecutive failures, next probe in 30000 ms/,
 qr/\[info\] .*gw_breaker: every peer of upstream "backends" is open, failing fast/]



=== TEST 2: two failures stay below failures=3: the breaker stays closed
--- http_config
    log_format backend '$server_name $request_uri $status';

    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker failures=3 open=30s;
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
["GET /api/fail?n=1", "GET /api/fail?n=2", "GET /api/ok?n=3"]
--- error_code eval
[502, 502, 200]
--- response_body_like eval
[qr/502 Bad Gateway/, qr/502 Bad Gateway/, qr/^b1\n\z/]
--- access_log
b1 /ok?n=3 200
--- no_error_log
gw_breaker: peer
failing fast



=== TEST 3: a success resets the count: the breaker opens on the third failure in a row, not on the third in all
--- http_config
    log_format backend '$server_name $request_uri $status';

    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker failures=3 open=30s;
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
 "GET /api/fail?n=4", "GET /api/fail?n=5", "GET /api/fail?n=6",
 "GET /api/ok?n=7"]
--- error_code eval
[502, 502, 200, 502, 502, 502, 503]
--- access_log
b1 /fail?n=6 502
--- no_access_log
b1 /ok?n=7
--- error_log eval
qr/gw_breaker: peer 127\.0\.0\.1:\d+ of upstream "backends" opened: 3 consecutive failures/
--- grep_error_log eval
qr/gw_breaker: peer \S+ of upstream "backends" opened/
--- grep_error_log_out eval
qr/\A(gw_breaker: peer 127\.0\.0\.1:\d+ of upstream "backends" opened\n)\z/



=== TEST 4: without parameters: five consecutive failures open it, for 30 seconds
--- http_config
    log_format backend '$server_name $request_uri $status';

    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker;
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
 "GET /api/fail?n=4", "GET /api/ok?n=5", "GET /api/fail?n=6",
 "GET /api/fail?n=7", "GET /api/fail?n=8", "GET /api/fail?n=9",
 "GET /api/fail?n=10", "GET /api/ok?n=11"]
--- error_code eval
[502, 502, 502, 502, 200, 502, 502, 502, 502, 502, 503]
--- response_headers_like eval
["Retry-After:", "Retry-After:", "Retry-After:", "Retry-After:",
 "Retry-After:", "Retry-After:", "Retry-After:", "Retry-After:",
 "Retry-After:", "Retry-After:", "Retry-After: (29|30)"]
--- no_access_log
b1 /ok?n=11
--- error_log eval
qr/gw_breaker: peer 127\.0\.0\.1:\d+ of upstream "backends" opened: 5 consecutive failures, next probe in 30000 ms/



=== TEST 5: failures are counted per peer: b2's successes in between do not reset b1's count; once b1 is open, b2 takes every request and nobody gets a 503
--- http_config
    log_format backend '$server_name $request_uri $status';

    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        gw_breaker failures=2 open=30s;
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
        proxy_next_upstream off;
    }
--- pipelined_requests eval
["GET /api/flaky?n=1", "GET /api/flaky?n=2", "GET /api/flaky?n=3",
 "GET /api/flaky?n=4",
 map { "GET /api/ok?n=after$_" } 1 .. 6]
--- error_code eval
[502, 200, 502, 200, (200) x 6]
--- response_body_like eval
[qr/502 Bad Gateway/, qr/^b2\n\z/, qr/502 Bad Gateway/, qr/^b2\n\z/,
 (qr/^b2\n\z/) x 6]
--- access_log
b1 /flaky?n=1 502
b1 /flaky?n=3 502
b2 /ok?n=after1 200
b2 /ok?n=after6 200
--- no_access_log
b1 /ok
--- error_log eval
qr/gw_breaker: peer 127\.0\.0\.1:\d+ of upstream "backends" opened: 2 consecutive failures, next probe in 30000 ms/
--- no_error_log
failing fast



=== TEST 6: failures=1: the first failure opens it
--- http_config
    log_format backend '$server_name $request_uri $status';

    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker failures=1 open=1m;
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
["GET /api/ok?n=1", "GET /api/fail?n=2", "GET /api/ok?n=3"]
--- error_code eval
[200, 502, 503]
--- response_headers_like eval
["Retry-After:", "Retry-After:", "Retry-After: (59|60)"]
--- no_access_log
b1 /ok?n=3
--- error_log eval
qr/opened: 1 consecutive failures, next probe in 60000 ms/
