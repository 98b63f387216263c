# gw_least_time and gw_least_bandwidth configuration: every invalid one
# refused at startup (as by "nginx -t") with a message naming the file and
# line; another balancer directive in the same upstream warns; the balancers
# work with the upstream's own "zone" and under "keepalive".

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
              . "}\n"
              . "location /p/ {\n"
              . "    proxy_pass http://u/;\n"
              . "}\n";

our $slow_fast = <<'_EOC_';
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { echo_sleep 0.05; echo -n s; }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        location / { echo -n f; }
    }
_EOC_

no_shuffle();
run_tests();

__DATA__

=== TEST 1: an unknown mode
--- http_config
    upstream u {
        gw_least_time first_byte;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value "first_byte", it must be "header" or "last_byte" in \S+nginx\.conf:\d+/



=== TEST 2: no mode at all
--- http_config
    upstream u {
        gw_least_time;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid number of arguments in "gw_least_time" directive in \S+nginx\.conf:\d+/



=== TEST 3: "inflight" in place of the mode
--- http_config
    upstream u {
        gw_least_time inflight;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value "inflight", it must be "header" or "last_byte" in \S+nginx\.conf:\d+/



=== TEST 4: an unknown parameter
--- http_config
    upstream u {
        gw_least_time header slow_start=30s;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid parameter "slow_start=30s" in \S+nginx\.conf:\d+/



=== TEST 5: the mode given twice
--- http_config
    upstream u {
        gw_least_time header last_byte;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid parameter "last_byte" in \S+nginx\.conf:\d+/



=== TEST 6: decay=0
--- http_config
    upstream u {
        gw_least_time header decay=0;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value "decay=0" in \S+nginx\.conf:\d+/



=== TEST 7: decay that is not a time
--- http_config
    upstream u {
        gw_least_time last_byte inflight decay=fast;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value "decay=fast" in \S+nginx\.conf:\d+/



=== TEST 8: an empty decay
--- http_config
    upstream u {
        gw_least_time header decay=;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value "decay=" in \S+nginx\.conf:\d+/



=== TEST 9: gw_least_time twice in one upstream
--- http_config
    upstream u {
        gw_least_time header;
        gw_least_time last_byte;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*"gw_least_time" directive is duplicate in \S+nginx\.conf:\d+/



=== TEST 10: gw_least_time and gw_least_bandwidth in one upstream
--- http_config
    upstream u {
        gw_least_time header;
        gw_least_bandwidth;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*"gw_least_bandwidth" directive is duplicate in \S+nginx\.conf:\d+/



=== TEST 11: gw_least_bandwidth with a window shorter than its 10 buckets of 1 ms
--- http_config
    upstream u {
        gw_least_bandwidth window=5ms;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value "window=5ms" in \S+nginx\.conf:\d+/



=== TEST 12: gw_least_bandwidth window=0
--- http_config
    upstream u {
        gw_least_bandwidth window=0;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value "window=0" in \S+nginx\.conf:\d+/



=== TEST 13: gw_least_bandwidth with a bare time
--- http_config
    upstream u {
        gw_least_bandwidth 10s;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid parameter "10s" in \S+nginx\.conf:\d+/



=== TEST 14: gw_least_bandwidth with two parameters
--- http_config
    upstream u {
        gw_least_bandwidth window=1s window=2s;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid number of arguments in "gw_least_bandwidth" directive in \S+nginx\.conf:\d+/



=== TEST 15: gw_least_time outside an upstream block
--- config
    location /p/ {
        gw_least_time header;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"gw_least_time" directive is not allowed here in \S+nginx\.conf:\d+/



=== TEST 16: gw_breaker before gw_least_time is refused (the balancer would replace the breaker)
--- http_config
    upstream u {
        gw_breaker failures=2;
        gw_least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*"gw_breaker" in upstream "u" in \S+nginx\.conf:\d+ must follow the load balancing directive/



=== TEST 17: every parameter in place: nginx -t accepts it, the upstream works
--- http_config eval
<<'_EOC_' . $main::slow_fast
    upstream u {
        gw_least_time last_byte inflight decay=30s;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1 weight=2 max_fails=3 fail_timeout=5s max_conns=100;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2 weight=1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_3 backup;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_4 down;
    }
    upstream b {
        gw_least_bandwidth window=1m;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    }
_EOC_
--- config eval
$main::twenty . <<'_EOC_';
    location /b/ {
        proxy_pass http://b/;
    }
_EOC_
--- request eval
["GET /t", "GET /b/"]
--- response_body_like eval
[main::answers(20, 's', 0, 2), "^f\$"]
--- no_error_log
[error]
[warn]



=== TEST 18: least_conn then gw_least_time: "load balancing method redefined", and gw_least_time is the one used
--- http_config eval
<<'_EOC_' . $main::slow_fast
    upstream u {
        least_conn;
        gw_least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    }
_EOC_
--- config eval
$main::twenty
--- request
GET /t
--- response_body_like eval
main::answers(20, 's', 0, 2)
--- error_log eval
qr/\[warn\] .*load balancing method redefined in \S+nginx\.conf:\d+/



=== TEST 19: gw_least_time then hash: nginx's warning, and hash is the one used ($gw_upstream_score stays empty)
--- http_config eval
<<'_EOC_' . $main::slow_fast
    upstream u {
        gw_least_time header;
        hash $arg_k;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    }
_EOC_
--- config
    location /p/ {
        proxy_pass http://u/;
        add_header X-Score "[$gw_upstream_score]";
    }
--- request
GET /p/?k=1
--- response_headers
X-Score: []
--- error_log eval
qr/\[warn\] .*load balancing method redefined in \S+nginx\.conf:\d+/



=== TEST 20: with the upstream's own zone (peers in shared memory) the faster peer still takes the traffic
--- http_config eval
<<'_EOC_' . $main::slow_fast
    upstream u {
        zone u 64k;
        gw_least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    }
_EOC_
--- config eval
$main::twenty
--- request
GET /t
--- response_body_like eval
main::answers(20, 's', 0, 2)
--- no_error_log
[error]



=== TEST 21: with keepalive after it, connections to the peers are reused and the faster peer still takes the traffic
--- http_config
    upstream u {
        gw_least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        keepalive 4;
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { echo_sleep 0.05; echo "s $connection"; }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        location / { echo "f $connection"; }
    }
--- config
    location = /t {
        echo_location /p/1; echo_location /p/2; echo_location /p/3;
        echo_location /p/4; echo_location /p/5; echo_location /p/6;
    }
    location /p/ {
        proxy_pass http://u/;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
    }
--- request
GET /t
--- response_body_like: ^s \d+\nf (\d+)\nf \1\nf \1\nf \1\nf \1\n$
--- no_error_log
[error]



=== TEST 22: an upstream too large for the figures' zone is refused
--- http_config eval
"upstream u {\n    gw_least_time header;\n"
. CORE::join("", map { "    server 127.0.0.1:" . (20000 + $_) . ";\n" } 1 .. 800)
. "}\n"
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*gw_least_time: too many peers in upstream "u"/
