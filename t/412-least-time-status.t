# gw_least_time and gw_least_bandwidth report to gw_status: per peer,
# labelled {upstream, peer, mode} (mode "header", "last_byte" or
# "bandwidth"), the average response time (least_time upstreams), the bytes
# per second over the window (least_bandwidth upstreams), the requests in
# progress and the number of times the balancer chose the peer; read from
# the upstreams' shared zones, so any worker shows the same, and kept
# across a reload.
#
# nginx runs with a master and two workers.  The gateway is a server on
# $TEST_NGINX_RAND_PORT_2 listening with "reuseport", so that the kernel
# spreads the test server's connections to it (one per request) over both
# workers; it proxies /<upstream>/ to the upstream of that name.  The peers
# are servers on $TEST_NGINX_RAND_PORT_1 (slow, or big answers) and
# $TEST_NGINX_RAND_PORT_3 (fast, small answers).  Requests are made one
# after another, each on a connection of its own.
#
# "--- status" lists the values each status response must show, checked in
# the JSON and in the Prometheus output (see t/lib/NginxGw/StatusBlock.pm);
# "--- reload_after" reloads nginx after that response.

use Test::Nginx::Socket 'no_plan';
use NginxGw::StatusBlock qw(status_checks);

master_on();
workers(2);

status_checks('least_time');

check_accum_error_log();
no_shuffle();
run_tests();

__DATA__

