# gw_breaker_failure: which outcomes count as failures, whatever
# proxy_next_upstream says.  Default: error timeout http_502 http_503
# http_504.  An outcome of a class not listed counts as a success.
#
# b1 on $TEST_NGINX_RAND_PORT_1 answers /ok with 200 "b1", /s500 .. /s504 and
# /s429 with that status, /slow after 1 s (the gateway's proxy_read_timeout
# is 300 ms: a timeout), /bad with a header line nginx refuses (an invalid
# header).  Nothing listens on $TEST_NGINX_RAND_PORT_2 (an error).  With
# failures=1 the first failure opens the breaker, and the next request
# fails fast with a 503; requests of a block are pipelined on one
# connection.

use Test::Nginx::Socket 'no_plan';

check_accum_error_log();
no_shuffle();
run_tests();

__DATA__

=== TEST 1: default classes: a 502 from the backend is a failure
--- http_config
    log_format backend '$server_name $request_uri $status';

    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker failures=1;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server_name b1;
        access_log logs/access.log backend;
        location /ok   { return 200 "b1\n"; }
        location /s502 { return 502; }
    }
--- config
    location /api/ {
        proxy_pass http://backends/;
        proxy_next_upstream off;
    }
--- pipelined_requests eval
["GET /api/s502", "GET /api/ok"]
--- error_code eval
[502, 503]
--- no_access_log
b1 /ok
--- error_log
opened: 1 consecutive failures



=== TEST 2: default classes: a 503 from the backend is a failure
--- http_config
    log_format backend '$server_name $request_uri $status';

    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker failures=1;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server_name b1;
        access_log logs/access.log backend;
        location /ok   { return 200 "b1\n"; }
        location /s503 { return 503; }
    }
--- config
    location /api/ {
        proxy_pass http://backends/;
        proxy_next_upstream off;
    }
--- pipelined_requests eval
["GET /api/s503", "GET /api/ok"]
--- error_code eval
[503, 503]
--- response_headers_like eval
["Retry-After:", "Retry-After: \\d+"]
--- no_access_log
b1 /ok
--- error_log
opened: 1 consecutive failures



=== TEST 3: default classes: a 504 from the backend is a failure
--- http_config
    log_format backend '$server_name $request_uri $status';

    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker failures=1;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server_name b1;
        access_log logs/access.log backend;
        location /ok   { return 200 "b1\n"; }
        location /s504 { return 504; }
    }
--- config
    location /api/ {
        proxy_pass http://backends/;
        proxy_next_upstream off;
    }
--- pipelined_requests eval
["GET /api/s504", "GET /api/ok"]
--- error_code eval
[504, 503]
--- no_access_log
b1 /ok
--- error_log
opened: 1 consecutive failures



=== TEST 4: default classes: a connection refused ("error") is a failure
--- http_config
    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        gw_breaker failures=2;
    }
--- config
    location /api/ {
        proxy_pass http://backends/;
        proxy_next_upstream off;
    }
--- pipelined_requests eval
["GET /api/ok?n=1", "GET /api/ok?n=2", "GET /api/ok?n=3"]
--- error_code eval
[502, 502, 503]
--- grep_error_log eval
qr/connect\(\) failed \(111: Connection refused\)|opened: 2 consecutive failures|failing fast/
--- grep_error_log_out
connect() failed (111: Connection refused)
connect() failed (111: Connection refused)
opened: 2 consecutive failures
failing fast



=== TEST 5: default classes: a read timeout is a failure
--- http_config
    log_format backend '$server_name $request_uri $status';

    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker failures=1;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server_name b1;
        access_log logs/access.log backend;
        location /ok   { return 200 "b1\n"; }
        location /slow { echo_sleep 1; echo "b1 slow"; }
    }
--- config
    location /api/ {
        proxy_pass http://backends/;
        proxy_next_upstream off;
        proxy_read_timeout 300ms;
    }
