# gw_breaker: when every peer is open, a request fails fast: no connection
# is attempted, the client gets gw_breaker_status (503 by default) with
# nginx's standard page for that status and "Retry-After: <seconds until
# the first peer goes half-open>"; error_page sees the fail-fast as the 502
# of nginx's "no live upstreams", so "error_page 502 = @fallback" catches it.
#
# b1 (and b2) on $TEST_NGINX_RAND_PORT_1 (and _2) answer /ok with their
# name and /fail with 502; they log "<name> <uri> <status>" to access.log.

use Test::Nginx::Socket 'no_plan';

# nginx's own error page for a status, with server_tokens off
sub stock_page {
    my ($status) = @_;
    return "<html>\r\n<head><title>$status</title></head>\r\n<body>\r\n"
           . "<center><h1>$status</h1></center>\r\n"
           . "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";
}

check_accum_error_log();
no_shuffle();
run_tests();

__DATA__

=== TEST 1: both peers open: 503 with nginx's own 503 page and Retry-After, no connection to either backend, logged at info
--- http_config
    log_format backend '$server_name $request_uri $status';
    server_tokens off;

    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        gw_breaker failures=1 open=20s;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server_name b1;
        access_log logs/access.log backend;
        location /ok   { return 200 "b1\n"; }
        location /fail { return 502; }
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        server_name b2;
        access_log logs/access.log backend;
        location /ok   { return 200 "b2\n"; }
        location /fail { return 502; }
    }
--- config
    location /api/ {
        proxy_pass http://backends/;
        proxy_next_upstream off;
    }
    location = /stock503 {
        return 503;
    }
--- pipelined_requests eval
["GET /api/fail?n=1", "GET /api/fail?n=2", "GET /api/ok?n=3",
 "GET /stock503"]
--- error_code eval
[502, 502, 503, 503]
--- response_headers_like eval
["Retry-After:", "Retry-After:", "Retry-After: (19|20)", "Retry-After:"]
--- response_headers eval
["", "", "Content-Type: text/html", "Content-Type: text/html"]
--- response_body eval
[::stock_page("502 Bad Gateway"), ::stock_page("502 Bad Gateway"),
 ::stock_page("503 Service Temporarily Unavailable"),
 ::stock_page("503 Service Temporarily Unavailable")]
--- access_log
b1 /fail?n=1 502
b2 /fail?n=2 502
--- no_access_log
b1 /ok
b2 /ok
--- error_log eval
[qr/\[info\] .*gw_breaker: every peer of upstream "backends" is open, failing fast while connecting to upstream, .*request: "GET \/api\/ok\?n=3 /,
 qr/\[error\] .*no live upstreams while connecting to upstream, .*request: "GET \/api\/ok\?n=3 /]



=== TEST 2: every later request fails fast the same way: GET, HEAD, an HTTP/1.0 client
--- http_config
    log_format backend '$server_name $request_uri $status';
    server_tokens off;

    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker failures=1 open=20s;
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
["GET /api/fail?n=1", "GET /api/ok?n=2", "GET /api/ok?n=3",
 "HEAD /api/ok?n=4", "GET /api/ok?n=5 HTTP/1.0"]
--- error_code eval
[502, 503, 503, 503, 503]
--- response_headers_like eval
["Retry-After:", "Retry-After: (19|20)", "Retry-After: (19|20)",
 "Retry-After: (19|20)", "Retry-After: (19|20)"]
--- response_body eval
[::stock_page("502 Bad Gateway"),
 ::stock_page("503 Service Temporarily Unavailable"),
 ::stock_page("503 Service Temporarily Unavailable"), "",
 ::stock_page("503 Service Temporarily Unavailable")]
--- no_access_log
b1 /ok



=== TEST 3: fail-fast requests are no failures for nginx's own max_fails: once the open time is over, the peers are used again at once
--- http_config
    log_format backend '$server_name $request_uri $status';

    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        gw_breaker failures=1 open=1s;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server_name b1;
        access_log logs/access.log backend;
        location /ok   { return 200 "b1\n"; }
        location /fail { return 502; }
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        server_name b2;
        access_log logs/access.log backend;
        location /ok   { return 200 "b2\n"; }
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
 "GET /api/ok?n=4", "GET /api/ok?n=5", "GET /pause?s=1.1",
 "GET /api/ok?n=7", "GET /api/ok?n=8"]
