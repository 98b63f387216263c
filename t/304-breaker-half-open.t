# gw_breaker: open -> half-open -> closed or open again.
#
# After open=, the first request for the peer turns its breaker half-open
# and is a probe; at most half_open= probes run at a time; successes=
# successful probes in a row close it; a failed probe opens it again for
# twice the previous open time, capped at max_open=.
#
# b1 on $TEST_NGINX_RAND_PORT_1: /ok answers 200 "b1", /fail 502, /slow 200
# "b1 slow" after 500 ms; it logs "b1 <uri> <status>" to access.log.
# /pause?s=N (echo_sleep) lets time pass between pipelined requests, which
# nginx serves in order.

use Test::Nginx::Socket 'no_plan';

check_accum_error_log();
no_shuffle();
run_tests();

__DATA__

=== TEST 1: after open=1s the first request is a probe; its success closes the breaker
--- http_config
    log_format backend '$server_name $request_uri $status';

    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker failures=2 open=1s;
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
["GET /api/fail?n=1", "GET /api/fail?n=2", "GET /api/ok?n=3",
 "GET /pause?s=1.1", "GET /api/ok?n=5", "GET /api/ok?n=6"]
--- error_code eval
[502, 502, 503, 200, 200, 200]
--- response_headers_like eval
["Retry-After:", "Retry-After:", "Retry-After: 1", "Retry-After:",
 "Retry-After:", "Retry-After:"]
--- response_body_like eval
[qr/502 Bad Gateway/, qr/502 Bad Gateway/, qr/503 Service/, qr/^paused\n\z/,
 qr/^b1\n\z/, qr/^b1\n\z/]
