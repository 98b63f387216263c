# gw_ratelimit with two worker processes: the counters are in shared
# memory, so both workers count against one limit.
#
# The limited server listens on $TEST_NGINX_RAND_PORT_2 with "reuseport",
# so that each worker has a listening socket of its own and the kernel
# spreads new connections over both; the test server proxies /gw/ to it,
# one new connection per request, and passes on X-Worker (the pid of the
# worker that counted).  Per-worker counters would let up to twice the
# limit through.

use Test::Nginx::Socket 'no_plan';

master_on();
workers(2);

check_accum_error_log();
no_shuffle();
run_tests();

__DATA__

=== TEST 1: sliding window, rate=10r/m: of 30 requests spread over both workers exactly 10 pass, counted down 9..0 across workers
--- http_config
    gw_ratelimit_zone api key=$http_x_client rate=10r/m;

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2 reuseport;
        location /api/ {
            gw_ratelimit api;
            add_header X-Worker $pid always;
            echo ok;
        }
    }
--- config
    location /gw/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_2/api/;
        proxy_set_header X-Client c1;
    }
    location = /count {
        echo "$arg_n";
    }
--- pipelined_requests eval
[(map { "GET /gw/x?n=$_" } 1 .. 30)]
--- error_code eval
[(200) x 10, (429) x 20]
--- response_headers eval
[(map { "X-RateLimit-Remaining: $_" } CORE::reverse 0 .. 9), ("X-RateLimit-Remaining: 0") x 20]
--- timeout: 10



=== TEST 2: token bucket, burst=6: of 20 requests exactly 6 pass
--- http_config
    gw_ratelimit_zone tb key=$http_x_client rate=6r/h algorithm=token_bucket;

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2 reuseport;
        location /api/ {
            gw_ratelimit tb;
            echo ok;
        }
    }
--- config
    location /gw/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_2/api/;
        proxy_set_header X-Client c1;
    }
--- pipelined_requests eval
[(map { "GET /gw/x?n=$_" } 1 .. 20)]
--- error_code eval
[(200) x 6, (429) x 14]
--- timeout: 10