--- error_code eval
[502, 502, 503, 503, 503, 200, 200, 200]
--- response_headers_like eval
["Retry-After:", "Retry-After:", "Retry-After: 1", "Retry-After: 1",
 "Retry-After: 1", "Retry-After:", "Retry-After:", "Retry-After:"]
--- access_log
b1 /ok?n=
b2 /ok?n=
--- no_error_log
upstream server temporarily disabled
--- timeout: 5



=== TEST 4: fail-fast requests leave least_conn's connection counts right: after recovery both peers share the traffic again
--- http_config
    log_format backend '$server_name $request_uri $status';

    upstream backends {
        least_conn;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1 max_fails=0;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2 max_fails=0;
        gw_breaker failures=1 open=1s;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server_name b1;
        access_log logs/access.log backend;
        location /ok   { return 200 "b1\n"; }
        location /fail { return 502; }
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        server_name b2;
        access_log logs/access.log backend;
        location /ok   { return 200 "b2\n"; }
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
    location = /scan {
        echo_location /api/ok n=1; echo_location /api/ok n=2;
        echo_location /api/ok n=3; echo_location /api/ok n=4;
        echo_location /api/ok n=5; echo_location /api/ok n=6;
    }
--- pipelined_requests eval
["GET /api/fail", "GET /api/fail", "GET /api/ok", "GET /pause?s=1.1",
 "GET /scan"]
--- error_code eval
[502, 502, 503, 200, 200]
--- response_body_like eval
[qr/502/, qr/502/, qr/503/, qr/paused/,
 # both are used: each gets 2 to 4 of the 6
 qr/\A(?=(?:(?:b1\n)*b2\n){2,4}(?:b1\n)*\z)(?:b[12]\n){6}\z/]
--- timeout: 5



=== TEST 5: with server_tokens on (the default), the page is nginx's own too, with the version
--- http_config
    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker failures=1;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location /ok   { return 200 "b1\n"; }
        location /fail { return 502; }
    }
--- config
    location /api/ {
        proxy_pass http://backends/;
        proxy_next_upstream off;
    }
--- pipelined_requests eval
["GET /api/fail", "GET /api/ok"]
--- error_code eval
[502, 503]
--- response_body_like eval
[qr{<hr><center>nginx/\d+\.\d+\.\d+</center>},
 qr{\A<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n<hr><center>nginx/\d+\.\d+\.\d+</center>\r\n</body>\r\n</html>\r\n\z}]



=== TEST 6: gw_breaker_status: set on http{} (504), inherited by one location, replaced in another (429); both with Retry-After
--- http_config
    server_tokens off;
    gw_breaker_status 504;

    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker failures=1 open=20s;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location /ok   { return 200 "b1\n"; }
        location /fail { return 502; }
    }
--- config
    location /api/ {
        proxy_pass http://backends/;
        proxy_next_upstream off;
    }
    location /limited/ {
        gw_breaker_status 429;
        proxy_pass http://backends/;
        proxy_next_upstream off;
    }
--- pipelined_requests eval
["GET /api/fail", "GET /api/ok", "GET /limited/ok"]
--- error_code eval
[502, 504, 429]
--- response_headers_like eval
["Retry-After:", "Retry-After: (19|20)", "Retry-After: (19|20)"]
--- response_body eval
[::stock_page("502 Bad Gateway"), ::stock_page("504 Gateway Time-out"),
 ::stock_page("429 Too Many Requests")]



