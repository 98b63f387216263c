# Configuration: every invalid use of gw_ratelimit_zone, gw_ratelimit and
# their parameters makes nginx refuse to start (as "nginx -t" would), with
# a message naming the parameter, the file and the line.

use Test::Nginx::Socket 'no_plan';

check_accum_error_log();
no_shuffle();
run_tests();

__DATA__

=== TEST 1: an unknown zone in gw_ratelimit, named with the file and line
--- http_config
    
--- config
    location /t {
        gw_ratelimit nozone;
        echo ok;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*unknown gw_ratelimit_zone "nozone" in \S+nginx\.conf:\d+}


=== TEST 2: a zone defined after its use is fine (order does not matter)
--- config
    location /t {
        gw_ratelimit later;
        echo ok;
    }
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
    gw_ratelimit_zone later key=$remote_addr rate=1r/m;
--- pipelined_requests eval
["GET /t", "GET /t"]
--- error_code eval
[200, 429]


=== TEST 3: a rate without a unit
--- http_config
    gw_ratelimit_zone z key=$remote_addr rate=10;
--- config
    location /t {
        gw_ratelimit z;
        echo ok;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid rate "rate=10": a positive number of requests per second, minute, hour or day, as in "rate=10r/s" in \S+nginx\.conf:\d+}


=== TEST 4: a rate with an unknown unit
--- http_config
    gw_ratelimit_zone z key=$remote_addr rate=10r/w;
--- config
    location /t {
        gw_ratelimit z;
        echo ok;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid rate "rate=10r/w"}


=== TEST 5: a zero rate
--- http_config
    gw_ratelimit_zone z key=$remote_addr rate=0r/s;
--- config
    location /t {
        gw_ratelimit z;
        echo ok;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid rate "rate=0r/s"}


=== TEST 6: a negative rate
--- http_config
    gw_ratelimit_zone z key=$remote_addr rate=-5r/s;
--- config
    location /t {
        gw_ratelimit z;
        echo ok;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid rate "rate=-5r/s"}


=== TEST 7: no rate
--- http_config
    gw_ratelimit_zone z key=$remote_addr;
--- config
    location /t {
        gw_ratelimit z;
        echo ok;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*zone "z" has no rate= in}


=== TEST 8: no key
--- http_config
    gw_ratelimit_zone z rate=1r/s;
--- config
    location /t {
        gw_ratelimit z;
        echo ok;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*zone "z" has no key= in}


=== TEST 9: a bad window
--- http_config
    gw_ratelimit_zone z key=$remote_addr rate=1r/s window=abc;
--- config
    location /t {
        gw_ratelimit z;
        echo ok;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid window "window=abc": a positive whole number of seconds}


=== TEST 10: a window in milliseconds
--- http_config
    gw_ratelimit_zone z key=$remote_addr rate=10r/s window=500ms;
--- config
    location /t {
        gw_ratelimit z;
        echo ok;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid window "window=500ms"}


=== TEST 11: a zero window
--- http_config
    gw_ratelimit_zone z key=$remote_addr rate=10r/s window=0s;
--- config
    location /t {
        gw_ratelimit z;
        echo ok;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid window "window=0s"}


=== TEST 12: a window too short for the rate
--- http_config
    gw_ratelimit_zone z key=$remote_addr rate=1r/m window=10s;
--- config
    location /t {
        gw_ratelimit z;
        echo ok;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*window= too short for rate=: less than one request per window}


=== TEST 13: burst with the sliding window
--- http_config
    gw_ratelimit_zone z key=$remote_addr rate=1r/s burst=5;
--- config
    location /t {
        gw_ratelimit z;
        echo ok;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*burst= is for algorithm=token_bucket}


=== TEST 14: window with the token bucket
--- http_config
    gw_ratelimit_zone z key=$remote_addr rate=1r/s window=10s algorithm=token_bucket;
--- config
    location /t {
        gw_ratelimit z;
        echo ok;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*window= is for algorithm=sliding_window}


=== TEST 15: a zero burst
--- http_config
    gw_ratelimit_zone z key=$remote_addr rate=1r/s burst=0 algorithm=token_bucket;
--- config
    location /t {
        gw_ratelimit z;
        echo ok;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid burst "burst=0": a positive number of requests}


