# gw_least_bandwidth: the peer with the fewest bytes sent and received over
# the window (per unit of weight) takes the next request.  Byte counts do not
# depend on timing, so the order of the picks is exact here.  Backends name
# themselves in X-Peer; big answers are padding.

use Test::Nginx::Socket 'no_plan';

# A body of $n one-letter answers in which $peer answered between $min and
# $max times.
sub answers {
    my ($n, $peer, $min, $max) = @_;
    my $other = "[^$peer]";
    return qr/^(?=[a-z]{$n}$)$other*(?:$peer$other*){$min,$max}$/;
}

sub peers { [ map { "X-Peer: $_" } split //, $_[0] ] }

no_shuffle();
run_tests();

__DATA__

=== TEST 1: after a peer has sent 20 KB, the other one takes the next requests (a few hundred bytes each)
--- http_config
    upstream u {
        gw_least_bandwidth;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { add_header X-Peer a; echo_duplicate 20000 "-"; }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        location / { add_header X-Peer b; echo -n "-"; }
    }
--- config
    location /p/ {
        proxy_pass http://u/;
    }
--- request eval
[ map { "GET /p/$_" } 1 .. 10 ]
--- response_headers eval
main::peers("abbbbbbbbb")
--- no_error_log
[error]



=== TEST 2: peers that exchange the same bytes take turns
--- http_config
    upstream u {
        gw_least_bandwidth;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { add_header X-Peer a; echo_duplicate 5000 "-"; }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        location / { add_header X-Peer b; echo_duplicate 5000 "-"; }
    }
--- config
    location /p/ {
        proxy_pass http://u/;
    }
--- request eval
[ map { "GET /p/$_" } 1 .. 8 ]
--- response_headers eval
main::peers("abababab")
--- no_error_log
[error]



=== TEST 3: bytes sent to the peer count too: after a 50 KB upload to one peer, the other one takes the next requests
--- http_config
    upstream u {
        gw_least_bandwidth;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        client_max_body_size 1m;
        location / { add_header X-Peer a; echo_read_request_body; echo -n "-"; }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        client_max_body_size 1m;
        location / { add_header X-Peer b; echo_read_request_body; echo -n "-"; }
    }
--- config
    location /p/ {
        proxy_pass http://u/;
    }
--- request eval
[ "POST /p/0\n" . ("x" x 50000), map { "GET /p/$_" } 1 .. 7 ]
--- response_headers eval
main::peers("abbbbbbb")
--- no_error_log
[error]



=== TEST 4: bytes leave the window: with window=200ms and 300 ms between requests, the big peer is chosen again at its turn
--- http_config
    upstream u {
        gw_least_bandwidth window=200ms;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { add_header X-Peer a; echo_duplicate 20000 "-"; }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        location / { add_header X-Peer b; echo -n "-"; }
    }
--- config
    location /p/ {
        proxy_pass http://u/;
    }
--- request eval
[ map { "GET /p/$_" } 1 .. 5 ]
--- wait: 0.3
--- response_headers eval
main::peers("ababa")
--- no_error_log
[error]



=== TEST 5: the same with the default window (10 s): the big peer's bytes still count 300 ms later
--- http_config
    upstream u {
        gw_least_bandwidth;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { add_header X-Peer a; echo_duplicate 20000 "-"; }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        location / { add_header X-Peer b; echo -n "-"; }
    }
--- config
    location /p/ {
        proxy_pass http://u/;
    }
--- request eval
[ map { "GET /p/$_" } 1 .. 5 ]
--- wait: 0.3
--- response_headers eval
main::peers("abbbb")
--- no_error_log
[error]



=== TEST 6: weights: with weight=3 against 1 and answers of equal size, the heavier peer takes about three requests of four
--- http_config
    upstream u {
        gw_least_bandwidth;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1 weight=3;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { echo -n a; }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        location / { echo -n b; }
    }
--- config
    location = /t {
        echo_location /p/01; echo_location /p/02; echo_location /p/03;
        echo_location /p/04; echo_location /p/05; echo_location /p/06;
        echo_location /p/07; echo_location /p/08; echo_location /p/09;
        echo_location /p/10; echo_location /p/11; echo_location /p/12;
        echo_location /p/13; echo_location /p/14; echo_location /p/15;
        echo_location /p/16; echo_location /p/17; echo_location /p/18;
        echo_location /p/19; echo_location /p/20;
    }
    location /p/ {
        proxy_pass http://u/;
    }
--- request
GET /t
--- response_body_like eval
main::answers(20, 'a', 13, 17)
--- no_error_log
[error]



=== TEST 7: a dead peer fails once, then max_fails (1) keeps it out: only the first request tries it, and every request gets its answer
--- http_config
    upstream u {
        gw_least_bandwidth;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        location / { echo -n "b"; }
    }
--- config
    location /p/ {
        proxy_pass http://u/;
        add_header X-Upstream $upstream_addr;
    }
--- request eval
[ map { "GET /p/$_" } 1 .. 4 ]
--- response_headers eval
[ "X-Upstream: 127.0.0.1:$ENV{TEST_NGINX_RAND_PORT_1}, 127.0.0.1:$ENV{TEST_NGINX_RAND_PORT_2}",
  ("X-Upstream: 127.0.0.1:$ENV{TEST_NGINX_RAND_PORT_2}") x 3 ]
--- response_body eval
["b", "b", "b", "b"]
