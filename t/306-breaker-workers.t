# gw_breaker with two worker processes: one breaker per peer in shared
# memory, seen by both workers.
#
# The gateway is a server on $TEST_NGINX_RAND_PORT_2 listening with
# "reuseport", so that each worker has a listening socket of its own and the
# kernel spreads new connections over both; the test server proxies /gw/ to
# it, one new connection per request.  A per-worker breaker would show
# itself as requests let through by the worker that did not see the
# failures.  b1 on $TEST_NGINX_RAND_PORT_1: /ok answers 200 "b1", /fail 502,
# /slow 200 "b1 slow" after 500 ms.

use Test::Nginx::Socket 'no_plan';

master_on();
workers(2);

check_accum_error_log();
no_shuffle();
run_tests();

__DATA__

=== TEST 1: four failures, served by either worker, open the breaker for both: the next twenty requests all fail fast
--- http_config
    log_format backend '$server_name $request_uri $status';

    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker failures=4 open=30s;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server_name b1;
        access_log logs/access.log backend;
        location /ok   { return 200 "b1\n"; }
        location /fail { return 502; }
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2 reuseport;
        location /api/ {
            proxy_pass http://backends/;
            proxy_next_upstream off;
        }
    }
--- config
    location /gw/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_2/api/;
    }
--- pipelined_requests eval
[(map { "GET /gw/ok?n=a$_" } 1 .. 10), (map { "GET /gw/fail?n=$_" } 1 .. 4),
 (map { "GET /gw/ok?n=b$_" } 1 .. 20)]
--- error_code eval
[(200) x 10, (502) x 4, (503) x 20]
--- response_headers_like eval
[("Retry-After:") x 14, ("Retry-After: (29|30)") x 20]
--- access_log
b1 /ok?n=a10 200
b1 /fail?n=4 502
--- no_access_log
b1 /ok?n=b
--- error_log
opened: 4 consecutive failures
--- timeout: 10



=== TEST 2: half_open=1 holds across workers: of eight concurrent requests while half-open, one is the probe and seven fail fast
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

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2 reuseport;
        location /api/ {
            proxy_pass http://backends/;
            proxy_next_upstream off;
        }
    }
--- config
    location /gw/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_2/api/;
    }
    location = /pause {
        echo_sleep $arg_s;
        echo paused;
    }
    # eight requests to the gateway at the same time, on eight connections
    location = /eight {
        echo_location_async /gw/slow?n=1;
        echo_location_async /gw/slow?n=2;
        echo_location_async /gw/slow?n=3;
        echo_location_async /gw/slow?n=4;
        echo_location_async /gw/slow?n=5;
        echo_location_async /gw/slow?n=6;
        echo_location_async /gw/slow?n=7;
        echo_location_async /gw/slow?n=8;
    }
--- pipelined_requests eval
["GET /gw/fail", "GET /pause?s=1.1", "GET /eight", "GET /gw/ok"]
--- error_code eval
[502, 200, 200, 200]
--- response_body_like eval
[qr/502 Bad Gateway/, qr/^paused\n\z/,
 # exactly one "b1 slow" and seven 503 pages
 qr{\A(?=(?:.*?<title>503 Service Temporarily Unavailable</title>){7})(?!(?:.*?<title>503 ){8})(?=.*?b1 slow\n)(?!.*?b1 slow\n.*?b1 slow\n)}s,
 qr/^b1\n\z/]
--- access_log
b1 /ok 200
--- error_log
closed: 1 successful probes
--- timeout: 5