=== TEST 16: an unknown algorithm
--- http_config
    gw_ratelimit_zone z key=$remote_addr rate=1r/s algorithm=leaky_bucket;
--- config
    location /t {
        gw_ratelimit z;
        echo ok;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid algorithm "algorithm=leaky_bucket": "sliding_window" or "token_bucket"}


=== TEST 17: a zone too small
--- http_config
    gw_ratelimit_zone z key=$remote_addr rate=1r/s size=4k;
--- config
    location /t {
        gw_ratelimit z;
        echo ok;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*zone "z" is too small: size= must be at least \d+}


=== TEST 18: a bad size
--- http_config
    gw_ratelimit_zone z key=$remote_addr rate=1r/s size=lots;
--- config
    location /t {
        gw_ratelimit z;
        echo ok;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid size "size=lots"}


=== TEST 19: sync without redis
--- http_config
    gw_ratelimit_zone z key=$remote_addr rate=1r/s sync=1s;
--- config
    location /t {
        gw_ratelimit z;
        echo ok;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*sync= needs redis=: it is the interval of the shared-memory counters\' syncs with Redis}


=== TEST 20: a zero sync interval
--- http_config
    gw_redis r 127.0.0.1:6379;
    gw_ratelimit_zone z key=$remote_addr rate=1r/s redis=r sync=0;
--- config
    location /t {
        gw_ratelimit z;
        echo ok;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid sync interval "sync=0"}


=== TEST 21: an unknown redis name, with the zone's file and line
--- http_config
    gw_ratelimit_zone z key=$remote_addr rate=1r/s redis=nope;
--- config
    location /t {
        gw_ratelimit z;
        echo ok;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*unknown gw_redis "nope" in redis= of gw_ratelimit_zone "z" in \S+nginx\.conf:\d+}


=== TEST 22: a bad on_redis_error
--- http_config
    gw_redis r 127.0.0.1:6379;
    gw_ratelimit_zone z key=$remote_addr rate=1r/s redis=r on_redis_error=retry;
--- config
    location /t {
        gw_ratelimit z;
        echo ok;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid "on_redis_error=retry": "local", "allow" or "deny"}


=== TEST 23: duplicate zone names
--- http_config
    gw_ratelimit_zone z key=$remote_addr rate=1r/s;
    gw_ratelimit_zone z key=$remote_addr rate=2r/s;
--- config
    location /t {
        gw_ratelimit z;
        echo ok;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*duplicate gw_ratelimit_zone "z" in \S+nginx\.conf:\d+}


=== TEST 24: an unknown zone parameter
--- http_config
    gw_ratelimit_zone z key=$remote_addr rate=1r/s nodelay;
--- config
    location /t {
        gw_ratelimit z;
        echo ok;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid parameter "nodelay" in}


=== TEST 25: an unknown gw_ratelimit parameter
--- http_config
    gw_ratelimit_zone z key=$remote_addr rate=1r/s;
--- config
    location /t {
        gw_ratelimit z nodelay;
        echo ok;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid parameter "nodelay" in}


=== TEST 26: a zero cost
--- http_config
    gw_ratelimit_zone z key=$remote_addr rate=1r/s;
--- config
    location /t {
        gw_ratelimit z cost=0;
        echo ok;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid cost "cost=0": a positive number or a variable}


=== TEST 27: a negative cost
--- http_config
    gw_ratelimit_zone z key=$remote_addr rate=1r/s;
--- config
    location /t {
        gw_ratelimit z cost=-1;
        echo ok;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid cost "cost=-1"}


=== TEST 28: gw_ratelimit_zone inside server is refused
--- config
    gw_ratelimit_zone z key=$remote_addr rate=1r/s;
--- must_die
--- error_log eval
qr{\[emerg\] .*"gw_ratelimit_zone" directive is not allowed here in \S+nginx\.conf:\d+}


=== TEST 29: a bad gw_ratelimit_log_level
--- http_config
    gw_ratelimit_zone z key=$remote_addr rate=1r/s;
--- config
    location /t {
        gw_ratelimit z;
        gw_ratelimit_log_level debug;
        echo ok;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid value "debug" in}

