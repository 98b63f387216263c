# gw_ratelimit with redis=: the check runs in Redis (t/run's redis-server,
# $TEST_NGINX_REDIS_PORT), exactly: rate=5r/m lets five requests through and
# rejects the sixth, for both algorithms, with the documented headers
# (X-RateLimit-*, RateLimit-Policy, RateLimit, Retry-After on rejection)
# and variables; gw_ratelimit_status, gw_ratelimit_headers, cost=, dry_run
# and several gw_ratelimit in one location behave as documented with Redis
# too.
#
# The sliding window is the weighted two-window counter: after five requests
# early in a window, the sixth may have to wait until 12 s into the next
# one, so Retry-After (and t=) for rate=5r/m go up to 72 s, and a reset
# (back to a full quota) up to two windows.
#
# Rejections are logged at "error" ("limiting requests by zone ...", the
# default gw_ratelimit_log_level, as limit_req's); any other error, such as
# one from the Redis client, fails a block.
#
# The Redis server is shared by every test of the run, and nginx restarts
# for each block: every block's limiter keys carry $TEST_NGINX_RLID, unique
# to this run, and the block number.
#
# The Redis timeout is $TEST_NGINX_REDIS_TIMEOUT: the client's default,
# 50ms, except under valgrind (set by Test::Nginx::Socket).

use Test::Nginx::Socket 'no_plan';

$ENV{TEST_NGINX_RLID} = sprintf 't630-%x-%x', $$, time;

plan skip_all => 'TEST_NGINX_REDIS_PORT not set (run under t/run)'
    unless $ENV{TEST_NGINX_REDIS_PORT};

no_shuffle();
run_tests();

__DATA__

=== TEST 1: sliding window in Redis, rate=5r/m: five pass, the sixth is rejected with 429
--- http_config
    gw_redis main 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=$TEST_NGINX_REDIS_TIMEOUT;
    gw_ratelimit_zone sw key=$TEST_NGINX_RLID-1 rate=5r/m redis=main;
--- config
    location = /t {
        gw_ratelimit sw;
        add_header X-RL-Status $gw_ratelimit_status always;
        echo ok;
    }
--- request eval
["GET /t", "GET /t", "GET /t", "GET /t", "GET /t", "GET /t"]
--- error_code eval
[200, 200, 200, 200, 200, 429]
--- response_headers eval
[
"X-RateLimit-Limit: 5\nX-RateLimit-Remaining: 4\nRateLimit-Policy: \"sw\";q=5;w=60\nX-RL-Status: PASSED\n!Retry-After",
"X-RateLimit-Limit: 5\nX-RateLimit-Remaining: 3\nX-RL-Status: PASSED\n!Retry-After",
"X-RateLimit-Limit: 5\nX-RateLimit-Remaining: 2\nX-RL-Status: PASSED\n!Retry-After",
"X-RateLimit-Limit: 5\nX-RateLimit-Remaining: 1\nX-RL-Status: PASSED\n!Retry-After",
"X-RateLimit-Limit: 5\nX-RateLimit-Remaining: 0\nX-RL-Status: PASSED\n!Retry-After",
"X-RateLimit-Limit: 5\nX-RateLimit-Remaining: 0\nRateLimit-Policy: \"sw\";q=5;w=60\nX-RL-Status: REJECTED",
]
--- response_headers_like eval
[
"X-RateLimit-Reset: \\d+\nRateLimit: \"sw\";r=4;t=\\d+",
"RateLimit: \"sw\";r=3;t=\\d+",
"RateLimit: \"sw\";r=2;t=\\d+",
"RateLimit: \"sw\";r=1;t=\\d+",
"RateLimit: \"sw\";r=0;t=\\d+",
"X-RateLimit-Reset: \\d+\nRateLimit: \"sw\";r=0;t=([1-9]|[1-6]\\d|7[0-2])\nRetry-After: ([1-9]|[1-6]\\d|7[0-2])",
]
--- no_error_log eval
qr/\[error\](?!.*limiting requests by zone)/