=== TEST 7: gw_breaker_status 500: nginx's standard 500 page
--- http_config
    server_tokens off;

    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker failures=1;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location /ok   { return 200 "b1\n"; }
        location /fail { return 502; }
    }
--- config
    location /api/ {
        gw_breaker_status 500;
        proxy_pass http://backends/;
        proxy_next_upstream off;
    }
--- pipelined_requests eval
["GET /api/fail", "GET /api/ok"]
--- error_code eval
[502, 500]
--- response_headers_like eval
["Retry-After:", "Retry-After: \\d+"]
--- response_body eval
[::stock_page("502 Bad Gateway"), ::stock_page("500 Internal Server Error")]



=== TEST 8: gw_breaker_status 502: nginx's 502 page, with Retry-After
--- http_config
    server_tokens off;

    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker failures=1;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location /ok   { return 200 "b1\n"; }
        location /fail { return 502; }
    }
--- config
    location /api/ {
        gw_breaker_status 502;
        proxy_pass http://backends/;
        proxy_next_upstream off;
    }
--- pipelined_requests eval
["GET /api/fail", "GET /api/ok"]
--- error_code eval
[502, 502]
--- response_headers_like eval
["Retry-After:", "Retry-After: (29|30)"]
--- response_body eval
[::stock_page("502 Bad Gateway"), ::stock_page("502 Bad Gateway")]



=== TEST 9: Retry-After counts to the first peer to go half-open: b1 opened 1.1 s before b2, both for 2 s: 1 second
--- http_config
    log_format backend '$server_name $request_uri $status';

    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        gw_breaker failures=1 open=2s;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server_name b1;
        access_log logs/access.log backend;
        location /ok   { return 200 "b1\n"; }
        location /fail { return 502; }
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        server_name b2;
        access_log logs/access.log backend;
        location /ok   { return 200 "b2\n"; }
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
["GET /api/fail?n=1", "GET /pause?s=1.1", "GET /api/fail?n=3",
 "GET /api/ok?n=4"]
--- error_code eval
[502, 200, 502, 503]
--- response_headers_like eval
["Retry-After:", "Retry-After:", "Retry-After:", "Retry-After: 1"]
--- access_log
b1 /fail?n=1 502
b2 /fail?n=3 502
--- timeout: 5



=== TEST 10: "error_page 502 = @fallback" answers the fail-fast request; the backend's own 502 still reaches the client
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
        location /fail { return 502; }
    }
--- config
    location /api/ {
        proxy_pass http://backends/;
        proxy_next_upstream off;
        error_page 502 = @fallback;
    }
    location @fallback {
        return 200 "fallback\n";
    }
--- pipelined_requests eval
["GET /api/fail?n=1", "GET /api/ok?n=2", "GET /api/ok?n=3"]
--- error_code eval
[502, 200, 200]
--- response_headers_like eval
["Retry-After:", "Retry-After:", "Retry-After:"]
--- response_body_like eval
[qr/502 Bad Gateway/, qr/^fallback\n\z/, qr/^fallback\n\z/]
--- access_log
b1 /fail?n=1 502
--- no_access_log
b1 /ok
--- error_log
failing fast



=== TEST 11: "error_page 502 = @fallback" with a fallback that proxies elsewhere (a static copy)
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
        location /fail { return 502; }
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        server_name static;
        access_log logs/access.log backend;
        location / { return 200 "static copy of $uri\n"; }
    }
--- config
    location /api/ {
        proxy_pass http://backends/;
        proxy_next_upstream off;
        error_page 502 = @static;
    }
    location @static {
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    }
--- pipelined_requests eval
["GET /api/fail?n=1", "GET /api/ok?n=2"]
--- error_code eval
[502, 200]
--- response_body_like eval
[qr/502 Bad Gateway/, qr{^static copy of /api/ok\n\z}]
--- access_log
static /api/ok?n=2 200
--- no_access_log
b1 /ok
