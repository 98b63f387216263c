# gw_ratelimit with the sliding_window algorithm (the default) in shared
# memory: exact counts, every header, and the weighting of the previous
# window.  Each block starts a fresh nginx, so counters start at zero.

use Test::Nginx::Socket 'no_plan';

check_accum_error_log();
no_shuffle();
run_tests();

__DATA__

=== TEST 1: rate=5r/m: five 200s, then 429s, with the count in every header
--- http_config
    gw_ratelimit_zone api key=$remote_addr rate=5r/m;
--- config
    location /t {
        gw_ratelimit api;
        echo ok;
    }
--- pipelined_requests eval
[("GET /t") x 7]
--- error_code eval
[200, 200, 200, 200, 200, 429, 429]
--- response_headers eval
[(map { "X-RateLimit-Limit: 5\nX-RateLimit-Remaining: $_\nRateLimit-Policy: \"api\";q=5;w=60\n!Retry-After" } 4, 3, 2, 1, 0),
 ("X-RateLimit-Limit: 5\nX-RateLimit-Remaining: 0\nRateLimit-Policy: \"api\";q=5;w=60") x 2]
--- response_headers_like eval
[(map { "X-RateLimit-Reset: ([1-9]|[1-5][0-9]|60)\nRateLimit: \"api\";r=$_;t=([1-9]|[1-5][0-9]|60)" } 4, 3, 2, 1, 0),
 # Retry-After can pass the window's end: early in a minute the previous
 # window's 5 weigh more than 4 until 12 s into the next one (60 + 12)
 ("X-RateLimit-Reset: ([1-9]|[1-5][0-9]|60)\nRateLimit: \"api\";r=0;t=([1-9]|[1-5][0-9]|60)\nRetry-After: ([1-9]|[1-6][0-9]|7[0-2])") x 2]
--- error_log
gw_ratelimit: limiting requests by zone "api", limit 5



=== TEST 2: keys are counted apart: two of "a" and two of "b" pass with rate=2r/m, the third of each is rejected
--- http_config
    gw_ratelimit_zone api key=$arg_k rate=2r/m;
--- config
    location /t {
        gw_ratelimit api;
        echo ok;
    }
--- pipelined_requests eval
["GET /t?k=a", "GET /t?k=b", "GET /t?k=a", "GET /t?k=b", "GET /t?k=a", "GET /t?k=b", "GET /t?k=c"]
--- error_code eval
[200, 200, 200, 200, 429, 429, 200]
--- response_headers eval
["X-RateLimit-Remaining: 1", "X-RateLimit-Remaining: 1",
 "X-RateLimit-Remaining: 0", "X-RateLimit-Remaining: 0",
 "X-RateLimit-Remaining: 0", "X-RateLimit-Remaining: 0",
 "X-RateLimit-Remaining: 1"]



=== TEST 3: an empty key is not limited, has no headers and leaves $gw_ratelimit_status empty
--- http_config
    gw_ratelimit_zone api key=$arg_k rate=1r/m;
--- config
    location /t {
        gw_ratelimit api;
        echo "status=[$gw_ratelimit_status] remaining=[$gw_ratelimit_remaining]";
    }
--- pipelined_requests eval
[("GET /t") x 4, "GET /t?k=x", "GET /t?k=x"]
--- error_code eval
[200, 200, 200, 200, 200, 429]
--- response_headers eval
[("!X-RateLimit-Limit\n!RateLimit") x 4, "X-RateLimit-Remaining: 0", "X-RateLimit-Remaining: 0"]
--- response_body eval
[("status=[] remaining=[]\n") x 4, "status=[PASSED] remaining=[0]\n",
 qr/429 Too Many Requests/]



=== TEST 4: a daily quota: rate=3r/d; RateLimit-Policy says q=3;w=86400
--- http_config
    gw_ratelimit_zone day key=$remote_addr rate=3r/d;
--- config
    location /t {
        gw_ratelimit day;
        echo ok;
    }
--- pipelined_requests eval
[("GET /t") x 4]
--- error_code eval
[200, 200, 200, 429]
--- response_headers eval
[(map { "RateLimit-Policy: \"day\";q=3;w=86400\nX-RateLimit-Remaining: $_" } 2, 1, 0),
 "RateLimit-Policy: \"day\";q=3;w=86400\nX-RateLimit-Remaining: 0"]
--- response_headers_like eval
[(("X-RateLimit-Reset: \\d+") x 3), "Retry-After: \\d+"]



=== TEST 5: window=10s with rate=30r/m: a limit of 5 per 10-second window
--- http_config
    gw_ratelimit_zone api key=$remote_addr rate=30r/m window=10s;
--- config
    location /t {
        gw_ratelimit api;
        echo ok;
    }
--- pipelined_requests eval
[("GET /t") x 6]
--- error_code eval
[200, 200, 200, 200, 200, 429]
--- response_headers eval
[(map { "RateLimit-Policy: \"api\";q=5;w=10\nX-RateLimit-Limit: 5\nX-RateLimit-Remaining: $_" } 4, 3, 2, 1, 0),
 "X-RateLimit-Remaining: 0"]



=== TEST 6: a rejected request with error_page to a named location is counted once, and the 429 page carries the headers; the fallback sees REJECTED
--- http_config
    gw_ratelimit_zone api key=$remote_addr rate=2r/m;
--- config
    location /t {
        gw_ratelimit api;
        error_page 429 = @limited;
        echo ok;
    }
    location @limited {
        gw_ratelimit api;
        echo "limited: $gw_ratelimit_status $gw_ratelimit_remaining";
    }
--- pipelined_requests eval
[("GET /t") x 4]
--- error_code eval
[200, 200, 200, 200]
--- response_body eval
["ok\n", "ok\n", "limited: REJECTED 0\n", "limited: REJECTED 0\n"]
--- response_headers eval
["X-RateLimit-Remaining: 1", "X-RateLimit-Remaining: 0",
 "X-RateLimit-Remaining: 0\nX-RateLimit-Limit: 2",
 "X-RateLimit-Remaining: 0\nX-RateLimit-Limit: 2"]



=== TEST 7: an internal redirect (try_files to another limited location) is counted once: three requests of a limit of three pass
--- http_config
    gw_ratelimit_zone api key=$remote_addr rate=3r/m;
--- config
    location /t {
        gw_ratelimit api;
        try_files /nonexistent @next;
    }
    location @next {
        gw_ratelimit api;
        echo "next: $gw_ratelimit_remaining";
    }
--- pipelined_requests eval
[("GET /t") x 4]
--- error_code eval
[200, 200, 200, 429]
--- response_body eval
["next: 2\n", "next: 1\n", "next: 0\n", qr/429/]
