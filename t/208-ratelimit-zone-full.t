# A zone too small for its keys: the least recently used keys are evicted
# (their counts start again), which is logged at warn at most once a
# minute, and no request fails.

use Test::Nginx::Socket 'no_plan';

check_accum_error_log();
no_shuffle();
run_tests();

__DATA__

=== TEST 1: size=32k and 200 keys: every request answered 200 (none 500), the first key is forgotten and passes again, one log line
--- http_config
    gw_ratelimit_zone tiny key=$arg_k rate=1r/m size=32k;
--- config
    location /t {
        gw_ratelimit tiny;
        echo "ok $arg_k";
    }
--- pipelined_requests eval
["GET /t?k=first", "GET /t?k=first", (map { "GET /t?k=key$_" } 1 .. 200), "GET /t?k=first", "GET /t?k=key200"]
--- error_code eval
[200, 429, (200) x 200, 200, 429]
--- grep_error_log eval
qr/gw_ratelimit: zone "tiny" is full, evicting the least recently used keys still counted/
--- grep_error_log_out eval
["gw_ratelimit: zone \"tiny\" is full, evicting the least recently used keys still counted\n"]
--- no_error_log eval
[qr/could not allocate/, qr/\[alert\]/]
--- log_level: info
--- timeout: 20



=== TEST 2: the most recently used keys stay: with 200 keys cycled through, the last ten are still counted
--- http_config
    gw_ratelimit_zone tiny key=$arg_k rate=1r/m size=32k;
--- config
    location /t {
        gw_ratelimit tiny;
        echo "ok $arg_k";
    }
--- pipelined_requests eval
[(map { "GET /t?k=key$_" } 1 .. 200), (map { "GET /t?k=key$_" } 191 .. 200)]
--- error_code eval
[(200) x 200, (429) x 10]
--- log_level: info
--- timeout: 20



=== TEST 3: a default zone (1m) holds 900 keys without evicting any
--- http_config
    gw_ratelimit_zone big key=$arg_k rate=1r/m;
--- config
    location /t {
        gw_ratelimit big;
        echo "ok $arg_k";
    }
--- log_level: info
--- pipelined_requests eval
[(map { "GET /t?k=key$_" } 1 .. 900), "GET /t?k=key1"]
--- error_code eval
[(200) x 900, 429]
--- timeout: 30