=== TEST 2: token bucket in Redis, rate=5r/m: five pass, the sixth is rejected with 429
--- http_config
    gw_redis main 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=$TEST_NGINX_REDIS_TIMEOUT;
    gw_ratelimit_zone tb key=$TEST_NGINX_RLID-2 rate=5r/m
                      algorithm=token_bucket redis=main;
--- config
    location = /t {
        gw_ratelimit tb;
        add_header X-RL-Status $gw_ratelimit_status always;
        echo ok;
    }
--- request eval
["GET /t", "GET /t", "GET /t", "GET /t", "GET /t", "GET /t"]
--- error_code eval
[200, 200, 200, 200, 200, 429]
--- response_headers eval
[
"X-RateLimit-Limit: 5\nX-RateLimit-Remaining: 4\nX-RL-Status: PASSED\n!Retry-After",
"X-RateLimit-Remaining: 3\nX-RL-Status: PASSED",
"X-RateLimit-Remaining: 2\nX-RL-Status: PASSED",
"X-RateLimit-Remaining: 1\nX-RL-Status: PASSED",
"X-RateLimit-Remaining: 0\nX-RL-Status: PASSED",
"X-RateLimit-Limit: 5\nX-RateLimit-Remaining: 0\nX-RL-Status: REJECTED",
]
--- response_headers_like eval
[
"RateLimit-Policy: \"tb\";q=5;w=\\d+\nRateLimit: \"tb\";r=4;t=\\d+",
"RateLimit: \"tb\";r=3;t=\\d+",
"RateLimit: \"tb\";r=2;t=\\d+",
"RateLimit: \"tb\";r=1;t=\\d+",
"RateLimit: \"tb\";r=0;t=\\d+",
"RateLimit: \"tb\";r=0;t=\\d+\nRetry-After: ([1-9]|1[0-2])",
]
--- no_error_log eval
qr/\[error\](?!.*limiting requests by zone)/



=== TEST 3: every limiter key counts on its own (key=$arg_u), in Redis
--- http_config
    gw_redis main 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=$TEST_NGINX_REDIS_TIMEOUT;
    gw_ratelimit_zone perkey key=$TEST_NGINX_RLID-3-$arg_u rate=2r/m
                      redis=main;
--- config
    location = /t {
        gw_ratelimit perkey;
        echo ok;
    }
--- request eval
["GET /t?u=a", "GET /t?u=b", "GET /t?u=a", "GET /t?u=a", "GET /t?u=b",
 "GET /t?u=b", "GET /t?u=c"]
--- error_code eval
[200, 200, 200, 429, 200, 429, 200]



=== TEST 4: the variables $gw_ratelimit_remaining and $gw_ratelimit_reset
--- http_config
    gw_redis main 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=$TEST_NGINX_REDIS_TIMEOUT;
    gw_ratelimit_zone vars key=$TEST_NGINX_RLID-4 rate=2r/m redis=main;
--- config
    location = /t {
        gw_ratelimit vars;
        add_header X-Rem $gw_ratelimit_remaining always;
        add_header X-Reset $gw_ratelimit_reset always;
        add_header X-St $gw_ratelimit_status always;
        echo ok;
    }
--- request eval
["GET /t", "GET /t", "GET /t"]
--- error_code eval
[200, 200, 429]
--- response_headers eval
["X-Rem: 1\nX-St: PASSED", "X-Rem: 0\nX-St: PASSED", "X-Rem: 0\nX-St: REJECTED"]
--- response_headers_like eval
["X-Reset: ([0-9]|[1-9][0-9]|1[01][0-9]|120)",
 "X-Reset: ([0-9]|[1-9][0-9]|1[01][0-9]|120)",
 "X-Reset: ([1-9]|[1-9][0-9]|1[01][0-9]|120)"]