--- access_log
b1 /ok?n=5 200
b1 /ok?n=6 200
--- no_access_log
b1 /ok?n=3
--- grep_error_log eval
qr/gw_breaker: peer \S+ of upstream "backends" (opened: [^,]+|half-open: open time over|closed: \d+ successful probes)/
--- grep_error_log_out eval
qr/\Agw_breaker: peer 127\.0\.0\.1:\d+ of upstream "backends" opened: 2 consecutive failures
gw_breaker: peer 127\.0\.0\.1:\d+ of upstream "backends" half-open: open time over
gw_breaker: peer 127\.0\.0\.1:\d+ of upstream "backends" closed: 1 successful probes
\z/
--- error_log eval
[qr/\[warn\] .*half-open: open time over, probing while .*request: "GET \/api\/ok\?n=5 /,
 qr/\[warn\] .*closed: 1 successful probes while .*request: "GET \/api\/ok\?n=5 /]
--- timeout: 5



=== TEST 2: failed probes re-open for twice the open time (1s, 2s), capped at max_open=3s; a closed breaker starts again at open=
--- http_config
    log_format backend '$server_name $request_uri $status';

    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker failures=2 open=1s max_open=3s;
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
["GET /api/fail?n=1", "GET /api/fail?n=2",      # opens for 1 s
 "GET /api/ok?n=3",
 "GET /pause?s=1.1",
 "GET /api/fail?n=5",                           # failed probe: 2 s
 "GET /api/ok?n=6",
 "GET /pause?s=1.1",
 "GET /api/ok?n=8",                             # 1.1 s later: still open
 "GET /pause?s=1",
 "GET /api/fail?n=10",                          # failed probe: 4 s, cap 3 s
 "GET /api/ok?n=11",
 "GET /pause?s=3.1",
 "GET /api/ok?n=13",                            # probe: closes
 "GET /api/fail?n=14", "GET /api/fail?n=15",    # opens for 1 s again
 "GET /api/ok?n=16"]
--- error_code eval
[502, 502, 503, 200, 502, 503, 200, 503, 200, 502, 503, 200, 200, 502, 502,
 503]
--- response_headers_like eval
["Retry-After:", "Retry-After:", "Retry-After: 1", "Retry-After:",
 "Retry-After:", "Retry-After: 2", "Retry-After:", "Retry-After: 1",
 "Retry-After:", "Retry-After:", "Retry-After: 3", "Retry-After:",
 "Retry-After:", "Retry-After:", "Retry-After:", "Retry-After: 1"]
--- access_log
b1 /fail?n=5 502
b1 /fail?n=10 502
b1 /ok?n=13 200
--- no_access_log eval
["b1 /ok?n=3 ", "b1 /ok?n=6 ", "b1 /ok?n=8 ", "b1 /ok?n=11 ",
 "b1 /ok?n=16 "]
--- grep_error_log eval
qr/gw_breaker: peer \S+ of upstream "backends" (opened: [^,]+, next probe in \d+ ms|half-open: open time over|closed: \d+ successful probes)/
--- grep_error_log_out eval
qr/\Agw_breaker: peer 127\.0\.0\.1:\d+ of upstream "backends" opened: 2 consecutive failures, next probe in 1000 ms
gw_breaker: peer 127\.0\.0\.1:\d+ of upstream "backends" half-open: open time over
gw_breaker: peer 127\.0\.0\.1:\d+ of upstream "backends" opened: probe failed, next probe in 2000 ms
gw_breaker: peer 127\.0\.0\.1:\d+ of upstream "backends" half-open: open time over
gw_breaker: peer 127\.0\.0\.1:\d+ of upstream "backends" opened: probe failed, next probe in 3000 ms
gw_breaker: peer 127\.0\.0\.1:\d+ of upstream "backends" half-open: open time over
gw_breaker: peer 127\.0\.0\.1:\d+ of upstream "backends" closed: 1 successful probes
gw_breaker: peer 127\.0\.0\.1:\d+ of upstream "backends" opened: 2 consecutive failures, next probe in 1000 ms
\z/
--- timeout: 15



=== TEST 3: successes=2: one good probe leaves it half-open, a failed second probe re-opens it; then two good probes in a row close it
--- http_config
    log_format backend '$server_name $request_uri $status';

    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker failures=1 open=1s successes=2;
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
["GET /api/fail?n=1",                           # opens for 1 s
 "GET /pause?s=1.1",
 "GET /api/ok?n=3",                             # probe 1 of 2: good
 "GET /api/fail?n=4",                           # probe 2: failed, 2 s
 "GET /api/ok?n=5",
 "GET /pause?s=2.1",
 "GET /api/ok?n=7",                             # probe 1 of 2: good
 "GET /api/ok?n=8",                             # probe 2 of 2: closes
 "GET /api/ok?n=9"]
--- error_code eval
[502, 200, 200, 502, 503, 200, 200, 200, 200]
--- response_headers_like eval
["Retry-After:", "Retry-After:", "Retry-After:", "Retry-After:",
 "Retry-After: 2", "Retry-After:", "Retry-After:", "Retry-After:",
 "Retry-After:"]
--- access_log
b1 /ok?n=3 200
b1 /fail?n=4 502
b1 /ok?n=9 200
--- no_access_log
b1 /ok?n=5
--- grep_error_log eval
qr/gw_breaker: peer \S+ of upstream "backends" (opened: [^,]+, next probe in \d+ ms|half-open: open time over|closed: \d+ successful probes)/
--- grep_error_log_out eval
qr/\Agw_breaker: peer 127\.0\.0\.1:\d+ of upstream "backends" opened: 1 consecutive failures, next probe in 1000 ms
gw_breaker: peer 127\.0\.0\.1:\d+ of upstream "backends" half-open: open time over
gw_breaker: peer 127\.0\.0\.1:\d+ of upstream "backends" opened: probe failed, next probe in 2000 ms
gw_breaker: peer 127\.0\.0\.1:\d+ of upstream "backends" half-open: open time over
gw_breaker: peer 127\.0\.0\.1:\d+ of upstream "backends" closed: 2 successful probes
\z/
--- error_log eval
qr/closed: 2 successful probes while .*request: "GET \/api\/ok\?n=8 /
--- timeout: 8



=== TEST 4: half_open=1: of two concurrent requests while half-open, one is the probe (a slow one) and the other fails fast without reaching b1
--- http_config
    log_format backend '$server_name $request_uri $status';

    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker failures=1 open=1s half_open=1;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server_name b1;
        access_log logs/access.log backend;
        location /ok   { return 200 "b1\n"; }
        location /fail { return 502; }
        location /slow { echo_sleep 0.5; echo "b1 slow"; }
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
    # both subrequests run at the same time
    location = /two {
        echo_location_async /api/slow?n=3a;
        echo_location_async /api/ok?n=3b;
    }
--- pipelined_requests eval
["GET /api/fail?n=1", "GET /pause?s=1.1", "GET /two", "GET /api/ok?n=4"]
--- error_code eval
[502, 200, 200, 200]
--- response_body_like eval
[qr/502 Bad Gateway/, qr/^paused\n\z/,
 qr{^b1 slow\n<html>\r\n<head><title>502 Bad Gateway</title>.*</html>\r\n\z}s,
 qr/^b1\n\z/]
--- access_log
b1 /slow?n=3a 200
b1 /ok?n=4 200
--- no_access_log
b1 /ok?n=3b
--- error_log eval
[qr/every peer of upstream "backends" is open, failing fast while .*request: "GET \/two /,
 qr/closed: 1 successful probes/]
--- timeout: 5



=== TEST 5: half_open=2: two concurrent requests while half-open are both probes
--- http_config
    log_format backend '$server_name $request_uri $status';

    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker failures=1 open=1s half_open=2 successes=2;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server_name b1;
        access_log logs/access.log backend;
        location /ok   { return 200 "b1\n"; }
        location /fail { return 502; }
        location /slow { echo_sleep 0.5; echo "b1 slow"; }
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
    location = /two {
        echo_location_async /api/slow?n=3a;
        echo_location_async /api/ok?n=3b;
    }
--- pipelined_requests eval
["GET /api/fail?n=1", "GET /pause?s=1.1", "GET /two", "GET /api/ok?n=4"]
--- error_code eval
[502, 200, 200, 200]
--- response_body_like eval
[qr/502 Bad Gateway/, qr/^paused\n\z/, qr/^b1 slow\nb1\n\z/, qr/^b1\n\z/]
--- access_log
b1 /slow?n=3a 200
b1 /ok?n=3b 200
--- error_log
closed: 2 successful probes
--- no_error_log
failing fast
--- timeout: 5



=== TEST 6: a probe whose client goes away gives its slot back, counted neither way: the next request is the probe
--- http_config
    log_format backend '$server_name $request_uri $status';

    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker failures=1 open=1s;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server_name b1;
        access_log logs/access.log backend;
        location /ok   { return 200 "b1\n"; }
        location /fail { return 502; }
        location /slow { echo_sleep 1; echo "b1 slow"; }
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
    # a client of /api/slow that gives up after 200 ms
    location = /impatient {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/api/slow?n=3;
        proxy_read_timeout 200ms;
    }
--- pipelined_requests eval
["GET /api/fail?n=1", "GET /pause?s=1.1", "GET /impatient",
 "GET /pause?s=0.1", "GET /api/ok?n=5", "GET /api/ok?n=6"]
--- error_code eval
[502, 200, 504, 200, 200, 200]
--- access_log eval
["b1 /ok?n=5 200", qr{"GET /api/slow\?n=3 HTTP/1\.0" 499 }]
--- error_log eval
[qr/half-open: open time over, probing while .*request: "GET \/api\/slow\?n=3 /,
 qr/closed: 1 successful probes while .*request: "GET \/api\/ok\?n=5 /]
--- no_error_log
probe failed
failing fast
--- timeout: 5



=== TEST 7: a success that started before the breaker opened does not close it
--- http_config
    log_format backend '$server_name $request_uri $status';

    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker failures=2 open=30s;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server_name b1;
        access_log logs/access.log backend;
        location /ok   { return 200 "b1\n"; }
        location /fail { return 502; }
        location /slow { echo_sleep 0.5; echo "b1 slow"; }
    }
--- config
    location /api/ {
        proxy_pass http://backends/;
        proxy_next_upstream off;
    }
    # /slow is picked while closed; the two failures open the breaker
    # before /slow ends
    location = /race {
        echo_location_async /api/slow?n=1a;
        echo_location_async /api/fail?n=1b;
        echo_location_async /api/fail?n=1c;
    }
--- pipelined_requests eval
["GET /race", "GET /api/ok?n=2"]
--- error_code eval
[200, 503]
--- response_body_like eval
[qr/^b1 slow\n.*502 Bad Gateway.*502 Bad Gateway/s, qr/503 Service/]
--- access_log
b1 /slow?n=1a 200
--- no_access_log
b1 /ok?n=2
--- error_log
opened: 2 consecutive failures
--- no_error_log
closed:
half-open
--- timeout: 5



=== TEST 8: while half-open, a success that started before the breaker opened is not a probe: it neither closes it nor counts toward successes=2
--- http_config
    log_format backend '$server_name $request_uri $status';

    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker failures=1 open=300ms successes=2;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server_name b1;
        access_log logs/access.log backend;
        location /ok    { return 200 "b1\n"; }
        location /fail  { return 502; }
        location /slow  { echo_sleep 1; echo "b1 slow"; }
        location /probe { echo_sleep 1; echo "b1 probe"; }
    }
