# gw_ratelimit with algorithm=token_bucket in shared memory: a full bucket
# of "burst" tokens (default: the rate's N), each request takes one, and
# tokens come back at "rate".  Refill is checked with pauses taken by a
# location that is not limited (/pause?s=...).

use Test::Nginx::Socket 'no_plan';

check_accum_error_log();
no_shuffle();
run_tests();

__DATA__

=== TEST 1: rate=5r/m: a bucket of five, then 429 with Retry-After 12 (one token every 12 s) and a reset of 60 s to refill
--- http_config
    gw_ratelimit_zone tb key=$remote_addr rate=5r/m algorithm=token_bucket;
--- config
    location /t {
        gw_ratelimit tb;
        echo ok;
    }
--- pipelined_requests eval
[("GET /t") x 7]
--- error_code eval
[200, 200, 200, 200, 200, 429, 429]
--- response_headers eval
[(map { "X-RateLimit-Limit: 5\nX-RateLimit-Remaining: $_\nRateLimit-Policy: \"tb\";q=5;w=60\nRateLimit: \"tb\";r=$_;t=" . (12 * (5 - $_)) . "\n!Retry-After" } 4, 3, 2, 1, 0),
 ("X-RateLimit-Limit: 5\nX-RateLimit-Remaining: 0\nX-RateLimit-Reset: 60\nRateLimit: \"tb\";r=0;t=60\nRetry-After: 12") x 2]
--- error_log
gw_ratelimit: limiting requests by zone "tb", limit 5, retry after



=== TEST 2: burst=10 with rate=5r/m: ten pass, the eleventh is rejected; the policy is q=10 over the 120 s a full refill takes
--- http_config
    gw_ratelimit_zone tb key=$remote_addr rate=5r/m algorithm=token_bucket burst=10;
--- config
    location /t {
        gw_ratelimit tb;
        echo ok;
    }
--- pipelined_requests eval
[("GET /t") x 11]
--- error_code eval
[(200) x 10, 429]
--- response_headers eval
[(map { "X-RateLimit-Remaining: $_\nRateLimit-Policy: \"tb\";q=10;w=120" } CORE::reverse 0 .. 9),
 "X-RateLimit-Remaining: 0\nRetry-After: 12"]



=== TEST 3: rate=2r/s: two pass, the third is rejected; 0.6 s later one more token is back (1.2), so one passes and the next is rejected
--- http_config
    gw_ratelimit_zone tb key=$remote_addr rate=2r/s algorithm=token_bucket;
--- config
    location /t {
        gw_ratelimit tb;
        echo ok;
    }
    location = /pause {
        echo_sleep $arg_s;
        echo paused;
    }
--- request eval
["GET /t", "GET /t", "GET /t", "GET /pause?s=0.6", "GET /t", "GET /t"]
--- error_code eval
[200, 200, 429, 200, 200, 429]
--- response_headers eval
["X-RateLimit-Remaining: 1", "X-RateLimit-Remaining: 0", "Retry-After: 1",
 "!X-RateLimit-Remaining", "X-RateLimit-Remaining: 0", "Retry-After: 1"]
--- skip_eval: 12: $ENV{TEST_NGINX_USE_VALGRIND}



=== TEST 4: rate=2r/s: after a second of rest the bucket is full again: two pass, not three
--- http_config
    gw_ratelimit_zone tb key=$remote_addr rate=2r/s algorithm=token_bucket;
--- config
    location /t {
        gw_ratelimit tb;
        echo ok;
    }
    location = /pause {
        echo_sleep $arg_s;
        echo paused;
    }
--- request eval
["GET /t", "GET /t", "GET /t", "GET /pause?s=1.5", "GET /t", "GET /t", "GET /t"]
--- error_code eval
[200, 200, 429, 200, 200, 200, 429]
--- response_headers eval
["X-RateLimit-Remaining: 1", "X-RateLimit-Remaining: 0", "X-RateLimit-Remaining: 0",
 "!X-RateLimit-Remaining", "X-RateLimit-Remaining: 1", "X-RateLimit-Remaining: 0",
 "X-RateLimit-Remaining: 0"]



=== TEST 5: a day's quota as a token bucket: rate=3r/d, three pass, then Retry-After of 8 hours (28800 s)
--- http_config
    gw_ratelimit_zone tb key=$remote_addr rate=3r/d algorithm=token_bucket;
--- config
    location /t {
        gw_ratelimit tb;
        echo ok;
    }
--- pipelined_requests eval
[("GET /t") x 4]
--- error_code eval
[200, 200, 200, 429]
--- response_headers eval
["RateLimit-Policy: \"tb\";q=3;w=86400\nRateLimit: \"tb\";r=2;t=28800",
 "RateLimit: \"tb\";r=1;t=57600", "RateLimit: \"tb\";r=0;t=86400",
 "RateLimit: \"tb\";r=0;t=86400\nRetry-After: 28800"]
