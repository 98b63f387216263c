# $gw_breaker_state: closed, open or half_open, the state of the breaker of
# the peer the request used, after the request's own outcome (so the
# request that trips a breaker shows "open"); "open" for a request that
# failed fast; empty for a request that used no upstream with gw_breaker.
#
# The gateway logs "gw <uri> <status> <state>" to access.log, in the log
# phase, when the request's outcome is known.  b1 (b2) on
# $TEST_NGINX_RAND_PORT_1 (_2) answer /ok with their name and /fail with 502.

use Test::Nginx::Socket 'no_plan';

check_accum_error_log();
no_shuffle();
run_tests();

__DATA__

=== TEST 1: through a breaker's life: closed, closed, open (the request that trips it), open (fail-fast), half_open (a good probe of two), closed (the probe that closes it)
--- http_config
    log_format gw 'gw $request_uri $status $gw_breaker_state';

    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker failures=2 open=1s successes=2;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        access_log off;
        location /ok   { return 200 "b1\n"; }
        location /fail { return 502; }
    }
--- config
    access_log logs/access.log gw;

    location /api/ {
        proxy_pass http://backends/;
        proxy_next_upstream off;
    }
    location = /pause {
        echo_sleep $arg_s;
        echo paused;
    }
--- pipelined_requests eval
["GET /api/ok?n=1", "GET /api/fail?n=2", "GET /api/fail?n=3",
 "GET /api/ok?n=4", "GET /pause?s=1.1", "GET /api/ok?n=6",
 "GET /api/ok?n=7"]
--- error_code eval
[200, 502, 502, 503, 200, 200, 200]
--- access_log
gw /api/ok?n=1 200 closed
gw /api/fail?n=2 502 closed
gw /api/fail?n=3 502 open
gw /api/ok?n=4 503 open
gw /pause?s=1.1 200 -
gw /api/ok?n=6 200 half_open
gw /api/ok?n=7 200 closed
--- timeout: 5



=== TEST 2: in a response header: "closed" for a request through a closed breaker, "open" for a fail-fast
--- http_config
    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker failures=1;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        access_log off;
        location /ok   { return 200 "b1\n"; }
        location /fail { return 502; }
    }
--- config
    location /api/ {
        proxy_pass http://backends/;
        proxy_next_upstream off;
        add_header X-Breaker-State $gw_breaker_state always;
    }
--- pipelined_requests eval
["GET /api/ok", "GET /api/fail", "GET /api/ok"]
--- error_code eval
[200, 502, 503]
--- response_headers_like eval
["X-Breaker-State: closed", "X-Breaker-State: \\w+", "X-Breaker-State: open"]



=== TEST 3: after a retry, the peer the request used last: b1 fails and opens, b2 answers: "closed"
--- http_config
    log_format gw 'gw $request_uri $status $gw_breaker_state';

    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1 max_fails=0;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2 max_fails=0;
        gw_breaker failures=1;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        access_log off;
        location /ok    { return 200 "b1\n"; }
        location /flaky { return 502; }
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        access_log off;
        location /ok    { return 200 "b2\n"; }
        location /flaky { return 200 "b2\n"; }
    }
--- config
    access_log logs/access.log gw;

    location /api/ {
        proxy_pass http://backends/;
        proxy_next_upstream error timeout http_502;
    }
--- pipelined_requests eval
["GET /api/flaky?n=1", "GET /api/ok?n=2"]
--- response_body eval
["b2\n", "b2\n"]
--- access_log
gw /api/flaky?n=1 200 closed
gw /api/ok?n=2 200 closed
--- error_log
opened: 1 consecutive failures



=== TEST 4: empty for a request through an upstream without gw_breaker, or through none
--- http_config
    log_format gw 'gw $request_uri $status "$gw_breaker_state"';

    upstream plain {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        access_log off;
        location /ok { return 200 "b1\n"; }
    }
--- config
    access_log logs/access.log gw;

    location /plain/ {
        proxy_pass http://plain/;
    }
    location = /local {
        return 200 "local\n";
    }
--- pipelined_requests eval
["GET /plain/ok", "GET /local"]
--- response_body eval
["b1\n", "local\n"]
--- access_log
gw /plain/ok 200 "-"
gw /local 200 "-"



=== TEST 5: a fail-fast request answered by "error_page 502 = @fallback" is still "open", in the fallback's header and in the log
--- http_config
    log_format gw 'gw $request_uri $status $gw_breaker_state';

    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker failures=1;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        access_log off;
        location /ok   { return 200 "b1\n"; }
        location /fail { return 502; }
    }
--- config
    access_log logs/access.log gw;

    location /api/ {
        proxy_pass http://backends/;
        proxy_next_upstream off;
        error_page 502 = @fallback;
    }
    location @fallback {
        add_header X-Breaker-State $gw_breaker_state always;
        return 200 "fallback\n";
    }
--- pipelined_requests eval
["GET /api/fail?n=1", "GET /api/ok?n=2"]
--- error_code eval
[502, 200]
--- response_body_like eval
[qr/502 Bad Gateway/, qr/^fallback\n\z/]
--- response_headers_like eval
["X-Breaker-State:", "X-Breaker-State: open"]
--- access_log
gw /api/fail?n=1 502 open
gw /api/ok?n=2 200 open