--- config
    location /api/ {
        proxy_pass http://backends/;
        proxy_next_upstream off;
    }
    # at 0 s: /slow is picked while closed (it ends at 1 s), /fail opens
    # the breaker for 300 ms; at 0.5 s /probe is the probe (it ends at
    # 1.5 s): /slow ends while the breaker is half-open
    location = /race {
        echo_location_async /api/slow n=1a;
        echo_location_async /api/fail n=1b;
        echo_location_async /later;
    }
    location = /later {
        echo_sleep 0.5;
        echo_location /api/probe n=1c;
    }
--- pipelined_requests eval
["GET /race", "GET /api/ok?n=2", "GET /api/ok?n=3"]
--- error_code eval
[200, 200, 200]
--- response_body_like eval
[qr/\Ab1 slow\n.*502 Bad Gateway.*b1 probe\n\z/s, qr/^b1\n\z/, qr/^b1\n\z/]
--- grep_error_log eval
qr/gw_breaker: peer \S+ of upstream "backends" (opened: [^,]+|half-open: open time over|closed: \d+ successful probes)/
--- grep_error_log_out eval
qr/\Agw_breaker: peer 127\.0\.0\.1:\d+ of upstream "backends" opened: 1 consecutive failures
gw_breaker: peer 127\.0\.0\.1:\d+ of upstream "backends" half-open: open time over
gw_breaker: peer 127\.0\.0\.1:\d+ of upstream "backends" closed: 2 successful probes
\z/
--- error_log eval
[qr/half-open: open time over, probing while .*upstream: "http:\/\/[^"]+\/probe\?n=1c"/,
 qr/closed: 2 successful probes while .*request: "GET \/api\/ok\?n=2 /]
--- timeout: 5
