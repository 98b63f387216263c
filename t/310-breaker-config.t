# Configuration: every invalid use of gw_breaker, gw_breaker_failure and
# gw_breaker_status makes nginx refuse to start (as "nginx -t" would), with
# a message that names the directive or parameter, the file and the line;
# and the accepted forms, with what they mean, work.

use Test::Nginx::Socket 'no_plan';

check_accum_error_log();
no_shuffle();
run_tests();

__DATA__

=== TEST 1: least_conn after gw_breaker: nginx -t fails, naming the upstream, file and line
--- http_config
    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker;
        least_conn;
    }
--- config
    location /api/ {
        proxy_pass http://backends;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"gw_breaker" in upstream "backends" in \S+nginx\.conf:\d+ must follow the load balancing directive/



=== TEST 2: hash after gw_breaker: nginx -t fails, naming the upstream, file and line
--- http_config
    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker;
        hash $uri;
    }
--- config
    location /api/ {
        proxy_pass http://backends;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"gw_breaker" in upstream "backends" in \S+nginx\.conf:\d+ must follow the load balancing directive/



=== TEST 3: ip_hash after gw_breaker: nginx -t fails, naming the upstream, file and line
--- http_config
    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker;
        ip_hash;
    }
--- config
    location /api/ {
        proxy_pass http://backends;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"gw_breaker" in upstream "backends" in \S+nginx\.conf:\d+ must follow the load balancing directive/



=== TEST 4: random after gw_breaker: nginx -t fails, naming the upstream, file and line
--- http_config
    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker;
        random;
    }
--- config
    location /api/ {
        proxy_pass http://backends;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"gw_breaker" in upstream "backends" in \S+nginx\.conf:\d+ must follow the load balancing directive/



=== TEST 5: an unknown parameter
--- http_config
    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker failures=3 fails=2;
    }
--- config
    location /api/ {
        proxy_pass http://backends;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid parameter "fails=2" in \S+nginx\.conf:\d+/



=== TEST 6: a parameter without "="
--- http_config
    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker failures;
    }
--- config
    location /api/ {
        proxy_pass http://backends;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid parameter "failures" in \S+nginx\.conf:\d+/



=== TEST 7: failure_rate above 100
--- http_config
    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker failure_rate=101;
    }
--- config
    location /api/ {
        proxy_pass http://backends;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value "failure_rate=101" in \S+nginx\.conf:\d+/



=== TEST 8: a count that is not a number
--- http_config
    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker failures=three;
    }
--- config
    location /api/ {
        proxy_pass http://backends;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value "failures=three" in \S+nginx\.conf:\d+/



=== TEST 9: a negative count
--- http_config
    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker min_requests=-1 failure_rate=50;
    }
--- config
    location /api/ {
        proxy_pass http://backends;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value "min_requests=-1" in \S+nginx\.conf:\d+/



=== TEST 10: an empty count
--- http_config
    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker half_open=;
    }
--- config
    location /api/ {
        proxy_pass http://backends;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value "half_open=" in \S+nginx\.conf:\d+/



=== TEST 11: a time that is not a time
--- http_config
    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker open=soon;
    }
--- config
    location /api/ {
        proxy_pass http://backends;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value "open=soon" in \S+nginx\.conf:\d+/



=== TEST 12: a time with an unknown unit
--- http_config
    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker slow=2x;
    }
--- config
    location /api/ {
        proxy_pass http://backends;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value "slow=2x" in \S+nginx\.conf:\d+/



=== TEST 13: failures=0 without failure_rate
--- http_config
    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker failures=0;
    }
--- config
    location /api/ {
        proxy_pass http://backends;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"gw_breaker" directive needs "failures" or "failure_rate" above zero in \S+nginx\.conf:\d+/



=== TEST 14: failure_rate=0 without failures
--- http_config
    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker failure_rate=0;
    }
--- config
    location /api/ {
        proxy_pass http://backends;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"gw_breaker" directive needs "failures" or "failure_rate" above zero in \S+nginx\.conf:\d+/



=== TEST 15: open=0
--- http_config
    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker open=0;
    }
--- config
    location /api/ {
        proxy_pass http://backends;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"gw_breaker" directive needs "open" above zero and "max_open" not below it in \S+nginx\.conf:\d+/



=== TEST 16: max_open below open
--- http_config
    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker open=1m max_open=30s;
    }
--- config
    location /api/ {
        proxy_pass http://backends;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"gw_breaker" directive needs "open" above zero and "max_open" not below it in \S+nginx\.conf:\d+/



=== TEST 17: max_open below the default open (30s)
--- http_config
    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker max_open=10s;
    }
--- config
    location /api/ {
        proxy_pass http://backends;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"gw_breaker" directive needs "open" above zero and "max_open" not below it in \S+nginx\.conf:\d+/



=== TEST 18: half_open=0
--- http_config
    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker half_open=0;
    }
--- config
    location /api/ {
        proxy_pass http://backends;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"gw_breaker" directive needs "half_open", "successes" and "min_requests" above zero in \S+nginx\.conf:\d+/



=== TEST 19: successes=0
--- http_config
    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker successes=0;
    }
--- config
    location /api/ {
        proxy_pass http://backends;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"gw_breaker" directive needs "half_open", "successes" and "min_requests" above zero in \S+nginx\.conf:\d+/



=== TEST 20: min_requests=0
--- http_config
    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker failure_rate=50 min_requests=0;
    }
