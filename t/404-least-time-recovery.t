# gw_least_time forgets: a peer's average decays towards zero while it gets
# no requests (time constant "decay"), so a peer once slow is tried again,
# and wins its traffic back once it is fast.  Peer "a" is slow (50 ms) on
# /s/ and fast on /f/; peer "b" is always fast (TEST 5: "a" fails on /fail/
# instead, and max_fails keeps it out for a while).  /t asks the upstream in
# two phases, one request after the other, with a pause between them
# (echo_sleep); the body lists who answered, one line per phase.

use Test::Nginx::Socket 'no_plan';

# A line of $n one-letter answers in which $peer answered between $min and
# $max times (no anchors: used for one line of several).
sub line {
    my ($n, $peer, $min, $max) = @_;
    my $other = "[^$peer\\n]";
    return "(?=[a-z]{$n}\\n)$other*(?:$peer$other*){$min,$max}\\n";
}

# /t: $n1 requests to /s/, a pause of $pause seconds, $n2 requests to /f/
# 20 ms apart.
sub phases {
    my ($n1, $pause, $n2) = @_;
    return "location = /t {\n"
           . ("    echo_location /p/s/;\n" x $n1)
           . "    echo \"\";\n"
           . "    echo_sleep $pause;\n"
           . ("    echo_location /p/f/;\n    echo_sleep 0.02;\n" x $n2)
           . "    echo \"\";\n"
           . "}\n"
           . "location /p/ {\n"
           . "    proxy_pass http://u/;\n"
           . "}\n";
}

our $backends = <<'_EOC_';
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location /s/ { echo_sleep 0.05; echo -n a; }
        location /f/ { echo -n a; }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        location / { echo -n b; }
    }
_EOC_

no_shuffle();
run_tests();

__DATA__

=== TEST 1: decay=100ms: after a pause of 1 s the once slow peer, fast now, wins traffic back (at least 5 of 20)
--- http_config eval
<<'_EOC_' . $main::backends
    upstream u {
        gw_least_time header decay=100ms;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    }
_EOC_
--- config eval
main::phases(10, 1, 20)
--- request
GET /t
--- response_body_like eval
"^" . main::line(10, 'a', 0, 4) . main::line(20, 'a', 5, 20) . "\$"
--- timeout: 10
--- no_error_log
[error]



=== TEST 2: with the default decay (10 s) the same pause is too short: the once slow peer is still left alone
--- http_config eval
<<'_EOC_' . $main::backends
    upstream u {
        gw_least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    }
_EOC_
--- config eval
main::phases(10, 1, 20)
--- request
GET /t
--- response_body_like eval
"^" . main::line(10, 'a', 0, 2) . main::line(20, 'a', 0, 0) . "\$"
--- timeout: 10
--- no_error_log
[error]



=== TEST 3: a peer that stays slow is tried again now and then (decay=50ms, a request every 30 ms), but still gets few requests
--- http_config eval
<<'_EOC_' . $main::backends
    upstream u {
        gw_least_time header decay=50ms;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    }
_EOC_
--- config eval
"location = /t {\n"
. ("    echo_location /p/s/;\n    echo_sleep 0.03;\n" x 30)
. "    echo \"\";\n"
. "}\n"
. "location /p/ {\n"
. "    proxy_pass http://u/;\n"
. "}\n"
--- request
GET /t
--- response_body_like eval
"^" . main::line(30, 'a', 2, 12) . "\$"
--- timeout: 10
--- no_error_log
[error]



=== TEST 4: the same with the default decay: the slow peer is tried only once
--- http_config eval
<<'_EOC_' . $main::backends
    upstream u {
        gw_least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    }
_EOC_
--- config eval
"location = /t {\n"
. ("    echo_location /p/s/;\n    echo_sleep 0.03;\n" x 30)
. "    echo \"\";\n"
. "}\n"
. "location /p/ {\n"
. "    proxy_pass http://u/;\n"
. "}\n"
--- request
GET /t
--- response_body_like eval
"^" . main::line(30, 'a', 1, 1) . "\$"
--- timeout: 10
--- no_error_log
[error]



=== TEST 5: once a peer is back, the peers share the traffic: after 60 requests that went to "b" while "a" was out (max_fails), "a" does not take the next 10 requests (ties go round robin, not to whoever had fewer requests in all its history; decay=1ms and 10 ms between requests: any time above 1 ms is forgotten, all ties are exact)
--- http_config
    upstream u {
        gw_least_time header decay=1ms;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1 max_fails=1 fail_timeout=1s;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location /fail/ { return 503; }
        location /ok/ { echo -n a; }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        location / { echo -n b; }
    }
--- config eval
"location = /t {\n"
. ("    echo_location /p/fail/;\n" x 60)
. "    echo \"\";\n"
. "    echo_sleep 2.1;\n"
. ("    echo_location /p/ok/;\n    echo_sleep 0.01;\n" x 10)
. "    echo \"\";\n"
. "}\n"
. "location /p/ {\n"
. "    proxy_pass http://u/;\n"
. "    proxy_next_upstream error timeout http_503;\n"
. "}\n"
--- request
GET /t
--- response_body_like eval
"^" . main::line(60, 'b', 60, 60) . main::line(10, 'b', 3, 7) . "\$"
--- timeout: 10
--- no_error_log
[error]
