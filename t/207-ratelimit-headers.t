# gw_ratelimit_headers (off, legacy, draft, both), gw_ratelimit_status,
# the variables, and the headers on proxied responses (a header filter,
# so they are added to whatever the content comes from).

use Test::Nginx::Socket 'no_plan';

check_accum_error_log();
no_shuffle();
run_tests();

__DATA__

=== TEST 1: gw_ratelimit_headers off: no rate-limit header, not even Retry-After
--- http_config
    gw_ratelimit_zone api key=$remote_addr rate=1r/m;
--- config
    gw_ratelimit_headers off;
    location /t {
        gw_ratelimit api;
        echo ok;
    }
--- pipelined_requests eval
["GET /t", "GET /t"]
--- error_code eval
[200, 429]
--- response_headers eval
[("!X-RateLimit-Limit\n!X-RateLimit-Remaining\n!X-RateLimit-Reset\n!RateLimit-Policy\n!RateLimit\n!Retry-After") x 2]



=== TEST 2: legacy: X-RateLimit-* only, Retry-After on the rejection
--- http_config
    gw_ratelimit_zone api key=$remote_addr rate=1r/m;
--- config
    gw_ratelimit_headers legacy;
    location /t {
        gw_ratelimit api;
        echo ok;
    }
--- pipelined_requests eval
["GET /t", "GET /t"]
--- error_code eval
[200, 429]
--- response_headers eval
["X-RateLimit-Limit: 1\nX-RateLimit-Remaining: 0\n!RateLimit-Policy\n!RateLimit\n!Retry-After",
 "X-RateLimit-Limit: 1\nX-RateLimit-Remaining: 0\n!RateLimit-Policy\n!RateLimit"]
--- response_headers_like eval
["X-RateLimit-Reset: \\d+", "Retry-After: \\d+"]



=== TEST 3: draft: RateLimit-Policy and RateLimit only, Retry-After on the rejection
--- http_config
    gw_ratelimit_zone api key=$remote_addr rate=1r/m;
--- config
    gw_ratelimit_headers draft;
    location /t {
        gw_ratelimit api;
        echo ok;
    }
--- pipelined_requests eval
["GET /t", "GET /t"]
--- error_code eval
[200, 429]
--- response_headers eval
["RateLimit-Policy: \"api\";q=1;w=60\n!X-RateLimit-Limit\n!X-RateLimit-Remaining\n!X-RateLimit-Reset\n!Retry-After",
 "RateLimit-Policy: \"api\";q=1;w=60\n!X-RateLimit-Limit\n!X-RateLimit-Remaining"]
--- response_headers_like eval
["RateLimit: \"api\";r=0;t=\\d+", "RateLimit: \"api\";r=0;t=\\d+\nRetry-After: \\d+"]



=== TEST 4: both (the default): all five headers; $gw_ratelimit_remaining and $gw_ratelimit_reset match them
--- http_config
    gw_ratelimit_zone api key=$remote_addr rate=3r/m algorithm=token_bucket;
--- config
    location /t {
        gw_ratelimit api;
        add_header X-Vars "$gw_ratelimit_status $gw_ratelimit_remaining $gw_ratelimit_reset";
        echo ok;
    }
--- request
GET /t
--- response_headers
X-RateLimit-Limit: 3
X-RateLimit-Remaining: 2
X-RateLimit-Reset: 20
RateLimit-Policy: "api";q=3;w=60
RateLimit: "api";r=2;t=20
X-Vars: PASSED 2 20
!Retry-After



=== TEST 5: gw_ratelimit_status 503, and the headers on it
--- http_config
    gw_ratelimit_zone api key=$remote_addr rate=1r/m algorithm=token_bucket;
--- config
    location /t {
        gw_ratelimit api;
        gw_ratelimit_status 503;
        echo ok;
    }
--- pipelined_requests eval
["GET /t", "GET /t"]
--- error_code eval
[200, 503]
--- response_headers eval
["X-RateLimit-Remaining: 0", "X-RateLimit-Remaining: 0\nRetry-After: 60"]



=== TEST 6: a proxied response carries the headers, and the backend's own headers stay
--- http_config
    gw_ratelimit_zone api key=$remote_addr rate=2r/m;
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / {
            add_header X-Backend b1;
            echo backend;
        }
    }
--- config
    location /api/ {
        gw_ratelimit api;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/;
    }
--- pipelined_requests eval
["GET /api/x", "GET /api/x", "GET /api/x"]
--- error_code eval
[200, 200, 429]
--- response_headers eval
["X-Backend: b1\nX-RateLimit-Remaining: 1\nRateLimit-Policy: \"api\";q=2;w=60",
 "X-Backend: b1\nX-RateLimit-Remaining: 0",
 "!X-Backend\nX-RateLimit-Remaining: 0"]
--- response_body eval
["backend\n", "backend\n", qr/429 Too Many Requests/]



=== TEST 7: the status variable in the access log, including the rejected request
--- http_config
    gw_ratelimit_zone api key=$remote_addr rate=1r/m;
    log_format rl '$request_uri $status $gw_ratelimit_status r=$gw_ratelimit_remaining';
--- config
    access_log logs/access.log rl;
    location /t {
        gw_ratelimit api;
        echo ok;
    }
    location /free {
        echo ok;
    }
--- pipelined_requests eval
["GET /t?n=1", "GET /t?n=2", "GET /free"]
--- error_code eval
[200, 429, 200]
--- access_log
/t?n=1 200 PASSED r=0
/t?n=2 429 REJECTED r=0
/free 200 - r=-



=== TEST 8: a gw_ratelimit_status outside 400..599 fails nginx -t
--- http_config
    gw_ratelimit_zone api key=$remote_addr rate=1r/m;
--- config
    location /t {
        gw_ratelimit api;
        gw_ratelimit_status 302;
        echo ok;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*value must be between 400 and 599 in \S+nginx\.conf:\d+/



=== TEST 9: an unknown gw_ratelimit_headers mode fails nginx -t
--- http_config
    gw_ratelimit_zone api key=$remote_addr rate=1r/m;
--- config
    gw_ratelimit_headers ietf;
    location /t {
        gw_ratelimit api;
        echo ok;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value "ietf" in \S+nginx\.conf:\d+/