--- config
    location /api/ {
        proxy_pass http://backends;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"gw_breaker" directive needs "half_open", "successes" and "min_requests" above zero in \S+nginx\.conf:\d+/



=== TEST 21: a window under 10ms
--- http_config
    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker failure_rate=50 window=5ms;
    }
--- config
    location /api/ {
        proxy_pass http://backends;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"gw_breaker" directive needs "window" of at least 10ms in \S+nginx\.conf:\d+/



=== TEST 22: gw_breaker twice
--- http_config
    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker;
        gw_breaker failures=3;
    }
--- config
    location /api/ {
        proxy_pass http://backends;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"gw_breaker" directive is duplicate in \S+nginx\.conf:\d+/



=== TEST 23: an unknown failure class
--- http_config
    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker;
        gw_breaker_failure error http_404;
    }
--- config
    location /api/ {
        proxy_pass http://backends;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value "http_404" in \S+nginx\.conf:\d+/



=== TEST 24: gw_breaker outside upstream{}
--- http_config
    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
--- config
    location /api/ {
        gw_breaker;
        proxy_pass http://backends;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"gw_breaker" directive is not allowed here in \S+nginx\.conf:\d+/



=== TEST 25: gw_breaker_failure outside upstream{}
--- http_config
    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker;
    }
--- config
    location /api/ {
        gw_breaker_failure error;
        proxy_pass http://backends;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"gw_breaker_failure" directive is not allowed here in \S+nginx\.conf:\d+/



=== TEST 26: gw_breaker_status 399
--- http_config
    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker;
    }
--- config
    location /api/ {
        gw_breaker_status 399;
        proxy_pass http://backends;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*value "399" must be between 400 and 599 in \S+nginx\.conf:\d+/



=== TEST 27: gw_breaker_status 600
--- http_config
    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker;
    }
--- config
    location /api/ {
        gw_breaker_status 600;
        proxy_pass http://backends;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*value "600" must be between 400 and 599 in \S+nginx\.conf:\d+/



=== TEST 28: gw_breaker_status abc
--- http_config
    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker;
    }
--- config
    location /api/ {
        gw_breaker_status abc;
        proxy_pass http://backends;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*value "abc" must be between 400 and 599 in \S+nginx\.conf:\d+/



=== TEST 29: gw_breaker_status twice in one location
--- http_config
    upstream backends {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker;
    }
--- config
    location /api/ {
        gw_breaker_status 503;
        gw_breaker_status 429;
        proxy_pass http://backends;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"gw_breaker_status" directive is duplicate in \S+nginx\.conf:\d+/



=== TEST 30: gw_breaker_status without a value
--- config
    location /api/ {
        gw_breaker_status;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid number of arguments in "gw_breaker_status" directive in \S+nginx\.conf:\d+/



=== TEST 31: more peers than the breakers' zone holds
--- http_config eval
# 400 servers (the zone of 256 KB holds about 350)
"    upstream backends {\n"
. ("        server 127.0.0.1:\$TEST_NGINX_RAND_PORT_1;\n" x 400)
. "        gw_breaker;\n    }\n"
--- config
    location /api/ {
        proxy_pass http://backends;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*gw_breaker: too many peers in upstream "backends" in \S+nginx\.conf:\d+/



=== TEST 32: accepted: every parameter at once, with times in nginx's units
--- http_config
    upstream backends {
        least_conn;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker failures=3 failure_rate=50 min_requests=20 window=30s
                   slow=2500ms open=15s max_open=1h half_open=2 successes=3;
        gw_breaker_failure error timeout invalid_header http_500 http_502
                           http_503 http_504 http_429;
        keepalive 4;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location /ok { return 200 "b1\n"; }
    }
--- config
    gw_breaker_status 599;

    location /api/ {
        gw_breaker_status 400;
        proxy_pass http://backends/;
    }
--- request
GET /api/ok
--- response_body
b1



=== TEST 33: an upstream with a "zone" of its own: the breaker works the same
--- http_config
    upstream backends {
        zone backends 64k;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        gw_breaker failures=1;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location /ok   { return 200 "b1\n"; }
        location /fail { return 502; }
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        location /ok   { return 200 "b2\n"; }
        location /fail { return 502; }
    }
--- config
    location /api/ {
        proxy_pass http://backends/;
        proxy_next_upstream off;
    }
--- pipelined_requests eval
["GET /api/fail", "GET /api/fail", "GET /api/ok"]
--- error_code eval
[502, 502, 503]
--- response_headers_like eval
["Retry-After:", "Retry-After:", "Retry-After: (29|30)"]



=== TEST 34: two upstreams with the same server have breakers of their own: "one" opening does not open "two"
--- http_config
    upstream one {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker failures=1;
    }

    upstream two {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker failures=1;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location /ok   { return 200 "b1\n"; }
        location /fail { return 502; }
    }
--- config
    location /one/ {
        proxy_pass http://one/;
        proxy_next_upstream off;
    }
    location /two/ {
        proxy_pass http://two/;
        proxy_next_upstream off;
    }
--- pipelined_requests eval
["GET /one/fail", "GET /one/ok", "GET /two/ok"]
--- error_code eval
[502, 503, 200]
--- response_body_like eval
[qr/502/, qr/503/, qr/^b1\n\z/]
--- error_log
of upstream "one" opened
--- no_error_log
of upstream "two"