--- pipelined_requests eval
["GET /api/slow", "GET /api/ok"]
--- error_code eval
[504, 503]
--- no_access_log
b1 /ok
--- error_log
upstream timed out
opened: 1 consecutive failures
--- timeout: 5



=== TEST 6: default classes: a 500, a 429 and an invalid header are not failures
--- http_config
    log_format backend '$server_name $request_uri $status';

    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker failures=1;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server_name b1;
        access_log logs/access.log backend;
        location /ok   { return 200 "b1\n"; }
        location /s500 { return 500; }
        location /s429 { return 429; }
        location /bad  { add_header "X Bad" 1; return 200 "b1\n"; }
    }
--- config
    location /api/ {
        proxy_pass http://backends/;
        proxy_next_upstream off;
    }
--- pipelined_requests eval
["GET /api/s500", "GET /api/s429", "GET /api/bad", "GET /api/ok"]
--- error_code eval
[500, 429, 502, 200]
--- access_log
b1 /ok 200
--- error_log
upstream sent invalid header
--- no_error_log
gw_breaker: peer



=== TEST 7: gw_breaker_failure http_500: a 500 is a failure
--- http_config
    log_format backend '$server_name $request_uri $status';

    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker failures=1;
        gw_breaker_failure http_500;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server_name b1;
        access_log logs/access.log backend;
        location /ok   { return 200 "b1\n"; }
        location /s500 { return 500; }
    }
--- config
    location /api/ {
        proxy_pass http://backends/;
        proxy_next_upstream off;
    }
--- pipelined_requests eval
["GET /api/s500", "GET /api/ok"]
--- error_code eval
[500, 503]
--- no_access_log
b1 /ok
--- error_log
opened: 1 consecutive failures



=== TEST 8: gw_breaker_failure http_429: a 429 is a failure
--- http_config
    log_format backend '$server_name $request_uri $status';

    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker failures=1;
        gw_breaker_failure http_429;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server_name b1;
        access_log logs/access.log backend;
        location /ok   { return 200 "b1\n"; }
        location /s429 { return 429; }
    }
--- config
    location /api/ {
        proxy_pass http://backends/;
        proxy_next_upstream off;
    }
--- pipelined_requests eval
["GET /api/s429", "GET /api/ok"]
--- error_code eval
[429, 503]
--- no_access_log
b1 /ok
--- error_log
opened: 1 consecutive failures



=== TEST 9: gw_breaker_failure invalid_header: a response whose header nginx refuses is a failure
--- http_config
    log_format backend '$server_name $request_uri $status';

    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker failures=1;
        gw_breaker_failure invalid_header;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server_name b1;
        access_log logs/access.log backend;
        location /ok  { return 200 "b1\n"; }
        location /bad { add_header "X Bad" 1; return 200 "b1\n"; }
    }
--- config
    location /api/ {
        proxy_pass http://backends/;
        proxy_next_upstream off;
    }
--- pipelined_requests eval
["GET /api/bad", "GET /api/ok"]
--- error_code eval
[502, 503]
--- no_access_log
b1 /ok
--- error_log
upstream sent invalid header
opened: 1 consecutive failures



=== TEST 10: gw_breaker_failure invalid_header: a header too big for proxy_buffer_size is a failure
--- http_config eval
qq{
    log_format backend '\$server_name \$request_uri \$status';

    upstream backends {
        server 127.0.0.1:\$TEST_NGINX_RAND_PORT_1;
        gw_breaker failures=1;
        gw_breaker_failure invalid_header;
    }

    server {
        listen 127.0.0.1:\$TEST_NGINX_RAND_PORT_1;
        server_name b1;
        access_log logs/access.log backend;
        location /ok  { return 200 "b1\\n"; }
        location /big { add_header X-Big "@{[ 'x' x 4000 ]}"; return 200 "b1\\n"; }
    }
}
--- config
    location /api/ {
        proxy_pass http://backends/;
        proxy_next_upstream off;
        proxy_buffer_size 1k;
    }
