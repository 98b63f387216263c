# gw_breaker reports to gw_status: per peer, labelled {upstream, peer}, its
# state, consecutive failures, failure rate, seconds to the next probe, and
# counters of trips, attempts, failures and refused picks; read from the
# breakers' shared zones, so any worker shows the same, and kept across a
# reload.
#
# nginx runs with a master and two workers.  The gateway is a server on
# $TEST_NGINX_RAND_PORT_2 listening with "reuseport", so that the kernel
# spreads the test server's connections to it (one per request) over both
# workers; it proxies /u1/ to upstream u1 (b1 on $TEST_NGINX_RAND_PORT_1)
# and /u2/ to upstream u2 (b2 on $TEST_NGINX_RAND_PORT_3), each with
# "proxy_next_upstream off".  The backends answer /ok with 200, /fail with
# 502 and /slow with 200 after 500 ms.  Every request is on a connection of
# its own, so either worker may serve it, the status requests too.
#
# "--- status" lists the values each status response must show, checked in
# the JSON and in the Prometheus output (see t/lib/NginxGw/StatusBlock.pm);
# "--- reload_after" reloads nginx after that response.

use Test::Nginx::Socket 'no_plan';
use NginxGw::StatusBlock qw(status_checks);

master_on();
workers(2);

status_checks('breaker');

check_accum_error_log();
no_shuffle();
run_tests();

__DATA__

=== TEST 1: three failures open b1's breaker: state 1, three consecutive failures, rate 3 of 5, next probe in 30 s, one trip, two picks refused; b2 stays closed with four requests
--- http_config
    upstream u1 {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker failures=3 open=30s;
    }

    upstream u2 {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_3;
        gw_breaker failures=3 open=30s;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location /ok   { return 200 "b1\n"; }
        location /fail { return 502; }
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_3;
        location /ok   { return 200 "b2\n"; }
        location /fail { return 502; }
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2 reuseport;
        location /u1/ {
            proxy_pass http://u1/;
            proxy_next_upstream off;
        }
        location /u2/ {
            proxy_pass http://u2/;
            proxy_next_upstream off;
        }
    }
--- config
    location /gw/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_2/;
    }
    location = /status {
        gw_status;
    }
--- request eval
["GET /gw/u1/ok?n=1", "GET /gw/u1/ok?n=2",
 "GET /gw/u1/fail?n=3", "GET /gw/u1/fail?n=4", "GET /gw/u1/fail?n=5",
 "GET /gw/u1/ok?n=6", "GET /gw/u1/ok?n=7",
 (map { "GET /gw/u2/ok?n=$_" } 1 .. 4),
 "GET /status", "GET /status?format=prometheus"]
--- error_code eval
[200, 200, 502, 502, 502, 503, 503, 200, 200, 200, 200, 200, 200]
--- response_headers_like eval
[(undef) x 11, "Content-Type: application/json",
 "Content-Type: text/plain; version=0\.0\.4; charset=utf-8"]
--- status eval
my $s = q{
    state series 2
    rejected_total series 2

    state                upstream=u1 peer=127.0.0.1:$TEST_NGINX_RAND_PORT_1 1
    consecutive_failures upstream=u1 peer=127.0.0.1:$TEST_NGINX_RAND_PORT_1 3
    failure_rate         upstream=u1 peer=127.0.0.1:$TEST_NGINX_RAND_PORT_1 0.6
    next_probe_seconds   upstream=u1 peer=127.0.0.1:$TEST_NGINX_RAND_PORT_1 25..30
    trips_total          upstream=u1 peer=127.0.0.1:$TEST_NGINX_RAND_PORT_1 1
    requests_total       upstream=u1 peer=127.0.0.1:$TEST_NGINX_RAND_PORT_1 5
    failures_total       upstream=u1 peer=127.0.0.1:$TEST_NGINX_RAND_PORT_1 3
    rejected_total       upstream=u1 peer=127.0.0.1:$TEST_NGINX_RAND_PORT_1 2

    state                upstream=u2 peer=127.0.0.1:$TEST_NGINX_RAND_PORT_3 0
    consecutive_failures upstream=u2 peer=127.0.0.1:$TEST_NGINX_RAND_PORT_3 0
    failure_rate         upstream=u2 peer=127.0.0.1:$TEST_NGINX_RAND_PORT_3 0
    next_probe_seconds   upstream=u2 peer=127.0.0.1:$TEST_NGINX_RAND_PORT_3 0
    trips_total          upstream=u2 peer=127.0.0.1:$TEST_NGINX_RAND_PORT_3 0
    requests_total       upstream=u2 peer=127.0.0.1:$TEST_NGINX_RAND_PORT_3 4
    failures_total       upstream=u2 peer=127.0.0.1:$TEST_NGINX_RAND_PORT_3 0
    rejected_total       upstream=u2 peer=127.0.0.1:$TEST_NGINX_RAND_PORT_3 0
};
[(undef) x 11, $s, $s]
--- timeout: 10



=== TEST 2: a failed probe opens the breaker again for twice the open time: two trips, two consecutive failures, next probe in 2 s
--- http_config
    upstream u1 {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker failures=1 open=1s;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location /ok   { return 200 "b1\n"; }
        location /fail { return 502; }
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2 reuseport;
        location /u1/ {
            proxy_pass http://u1/;
            proxy_next_upstream off;
        }
    }
--- config
    location /gw/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_2/;
    }
    location = /status {
        gw_status;
    }
    location = /pause {
        echo_sleep $arg_s;
        echo paused;
    }