=== TEST 5: gw_ratelimit_status 503 with Redis
--- http_config
    gw_redis main 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=$TEST_NGINX_REDIS_TIMEOUT;
    gw_ratelimit_zone st key=$TEST_NGINX_RLID-5 rate=1r/m redis=main;
--- config
    location = /t {
        gw_ratelimit st;
        gw_ratelimit_status 503;
        echo ok;
    }
--- request eval
["GET /t", "GET /t"]
--- error_code eval
[200, 503]
--- response_headers_like eval
["X-RateLimit-Remaining: 0", "Retry-After: \\d+"]



=== TEST 6: gw_ratelimit_headers legacy: X-RateLimit-* only
--- http_config
    gw_redis main 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=$TEST_NGINX_REDIS_TIMEOUT;
    gw_ratelimit_zone hl key=$TEST_NGINX_RLID-6 rate=1r/m redis=main;
--- config
    location = /t {
        gw_ratelimit hl;
        gw_ratelimit_headers legacy;
        echo ok;
    }
--- request eval
["GET /t", "GET /t"]
--- error_code eval
[200, 429]
--- response_headers eval
["X-RateLimit-Limit: 1\nX-RateLimit-Remaining: 0\n!RateLimit\n!RateLimit-Policy",
 "X-RateLimit-Limit: 1\nX-RateLimit-Remaining: 0\n!RateLimit\n!RateLimit-Policy"]
--- response_headers_like eval
["X-RateLimit-Reset: \\d+", "Retry-After: \\d+"]



=== TEST 7: gw_ratelimit_headers draft: RateLimit and RateLimit-Policy only
--- http_config
    gw_redis main 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=$TEST_NGINX_REDIS_TIMEOUT;
    gw_ratelimit_zone hd key=$TEST_NGINX_RLID-7 rate=1r/m redis=main;
--- config
    location = /t {
        gw_ratelimit hd;
        gw_ratelimit_headers draft;
        echo ok;
    }
--- request eval
["GET /t", "GET /t"]
--- error_code eval
[200, 429]
--- response_headers eval
["RateLimit-Policy: \"hd\";q=1;w=60\n!X-RateLimit-Limit\n!X-RateLimit-Remaining\n!X-RateLimit-Reset",
 "RateLimit-Policy: \"hd\";q=1;w=60\n!X-RateLimit-Limit\n!X-RateLimit-Remaining"]
--- response_headers_like eval
["RateLimit: \"hd\";r=0;t=\\d+", "Retry-After: \\d+"]



=== TEST 8: gw_ratelimit_headers off: no rate limit headers on a pass
--- http_config
    gw_redis main 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=$TEST_NGINX_REDIS_TIMEOUT;
    gw_ratelimit_zone ho key=$TEST_NGINX_RLID-8 rate=1r/m redis=main;
--- config
    location = /t {
        gw_ratelimit ho;
        gw_ratelimit_headers off;
        echo ok;
    }
--- request eval
["GET /t", "GET /t"]
--- error_code eval
[200, 429]
--- response_headers eval
["!X-RateLimit-Limit\n!X-RateLimit-Remaining\n!RateLimit\n!RateLimit-Policy",
 "!X-RateLimit-Limit\n!X-RateLimit-Remaining\n!RateLimit\n!RateLimit-Policy"]



=== TEST 9: cost=2 counts two requests in Redis; cost from a variable
--- http_config
    gw_redis main 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=$TEST_NGINX_REDIS_TIMEOUT;
    gw_ratelimit_zone c2 key=$TEST_NGINX_RLID-9a rate=5r/m redis=main;
    gw_ratelimit_zone cv key=$TEST_NGINX_RLID-9b rate=5r/m redis=main;
--- config
    location = /fixed {
        gw_ratelimit c2 cost=2;
        echo ok;
    }
    location = /var {
        gw_ratelimit cv cost=$arg_c;
        echo ok;
    }
--- request eval
["GET /fixed", "GET /fixed", "GET /fixed",
 "GET /var?c=4", "GET /var?c=2", "GET /var?c=1", "GET /var?c=1"]
