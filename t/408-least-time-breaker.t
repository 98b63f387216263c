# gw_least_time under gw_breaker (placed after it in the upstream): the
# balancer picks by time, the breaker turns down an open peer, whose pick is
# released (no sample, no request in flight left behind) and the balancer
# asked again.  Peer "a" is the fastest, and fails (503) on /fail/; "s" is
# slow (100 ms), "f" faster (20 ms).  /t asks the upstream several times in a row
# (echo_location) and the body lists who answered, one line per phase.

use Test::Nginx::Socket 'no_plan';

# A line of $n one-letter answers in which $peer answered between $min and
# $max times (no anchors: used for one line of several).
sub line {
    my ($n, $peer, $min, $max) = @_;
    my $other = "[^$peer\\n]";
    return "(?=[a-z]{$n}\\n)$other*(?:$peer$other*){$min,$max}\\n";
}

# /t: $n1 requests to /fail/, a pause of $pause seconds, $n2 requests to /ok/.
sub phases {
    my ($n1, $pause, $n2) = @_;
    return "location = /t {\n"
           . ("    echo_location /p/fail/;\n" x $n1)
           . "    echo \"\";\n"
           . ($n2 ? "    echo_sleep $pause;\n"
                    . ("    echo_location /p/ok/;\n" x $n2)
                    . "    echo \"\";\n"
                  : "")
           . "}\n"
           . "location /p/ {\n"
           . "    proxy_pass http://u/;\n"
           . "    proxy_next_upstream off;\n"
           . "}\n";
}

our $backends = <<'_EOC_';
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location /fail/ { echo_status 503; echo -n a; }
        location /ok/ { echo -n a; }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        location / { echo_sleep 0.1; echo -n s; }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_3;
        location / { echo_sleep 0.02; echo -n f; }
    }
_EOC_

no_shuffle();
run_tests();

__DATA__

=== TEST 1: once the failing peer's breaker opens (1 failure), the fastest peer gets no more requests, and of the others the faster one takes the traffic
--- http_config eval
<<'_EOC_' . $main::backends
    upstream u {
        gw_least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_3;
        gw_breaker failures=1 open=10s;
    }
_EOC_
--- config eval
main::phases(30)
--- request
GET /t
--- timeout: 10
--- response_body_like eval
"^(?=" . main::line(30, 'a', 1, 1) . ")" . main::line(30, 's', 0, 2) . "\$"
--- error_log eval
qr/gw_breaker: peer 127\.0\.0\.1:$ENV{TEST_NGINX_RAND_PORT_1} of upstream "u" opened: 1 consecutive failures/



=== TEST 2: after the open time the peer is probed, closes again and, being the fastest, takes the traffic back: its picks released while open left no request in flight behind
--- skip_eval: 4: $ENV{TEST_NGINX_USE_VALGRIND}
--- http_config eval
<<'_EOC_' . $main::backends
    upstream u {
        gw_least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_3;
        gw_breaker failures=1 open=1s;
    }
_EOC_
--- config eval
main::phases(30, 1, 20)
--- request
GET /t
--- timeout: 10
--- response_body_like eval
"^" . main::line(30, 'a', 1, 1) . main::line(20, 'a', 12, 20) . "\$"
--- error_log eval
[qr/gw_breaker: peer 127\.0\.0\.1:$ENV{TEST_NGINX_RAND_PORT_1} of upstream "u" opened/,
 qr/gw_breaker: peer 127\.0\.0\.1:$ENV{TEST_NGINX_RAND_PORT_1} of upstream "u" closed/]



=== TEST 3: every peer open: the request fails fast with the breaker's answer and Retry-After, no peer is tried
--- http_config
    upstream u {
        gw_least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        gw_breaker failures=1 open=10s;
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { echo_status 503; echo -n a; }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        location / { echo_status 503; echo -n b; }
    }
--- config
    location /p/ {
        proxy_pass http://u/;
        proxy_next_upstream off;
        add_header X-Upstream "[$upstream_addr]" always;
    }
--- request eval
[ map { "GET /p/$_" } 1 .. 4 ]
--- error_code eval
[503, 503, 503, 503]
--- response_headers_like eval
[ ("X-Upstream: \\[127\\.0\\.0\\.1:\\d+\\]") x 2,
  ("Retry-After: \\d+") x 2 ]
--- response_body_like eval
["^[ab]\$", "^[ab]\$", "503", "503"]



=== TEST 4: time-outs: a hanging peer (read timeout 200 ms) opens after 1 failure and never answers; of the others the faster takes the traffic
--- http_config
    upstream u {
        gw_least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1 max_fails=0;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_3;
        gw_breaker failures=1 open=10s;
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { echo_sleep 1; echo -n h; }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        location / { echo_sleep 0.05; echo -n s; }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_3;
        location / { echo -n f; }
    }
--- config
    location = /t {
        echo_location /p/01; echo_location /p/02; echo_location /p/03;
        echo_location /p/04; echo_location /p/05; echo_location /p/06;
        echo_location /p/07; echo_location /p/08; echo_location /p/09;
        echo_location /p/10; echo_location /p/11; echo_location /p/12;
        echo "";
    }
    location /p/ {
        proxy_pass http://u/;
        proxy_read_timeout 200ms;
    }
--- request
GET /t
--- timeout: 10
--- response_body_like eval
"^(?=" . main::line(12, 'h', 0, 0) . ")(?=" . main::line(12, 's', 1, 2) . ")"
. main::line(12, 'f', 10, 11) . "\$"
--- error_log eval
qr/gw_breaker: peer 127\.0\.0\.1:$ENV{TEST_NGINX_RAND_PORT_1} of upstream "u" opened/
