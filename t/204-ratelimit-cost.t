# cost=: a request that takes several units of a limit, fixed or from a
# variable; a request whose cost does not fit is rejected and takes
# nothing.

use Test::Nginx::Socket 'no_plan';

check_accum_error_log();
no_shuffle();
run_tests();

__DATA__

=== TEST 1: cost=2 against a limit of 5: 5 -> 3 -> 1, the third is rejected and takes nothing, so a cost-1 request still passes
--- http_config
    gw_ratelimit_zone api key=$remote_addr rate=5r/m;
--- config
    location /heavy {
        gw_ratelimit api cost=2;
        echo heavy;
    }
    location /light {
        gw_ratelimit api;
        echo light;
    }
--- pipelined_requests eval
["GET /heavy", "GET /heavy", "GET /heavy", "GET /light", "GET /light"]
--- error_code eval
[200, 200, 429, 200, 429]
--- response_headers eval
["X-RateLimit-Remaining: 3", "X-RateLimit-Remaining: 1",
 "X-RateLimit-Remaining: 1", "X-RateLimit-Remaining: 0",
 "X-RateLimit-Remaining: 0"]



=== TEST 2: cost=$arg_cost: 3 + 1 of 5, then a cost of 2 is rejected, a cost of 1 passes
--- http_config
    gw_ratelimit_zone api key=$remote_addr rate=5r/m;
--- config
    location /t {
        gw_ratelimit api cost=$arg_cost;
        echo "ok $gw_ratelimit_remaining";
    }
--- pipelined_requests eval
["GET /t?cost=3", "GET /t?cost=1", "GET /t?cost=2", "GET /t?cost=1", "GET /t?cost=1"]
--- error_code eval
[200, 200, 429, 200, 429]
--- response_body eval
["ok 2\n", "ok 1\n", qr/429/, "ok 0\n", qr/429/]



=== TEST 3: a variable cost of 0 takes nothing; an invalid one counts as 1 and is logged at info
--- http_config
    gw_ratelimit_zone api key=$remote_addr rate=2r/m;
--- config
    location /t {
        gw_ratelimit api cost=$arg_cost;
        echo "ok $gw_ratelimit_remaining";
    }
--- pipelined_requests eval
["GET /t?cost=0", "GET /t?cost=0", "GET /t?cost=abc", "GET /t?cost=", "GET /t?cost=0", "GET /t?cost=1"]
--- error_code eval
[200, 200, 200, 200, 200, 429]
--- response_body eval
["ok 2\n", "ok 2\n", "ok 1\n", "ok 0\n", "ok 0\n", qr/429/]
--- error_log
gw_ratelimit: invalid cost "abc" in zone "api", counted as 1



=== TEST 4: a token bucket with cost=3: a bucket of 4 passes one, then Retry-After is the time for the missing 2 tokens (rate=1r/s: 2 s)
--- http_config
    gw_ratelimit_zone tb key=$remote_addr rate=1r/s burst=4 algorithm=token_bucket;
--- config
    location /t {
        gw_ratelimit tb cost=3;
        echo ok;
    }
--- pipelined_requests eval
["GET /t", "GET /t"]
--- error_code eval
[200, 429]
--- response_headers eval
["X-RateLimit-Remaining: 1", "X-RateLimit-Remaining: 1\nRetry-After: 2"]



=== TEST 5: a cost above the limit can never pass
--- http_config
    gw_ratelimit_zone api key=$remote_addr rate=5r/m;
--- config
    location /t {
        gw_ratelimit api cost=6;
        echo ok;
    }
--- request
GET /t
--- error_code: 429
--- response_headers
X-RateLimit-Remaining: 5