=== TEST 1: header: a slow and a fast peer; the slow one is chosen once and the fast one nineteen times of twenty, and its average response time is the larger
--- http_config
    upstream lt {
        gw_least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_3;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { echo_sleep 0.05; echo slow; }
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_3;
        location / { echo fast; }
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2 reuseport;
        location /lt/ {
            proxy_pass http://lt/;
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
[(map { "GET /gw/lt/x?n=$_" } 1 .. 20),
 "GET /status", "GET /status?format=prometheus"]
--- error_code eval
[(200) x 22]
--- response_body_like eval
[qr/^slow\n\z/, (qr/^fast\n\z/) x 19, qr/^\{"nginx_gw"/,
 qr/^# HELP nginx_gw_info /]
--- status eval
my $s = q{
    response_seconds series 2
    bandwidth_bytes_per_second series 0
    active_requests series 2
    selected_total series 2

    response_seconds upstream=lt peer=127.0.0.1:$TEST_NGINX_RAND_PORT_1 mode=header 0.04..1
    response_seconds upstream=lt peer=127.0.0.1:$TEST_NGINX_RAND_PORT_3 mode=header 0..0.03
    active_requests  upstream=lt peer=127.0.0.1:$TEST_NGINX_RAND_PORT_1 mode=header 0
    active_requests  upstream=lt peer=127.0.0.1:$TEST_NGINX_RAND_PORT_3 mode=header 0
    selected_total   upstream=lt peer=127.0.0.1:$TEST_NGINX_RAND_PORT_1 mode=header 1
    selected_total   upstream=lt peer=127.0.0.1:$TEST_NGINX_RAND_PORT_3 mode=header 19
};
[(undef) x 20, $s, $s]
--- timeout: 10



=== TEST 2: header and last_byte measure differently: a peer that sends its header at once and the rest after 100 ms is fast to the header, slow to the last byte
--- skip_eval: 1: $ENV{TEST_NGINX_USE_VALGRIND}
--- http_config
    upstream header {
        gw_least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_3;
    }

    upstream last {
        gw_least_time last_byte;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_3;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { echo head; echo_flush; echo_sleep 0.1; echo tail; }
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_3;
        location / { echo fast; }
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2 reuseport;
        location /header/ {
            proxy_pass http://header/;
        }
        location /last/ {
            proxy_pass http://last/;
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
[(map { ("GET /gw/header/x?n=$_", "GET /gw/last/x?n=$_") } 1 .. 10),
 "GET /status", "GET /status?format=prometheus"]
--- error_code eval
[(200) x 22]
--- status eval
my $s = q{
    response_seconds series 4

    response_seconds upstream=header peer=127.0.0.1:$TEST_NGINX_RAND_PORT_1 mode=header 0..0.05
    response_seconds upstream=last peer=127.0.0.1:$TEST_NGINX_RAND_PORT_1 mode=last_byte 0.08..1
    response_seconds upstream=last peer=127.0.0.1:$TEST_NGINX_RAND_PORT_3 mode=last_byte 0..0.03
    selected_total   upstream=last peer=127.0.0.1:$TEST_NGINX_RAND_PORT_1 mode=last_byte 1
    selected_total   upstream=last peer=127.0.0.1:$TEST_NGINX_RAND_PORT_3 mode=last_byte 9
};
[(undef) x 20, $s, $s]
--- timeout: 10



=== TEST 3: least_bandwidth: a peer that answers 20000 bytes gets one request of ten, the other nine; bytes per second over the 10 s window follow
--- http_config
    upstream bw {
        gw_least_bandwidth window=10s;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_3;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { echo_duplicate 2000 "0123456789"; }
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_3;
        location / { echo small; }
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2 reuseport;
        location /bw/ {
            proxy_pass http://bw/;
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
[(map { "GET /gw/bw/x?n=$_" } 1 .. 10),
 "GET /status", "GET /status?format=prometheus"]
--- error_code eval
[(200) x 12]
--- response_body_like eval
[qr/^(0123456789){2000}\z/, (qr/^small\n\z/) x 9, qr/^\{/, qr/^# HELP/]
--- status eval
my $s = q{
    response_seconds series 0
    bandwidth_bytes_per_second series 2

    bandwidth_bytes_per_second upstream=bw peer=127.0.0.1:$TEST_NGINX_RAND_PORT_1 mode=bandwidth 2000..2200
    bandwidth_bytes_per_second upstream=bw peer=127.0.0.1:$TEST_NGINX_RAND_PORT_3 mode=bandwidth 50..1000
    active_requests upstream=bw peer=127.0.0.1:$TEST_NGINX_RAND_PORT_1 mode=bandwidth 0
    active_requests upstream=bw peer=127.0.0.1:$TEST_NGINX_RAND_PORT_3 mode=bandwidth 0
    selected_total  upstream=bw peer=127.0.0.1:$TEST_NGINX_RAND_PORT_1 mode=bandwidth 1
    selected_total  upstream=bw peer=127.0.0.1:$TEST_NGINX_RAND_PORT_3 mode=bandwidth 9
};
[(undef) x 10, $s, $s]
--- timeout: 10



=== TEST 4: requests in progress: while two run, one on each peer, each shows one active request; afterwards none, and their times are about a second
--- http_config
    upstream lt {
        gw_least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_3;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { echo_sleep 1; echo a; }
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_3;
        location / { echo_sleep 1; echo b; }
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2 reuseport;
        location /lt/ {
            proxy_pass http://lt/;
            proxy_read_timeout 10s;
        }
    }
--- config
    location /gw/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_2/;
    }
    location = /status {
        gw_status;
    }
    # two requests to the upstream at once, and a status read 300 ms in
    location = /during {
        echo_location_async /delayed-status;
        echo_location_async /gw/lt/hang?n=1;
        echo_location_async /gw/lt/hang?n=2;
    }
    location = /delayed-status {
        echo_sleep 0.3;
        echo_location /status;
    }
--- request eval
["GET /during", "GET /status", "GET /status?format=prometheus"]
--- error_code eval
[200, 200, 200]
--- response_body_like eval
[qr/^\{"nginx_gw"[^\n]*\n(a\nb\n|b\na\n)\z/, qr/^\{/, qr/^# HELP/]
--- status eval
my $s = q{
    active_requests  upstream=lt peer=127.0.0.1:$TEST_NGINX_RAND_PORT_1 mode=header 0
    active_requests  upstream=lt peer=127.0.0.1:$TEST_NGINX_RAND_PORT_3 mode=header 0
    response_seconds upstream=lt peer=127.0.0.1:$TEST_NGINX_RAND_PORT_1 mode=header 0.9..2
    response_seconds upstream=lt peer=127.0.0.1:$TEST_NGINX_RAND_PORT_3 mode=header 0.9..2
    selected_total   upstream=lt peer=127.0.0.1:$TEST_NGINX_RAND_PORT_1 mode=header 1
    selected_total   upstream=lt peer=127.0.0.1:$TEST_NGINX_RAND_PORT_3 mode=header 1
};
[q{
    active_requests  upstream=lt peer=127.0.0.1:$TEST_NGINX_RAND_PORT_1 mode=header 1
    active_requests  upstream=lt peer=127.0.0.1:$TEST_NGINX_RAND_PORT_3 mode=header 1
    response_seconds upstream=lt peer=127.0.0.1:$TEST_NGINX_RAND_PORT_1 mode=header 0
    response_seconds upstream=lt peer=127.0.0.1:$TEST_NGINX_RAND_PORT_3 mode=header 0
    selected_total   upstream=lt peer=127.0.0.1:$TEST_NGINX_RAND_PORT_1 mode=header 1
    selected_total   upstream=lt peer=127.0.0.1:$TEST_NGINX_RAND_PORT_3 mode=header 1
}, $s, $s]
--- timeout: 10



=== TEST 5: reload: the averages and the counts are the same after "nginx -s reload": the slow peer is not tried again, and the fast one counts on
--- http_config
    upstream lt {
        gw_least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_3;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { echo_sleep 0.05; echo slow; }
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_3;
        location / { echo fast; }
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2 reuseport;
        location /lt/ {
            proxy_pass http://lt/;
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
[(map { "GET /gw/lt/x?n=a$_" } 1 .. 10), "GET /status",
 (map { "GET /gw/lt/x?n=b$_" } 1 .. 10), "GET /status",
 "GET /status?format=prometheus"]
--- reload_after: 10
--- error_code eval
[(200) x 23]
--- response_body_like eval
[qr/^slow\n\z/, (qr/^fast\n\z/) x 9, qr/^\{/, (qr/^fast\n\z/) x 10, qr/^\{/,
 qr/^# HELP/]
--- status eval
my $p1 = 'upstream=lt peer=127.0.0.1:$TEST_NGINX_RAND_PORT_1 mode=header';
my $p3 = 'upstream=lt peer=127.0.0.1:$TEST_NGINX_RAND_PORT_3 mode=header';
my $s = qq{
    response_seconds $p1 0.04..1
    response_seconds $p3 0..0.03
    selected_total   $p1 1
    selected_total   $p3 19
};
[(undef) x 10, qq{
    response_seconds $p1 0.04..1
    selected_total   $p1 1
    selected_total   $p3 9
}, (undef) x 10, $s, $s]
--- timeout: 15
