# dry_run (the soft limit) and gw_ratelimit_log_level: a dry-run limit
# never rejects, but counts, sends the headers, sets DRY_RUN and logs one
# level below rejections, as limit_req_dry_run and limit_req_log_level.

use Test::Nginx::Socket 'no_plan';

check_accum_error_log();
no_shuffle();
run_tests();

__DATA__

=== TEST 1: dry_run with rate=2r/m: all pass; the third and fourth say DRY_RUN with no remaining, and no Retry-After; logged at warn (one below the default error)
--- http_config
    gw_ratelimit_zone api key=$remote_addr rate=2r/m;
--- config
    location /t {
        gw_ratelimit api dry_run;
        add_header X-Status $gw_ratelimit_status always;
        echo ok;
    }
--- pipelined_requests eval
[("GET /t") x 4]
--- error_code eval
[200, 200, 200, 200]
--- response_headers eval
["X-Status: PASSED\nX-RateLimit-Remaining: 1\n!Retry-After",
 "X-Status: PASSED\nX-RateLimit-Remaining: 0\n!Retry-After",
 "X-Status: DRY_RUN\nX-RateLimit-Remaining: 0\n!Retry-After",
 "X-Status: DRY_RUN\nX-RateLimit-Remaining: 0\n!Retry-After"]
--- response_headers_like eval
[("RateLimit: \"api\";r=[01];t=\\d+") x 4]
--- error_log eval
qr/\[warn\] .*gw_ratelimit: dry run, over the limit of zone "api", limit 2/



=== TEST 2: gw_ratelimit_log_level warn: a rejection is logged at warn, a dry run at notice
--- http_config
    gw_ratelimit_zone hard key=$remote_addr rate=1r/m;
    gw_ratelimit_zone soft key=$remote_addr rate=1r/m;
--- config
    gw_ratelimit_log_level warn;
    location /hard {
        gw_ratelimit hard;
        echo ok;
    }
    location /soft {
        gw_ratelimit soft dry_run;
        echo ok;
    }
--- pipelined_requests eval
["GET /hard", "GET /hard", "GET /soft", "GET /soft"]
--- error_code eval
[200, 429, 200, 200]
--- error_log eval
[qr/\[warn\] .*gw_ratelimit: limiting requests by zone "hard", limit 1, retry after \d+ ms/,
 qr/\[notice\] .*gw_ratelimit: dry run, over the limit of zone "soft", limit 1/]
--- no_error_log eval
[qr/\[error\] .*gw_ratelimit/, qr/\[warn\] .*dry run/]



=== TEST 3: gw_ratelimit_log_level info: rejections at info, dry runs at info too (nothing lower than info)
--- http_config
    gw_ratelimit_zone hard key=$remote_addr rate=1r/m;
--- config
    gw_ratelimit_log_level info;
    location /hard {
        gw_ratelimit hard;
        echo ok;
    }
--- pipelined_requests eval
["GET /hard", "GET /hard"]
--- error_code eval
[200, 429]
--- error_log eval
qr/\[info\] .*gw_ratelimit: limiting requests by zone "hard"/
--- no_error_log eval
qr/\[(?:error|warn|notice)\] .*gw_ratelimit/



=== TEST 4: the default level is error, as limit_req's
--- http_config
    gw_ratelimit_zone hard key=$remote_addr rate=1r/m;
--- config
    location /hard {
        gw_ratelimit hard;
        echo ok;
    }
--- pipelined_requests eval
["GET /hard", "GET /hard"]
--- error_code eval
[200, 429]
--- error_log eval
qr/\[error\] .*gw_ratelimit: limiting requests by zone "hard", limit 1/



=== TEST 5: a dry-run limit next to an enforced one: the enforced one rejects, the dry run never does
--- http_config
    gw_ratelimit_zone soft key=$remote_addr rate=1r/m;
    gw_ratelimit_zone hard key=$remote_addr rate=3r/m;
--- config
    location /t {
        gw_ratelimit soft dry_run;
        gw_ratelimit hard;
        add_header X-Status $gw_ratelimit_status always;
        echo ok;
    }
--- pipelined_requests eval
[("GET /t") x 4]
--- error_code eval
[200, 200, 200, 429]
--- response_headers eval
["X-Status: PASSED", "X-Status: DRY_RUN", "X-Status: DRY_RUN",
 "X-Status: REJECTED\nRateLimit-Policy: \"hard\";q=3;w=60"]
