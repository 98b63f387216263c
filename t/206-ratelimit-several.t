# Several gw_ratelimit in one location: every limit must pass; the most
# restrictive one is reported in the headers; when one rejects, what the
# others took is given back.

use Test::Nginx::Socket 'no_plan';

check_accum_error_log();
no_shuffle();
run_tests();

__DATA__

=== TEST 1: a per-minute limit of 10 and a per-day quota of 3: the quota, the most restrictive, is reported and rejects the fourth
--- http_config
    gw_ratelimit_zone minute key=$remote_addr rate=10r/m;
    gw_ratelimit_zone day key=$remote_addr rate=3r/d;
--- config
    location /t {
        gw_ratelimit minute;
        gw_ratelimit day;
        echo ok;
    }
--- pipelined_requests eval
[("GET /t") x 4]
--- error_code eval
[200, 200, 200, 429]
--- response_headers eval
[(map { "X-RateLimit-Limit: 3\nX-RateLimit-Remaining: $_\nRateLimit-Policy: \"day\";q=3;w=86400" } 2, 1, 0),
 "X-RateLimit-Limit: 3\nX-RateLimit-Remaining: 0\nRateLimit-Policy: \"day\";q=3;w=86400"]



=== TEST 2: the other way round, the per-minute limit of 2 is the tighter: it is reported, and rejects the third
--- http_config
    gw_ratelimit_zone minute key=$remote_addr rate=2r/m;
    gw_ratelimit_zone day key=$remote_addr rate=100r/d;
--- config
    location /t {
        gw_ratelimit day;
        gw_ratelimit minute;
        echo ok;
    }
--- pipelined_requests eval
[("GET /t") x 3]
--- error_code eval
[200, 200, 429]
--- response_headers eval
["RateLimit-Policy: \"minute\";q=2;w=60\nX-RateLimit-Remaining: 1",
 "RateLimit-Policy: \"minute\";q=2;w=60\nX-RateLimit-Remaining: 0",
 "RateLimit-Policy: \"minute\";q=2;w=60\nX-RateLimit-Remaining: 0"]



=== TEST 3: a rejection by the second limit gives back what the first took: the first zone's count stays at 2 after five rejected requests
--- http_config
    gw_ratelimit_zone outer key=$remote_addr rate=100r/m;
    gw_ratelimit_zone inner key=$remote_addr rate=2r/m;
--- config
    location /t {
        gw_ratelimit outer;
        gw_ratelimit inner;
        echo ok;
    }
    location /outer {
        gw_ratelimit outer;
        echo "outer $gw_ratelimit_remaining";
    }
--- pipelined_requests eval
[("GET /t") x 7, "GET /outer"]
--- error_code eval
[200, 200, 429, 429, 429, 429, 429, 200]
--- response_body eval
["ok\n", "ok\n", (qr/429/) x 5, "outer 97\n"]



=== TEST 4: the same with a token bucket first: its tokens come back too
--- http_config
    gw_ratelimit_zone outer key=$remote_addr rate=10r/h algorithm=token_bucket;
    gw_ratelimit_zone inner key=$remote_addr rate=1r/m;
--- config
    location /t {
        gw_ratelimit outer;
        gw_ratelimit inner;
        echo ok;
    }
    location /outer {
        gw_ratelimit outer;
        echo "outer $gw_ratelimit_remaining";
    }
--- pipelined_requests eval
[("GET /t") x 4, "GET /outer"]
--- error_code eval
[200, 429, 429, 429, 200]
--- response_body eval
["ok\n", (qr/429/) x 3, "outer 8\n"]



=== TEST 5: limits inherit from server to location, a location with its own replaces them
--- http_config
    gw_ratelimit_zone srv key=$remote_addr rate=1r/m;
    gw_ratelimit_zone loc key=$remote_addr rate=2r/m;
--- config
    gw_ratelimit srv;
    location /inherit {
        echo ok;
    }
    location /own {
        gw_ratelimit loc;
        echo ok;
    }
--- pipelined_requests eval
["GET /inherit", "GET /inherit", "GET /own", "GET /own", "GET /own"]
--- error_code eval
[200, 429, 200, 200, 429]
--- response_headers eval
["RateLimit-Policy: \"srv\";q=1;w=60", "RateLimit-Policy: \"srv\";q=1;w=60",
 "RateLimit-Policy: \"loc\";q=2;w=60", "RateLimit-Policy: \"loc\";q=2;w=60",
 "RateLimit-Policy: \"loc\";q=2;w=60"]



=== TEST 6: the same zone twice in one location is refused
--- http_config
    gw_ratelimit_zone api key=$remote_addr rate=1r/m;
--- config
    location /t {
        gw_ratelimit api;
        gw_ratelimit api cost=2;
        echo ok;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"gw_ratelimit" directive is duplicate in \S+nginx\.conf:\d+/
