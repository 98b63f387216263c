# gw_least_time last_byte: the time counted is the whole response, up to
# its last byte.  Backends answer with one letter (then maybe a slow tail);
# the location /t asks the upstream several times in a row (echo_location:
# one subrequest after the other) and the body lists who answered.

use Test::Nginx::Socket 'no_plan';

# A body of $n one-letter answers in which $peer answered between $min and
# $max times.
sub answers {
    my ($n, $peer, $min, $max) = @_;
    my $other = "[^$peer]";
    return qr/^(?=[a-z]{$n}$)$other*(?:$peer$other*){$min,$max}$/;
}

our $twenty = "location = /t {\n"
              . ("    echo_location /p\$uri;\n" x 20)
              . "}\n";

no_shuffle();
run_tests();

__DATA__

=== TEST 1: the peer with the faster whole response takes the traffic: the slow one (50 ms) answers at most twice of 20
--- http_config
    upstream u {
        gw_least_time last_byte;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { echo_sleep 0.05; echo -n s; }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        location / { echo -n f; }
    }
--- config eval
$main::twenty . <<'_EOC_';
    location /p/ {
        proxy_pass http://u/;
    }
_EOC_
--- request
GET /t
--- response_body_like eval
main::answers(20, 's', 0, 2)
--- no_error_log
[error]



=== TEST 2: a peer that sends its header at once and its body 200 ms later loses to a peer that answers whole in 50 ms: the last byte counts (header mode chooses the other way, 401-least-time-header.t TEST 3)
--- http_config
    upstream u {
        gw_least_time last_byte;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { echo_sleep 0.05; echo -n h; }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        location / { echo -n b; echo_flush; echo_sleep 0.2; echo -n "."; }
    }
--- config
    location = /t {
        echo_location /p/1; echo_location /p/2; echo_location /p/3;
        echo_location /p/4; echo_location /p/5; echo_location /p/6;
        echo_location /p/7; echo_location /p/8; echo_location /p/9;
        echo_location /p/10;
    }
    location /p/ {
        proxy_pass http://u/;
    }
--- request
GET /t
--- response_body_like: ^(?=(?:h|b\.){10}$)h*(?:b\.h*){0,2}$
--- timeout: 10
--- no_error_log
[error]



=== TEST 3: a body sent slowly (limit_rate 20k/s for 20 KB: about 1 s) makes the peer slow, although its header comes at once
--- http_config
    upstream u {
        gw_least_time last_byte;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / {
            limit_rate 20k;
            limit_rate_after 1;
            echo -n r;
            echo_duplicate 20000 "-";
        }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        location / {
            echo -n f;
            echo_duplicate 20000 "-";
        }
    }
--- config
    location = /t {
        echo_location /p/1; echo_location /p/2; echo_location /p/3;
        echo_location /p/4; echo_location /p/5; echo_location /p/6;
        echo_location /p/7; echo_location /p/8; echo_location /p/9;
        echo_location /p/10;
    }
    location /p/ {
        proxy_pass http://u/;
        proxy_buffering off;
    }
--- request
GET /t
--- response_body_like: ^(?=(?:[rf]-{20000}){10}$)(?:f-+)*(?:r-+(?:f-+)*){0,2}$
--- timeout: 10
--- no_error_log
[error]



=== TEST 4: a slow body (limit_rate: about 100 ms for 20 KB) does not count in header mode: there the two peers share the traffic (decay=10ms: a header late by a few milliseconds is soon forgotten)
--- http_config
    upstream u {
        gw_least_time header decay=10ms;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / {
            limit_rate 200k;
            limit_rate_after 1;
            echo -n r;
            echo_duplicate 20000 "-";
        }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        location / {
            echo -n f;
            echo_duplicate 20000 "-";
        }
    }
--- config eval
$main::twenty . <<'_EOC_';
    location /p/ {
        proxy_pass http://u/;
        proxy_buffering off;
    }
_EOC_
--- request
GET /t
--- response_body_like: ^(?=(?:[rf]-{20000}){20}$)(?:f-+)*(?:r-+(?:f-+)*){5,15}$
--- timeout: 10
--- no_error_log
[error]



=== TEST 5: $gw_upstream_score in last_byte mode is the time to the last byte in microseconds: about 200000 for a body that ends 200 ms after the header
--- http_config
    upstream u {
        gw_least_time last_byte;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { echo -n b; echo_flush; echo_sleep 0.2; echo -n "."; }
    }
--- config
    location /s/ {
        proxy_pass http://u;
        add_header X-Score $gw_upstream_score;
    }
--- request eval
["GET /s/1", "GET /s/2"]
--- response_headers_like eval
["X-Score: 0", "X-Score: (?:19[5-9]|2[0-9][0-9])[0-9]{3}"]
--- response_body eval
["b.", "b."]
--- no_error_log
[error]