--- request eval
["GET /gw/u1/fail?n=1", "GET /status", "GET /pause?s=1.1",
 "GET /gw/u1/fail?n=2", "GET /status", "GET /status?format=prometheus"]
--- error_code eval
[502, 200, 200, 502, 200, 200]
--- status eval
my $p = 'upstream=u1 peer=127.0.0.1:$TEST_NGINX_RAND_PORT_1';
my $s = qq{
    state                $p 1
    consecutive_failures $p 2
    next_probe_seconds   $p 1.5..2
    trips_total          $p 2
    requests_total       $p 2
    failures_total       $p 2
    rejected_total       $p 0
};
[undef, qq{
    state                $p 1
    consecutive_failures $p 1
    next_probe_seconds   $p 0.5..1
    trips_total          $p 1
}, undef, undef, $s, $s]
--- timeout: 10



=== TEST 3: while its probe runs the breaker shows half-open (2) with no time to wait; the probe's success closes it (0) and clears the failures and the rate
--- http_config
    upstream u1 {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker failures=1 open=1s half_open=1;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location /ok   { return 200 "b1\n"; }
        location /fail { return 502; }
        location /slow { echo_sleep 0.5; echo "b1 slow"; }
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2 reuseport;
        location /u1/ {
            proxy_pass http://u1/;
            proxy_next_upstream off;
        }
    }
--- config
    location /gw/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_2/;
    }
    location = /status {
        gw_status;
    }
    location = /pause {
        echo_sleep $arg_s;
        echo paused;
    }
    # the probe, and a status read 250 ms into it
    location = /during {
        echo_location_async /delayed-status;
        echo_location_async /gw/u1/slow;
    }
    location = /delayed-status {
        echo_sleep 0.25;
        echo_location /status;
    }
--- request eval
["GET /gw/u1/fail", "GET /pause?s=1.1", "GET /during", "GET /status",
 "GET /status?format=prometheus"]
--- error_code eval
[502, 200, 200, 200, 200]
--- response_body_like eval
[qr/502 Bad Gateway/, qr/^paused\n\z/, qr/\}\nb1 slow\n\z/, qr/^\{/,
 qr/^# HELP/]
--- status eval
my $p = 'upstream=u1 peer=127.0.0.1:$TEST_NGINX_RAND_PORT_1';
my $s = qq{
    state                $p 0
    consecutive_failures $p 0
    failure_rate         $p 0
    next_probe_seconds   $p 0
    trips_total          $p 1
    requests_total       $p 2
    failures_total       $p 1
};
[undef, undef, qq{
    state                $p 2
    consecutive_failures $p 1
    next_probe_seconds   $p 0
    trips_total          $p 1
    requests_total       $p 1
}, $s, $s]
--- timeout: 10



=== TEST 4: reload: the open breaker and its counters are the same after "nginx -s reload", and count on from there
--- http_config
    upstream u1 {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        gw_breaker failures=3 open=30s;
    }

    upstream u2 {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_3;
        gw_breaker failures=3 open=30s;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location /ok   { return 200 "b1\n"; }
        location /fail { return 502; }
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_3;
        location /ok   { return 200 "b2\n"; }
        location /fail { return 502; }
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2 reuseport;
        location /u1/ {
            proxy_pass http://u1/;
            proxy_next_upstream off;
        }
        location /u2/ {
            proxy_pass http://u2/;
            proxy_next_upstream off;
        }
    }
--- config
    location /gw/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_2/;
    }
    location = /status {
        gw_status;
    }
    location = /gen {
        echo gen-1;
    }
--- request eval
["GET /gw/u1/fail?n=1", "GET /gw/u1/fail?n=2", "GET /gw/u1/fail?n=3",
 "GET /gw/u2/ok?n=1", "GET /status",
 "GET /gw/u1/ok?n=4", "GET /gw/u2/ok?n=2", "GET /status",
 "GET /status?format=prometheus"]
--- reload_after: 4
--- error_code eval
[502, 502, 502, 200, 200, 503, 200, 200, 200]
--- status eval
my $p1 = 'upstream=u1 peer=127.0.0.1:$TEST_NGINX_RAND_PORT_1';
my $p2 = 'upstream=u2 peer=127.0.0.1:$TEST_NGINX_RAND_PORT_3';
my $s = qq{
    state                $p1 1
    consecutive_failures $p1 3
    failure_rate         $p1 1
    next_probe_seconds   $p1 15..30
    trips_total          $p1 1
    requests_total       $p1 3
    failures_total       $p1 3
    rejected_total       $p1 1
    requests_total       $p2 2
};
[undef, undef, undef, undef, qq{
    state                $p1 1
    consecutive_failures $p1 3
    failure_rate         $p1 1
    trips_total          $p1 1
    requests_total       $p1 3
    failures_total       $p1 3
    rejected_total       $p1 0
    requests_total       $p2 1
}, undef, undef, $s, $s]
--- timeout: 15



=== TEST 5: no upstream uses gw_breaker: every family is there, without samples, in both formats
--- config
    location = /status {
        gw_status;
    }
--- request eval
["GET /status", "GET /status?format=prometheus"]
--- error_code eval
[200, 200]
--- response_body_like eval
[qr/"breaker":\{"state":\[\],"consecutive_failures":\[\],"failure_rate":\[\],"next_probe_seconds":\[\],"trips_total":\[\],"requests_total":\[\],"failures_total":\[\],"rejected_total":\[\]\}/,
 qr/^# TYPE nginx_gw_breaker_state gauge\n# HELP nginx_gw_breaker_consecutive_failures /m]
--- status eval
my $s = q{
    state series 0
    trips_total series 0
};
[$s, $s]