--- pipelined_requests eval
["GET /api/big", "GET /api/ok"]
--- error_code eval
[502, 503]
--- no_access_log
b1 /ok
--- error_log
upstream sent too big header
opened: 1 consecutive failures



=== TEST 11: a class not listed is a success: with gw_breaker_failure http_500, 502s, 503s, 504s, refused connections and timeouts do not open it
--- http_config
    log_format backend '$server_name $request_uri $status';

    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1 max_fails=0;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2 max_fails=0;
        gw_breaker failures=1;
        gw_breaker_failure http_500;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server_name b1;
        access_log logs/access.log backend;
        location /ok   { return 200 "b1\n"; }
        location /s502 { return 502; }
        location /s503 { return 503; }
        location /s504 { return 504; }
        location /slow { echo_sleep 1; echo "b1 slow"; }
    }
--- config
    location /api/ {
        proxy_pass http://backends/;
        proxy_next_upstream off;
        proxy_read_timeout 300ms;
    }
--- pipelined_requests eval
# round robin: odd requests go to b1, even ones to the closed port
["GET /api/s502?n=1", "GET /api/ok?n=2", "GET /api/s503?n=3",
 "GET /api/ok?n=4", "GET /api/s504?n=5", "GET /api/ok?n=6",
 "GET /api/slow?n=7", "GET /api/ok?n=8", "GET /api/ok?n=9"]
--- error_code eval
[502, 502, 503, 502, 504, 502, 504, 502, 200]
--- response_headers_like eval
[("Retry-After:") x 9]
--- access_log
b1 /ok?n=9 200
--- error_log
Connection refused
upstream timed out
--- no_error_log
gw_breaker: peer
failing fast
--- timeout: 5



=== TEST 12: counted whatever proxy_next_upstream says: b1's 502, retried on b2 by nginx, still opens b1's breaker
--- http_config
    log_format backend '$server_name $request_uri $status';

    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1 max_fails=0;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_3 max_fails=0;
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
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_3;
        server_name b2;
        access_log logs/access.log backend;
        location /ok    { return 200 "b2\n"; }
        location /flaky { return 200 "b2\n"; }
    }
--- config
    location /api/ {
        proxy_pass http://backends/;
        proxy_next_upstream error timeout http_502;
    }
--- pipelined_requests eval
["GET /api/flaky?n=1", "GET /api/ok?n=2", "GET /api/ok?n=3",
 "GET /api/ok?n=4", "GET /api/ok?n=5"]
--- response_body eval
["b2\n", "b2\n", "b2\n", "b2\n", "b2\n"]
--- access_log
b1 /flaky?n=1 502
b2 /flaky?n=1 200
--- no_access_log
b1 /ok
--- error_log
opened: 1 consecutive failures



=== TEST 13: not counted whatever proxy_next_upstream says: b1's 500, retried on b2 by nginx ("proxy_next_upstream http_500"), is not a failure of the default classes
--- http_config
    log_format backend '$server_name $request_uri $status';

    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1 max_fails=0;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_3 max_fails=0;
        gw_breaker failures=1;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server_name b1;
        access_log logs/access.log backend;
        location /ok    { return 200 "b1\n"; }
        location /flaky { return 500; }
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_3;
        server_name b2;
        access_log logs/access.log backend;
        location /ok    { return 200 "b2\n"; }
        location /flaky { return 200 "b2\n"; }
    }
--- config
    location /api/ {
        proxy_pass http://backends/;
        proxy_next_upstream error timeout http_500;
    }
--- pipelined_requests eval
["GET /api/flaky?n=1", "GET /api/ok?n=2", "GET /api/ok?n=3",
 "GET /api/ok?n=4", "GET /api/ok?n=5"]
--- response_body_like eval
["^b2\n\\z", "^b[12]\n\\z", "^b[12]\n\\z", "^b[12]\n\\z", "^b[12]\n\\z"]
--- access_log
b1 /flaky?n=1 500
b2 /flaky?n=1 200
b1 /ok
--- no_error_log
gw_breaker: peer