--- error_code eval
[200, 200, 429, 200, 429, 200, 429]
--- response_headers eval
["X-RateLimit-Remaining: 3", "X-RateLimit-Remaining: 1",
 "X-RateLimit-Remaining: 1",
 "X-RateLimit-Remaining: 1", "X-RateLimit-Remaining: 1",
 "X-RateLimit-Remaining: 0", "X-RateLimit-Remaining: 0"]



=== TEST 10: dry_run: over the limit is DRY_RUN and passes
--- http_config
    gw_redis main 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=$TEST_NGINX_REDIS_TIMEOUT;
    gw_ratelimit_zone dr key=$TEST_NGINX_RLID-10 rate=2r/m redis=main;
--- config
    location = /t {
        gw_ratelimit dr dry_run;
        add_header X-RL-Status $gw_ratelimit_status always;
        echo ok;
    }
--- request eval
["GET /t", "GET /t", "GET /t", "GET /t"]
--- error_code eval
[200, 200, 200, 200]
--- response_headers eval
["X-RL-Status: PASSED", "X-RL-Status: PASSED", "X-RL-Status: DRY_RUN",
 "X-RL-Status: DRY_RUN"]
--- response_body eval
["ok\n", "ok\n", "ok\n", "ok\n"]



=== TEST 11: two limits in one location (one in Redis, one in shared memory): all must pass
--- http_config
    gw_redis main 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=$TEST_NGINX_REDIS_TIMEOUT;
    gw_ratelimit_zone wide key=$TEST_NGINX_RLID-11a rate=10r/m redis=main;
    gw_ratelimit_zone tight key=$TEST_NGINX_RLID-11b rate=3r/m size=1m;
--- config
    location = /t {
        gw_ratelimit wide;
        gw_ratelimit tight;
        echo ok;
    }
    location = /wide {
        gw_ratelimit wide;
        echo ok;
    }
--- request eval
["GET /t", "GET /t", "GET /t", "GET /t", "GET /wide"]
--- error_code eval
[200, 200, 200, 429, 200]
--- response_headers eval
["", "", "", "", "X-RateLimit-Limit: 10"]



=== TEST 12: one zone, two locations: one count in Redis
--- http_config
    gw_redis main 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=$TEST_NGINX_REDIS_TIMEOUT;
    gw_ratelimit_zone shared key=$TEST_NGINX_RLID-12 rate=3r/m redis=main;
--- config
    location = /a {
        gw_ratelimit shared;
        echo a;
    }
    location = /b {
        gw_ratelimit shared;
        echo b;
    }
--- request eval
["GET /a", "GET /b", "GET /a", "GET /b"]
--- error_code eval
[200, 200, 200, 429]



=== TEST 13: rate=2r/s window=1s in Redis: the third request within the second is rejected, the window frees them after it
--- http_config
    gw_redis main 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=$TEST_NGINX_REDIS_TIMEOUT;
    gw_ratelimit_zone sec key=$TEST_NGINX_RLID-13 rate=2r/s window=1s
                      redis=main;
--- config
    location = /t {
        gw_ratelimit sec;
        echo ok;
    }
    location = /pause {
        echo_sleep 2.2;
        echo done;
    }
--- request eval
["GET /t", "GET /t", "GET /t", "GET /pause", "GET /t"]
--- error_code eval
[200, 200, 429, 200, 200]
--- timeout: 5



=== TEST 14: an internal redirect does not count a request twice in Redis
--- http_config
    gw_redis main 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=$TEST_NGINX_REDIS_TIMEOUT;
    gw_ratelimit_zone redir key=$TEST_NGINX_RLID-14 rate=2r/m redis=main;
--- config
    location = /t {
        gw_ratelimit redir;
        error_page 404 = /fallback;
        root html;
    }
    location = /fallback {
        gw_ratelimit redir;
        echo fallback;
    }
--- request eval
["GET /t", "GET /t", "GET /t"]
--- error_code eval
[200, 200, 429]
