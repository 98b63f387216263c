# Configuration of gw_redis and of the Redis parameters of
# gw_ratelimit_zone: every form the specification lists is accepted (nginx
# starts; nothing is connected until a request needs Redis), and invalid
# ones make nginx refuse to start with an [emerg] naming the directive or
# parameter.

use Test::Nginx::Socket 'no_plan';

no_shuffle();
run_tests();

__DATA__

=== TEST 1: every gw_redis parameter, and every Redis parameter of gw_ratelimit_zone
--- http_config
    gw_redis a 127.0.0.1:$TEST_NGINX_RAND_PORT_1 127.0.0.1:$TEST_NGINX_RAND_PORT_2
               password=secret username=gw db=3 timeout=80ms keepalive=8;
    gw_redis u unix:/tmp/gw-test-nonexistent.sock timeout=1s;
    gw_redis s 127.0.0.1:$TEST_NGINX_RAND_PORT_3 sentinel=mymaster
               password=x;
    gw_redis c 127.0.0.1:$TEST_NGINX_RAND_PORT_4 127.0.0.1:$TEST_NGINX_RAND_PORT_5
               cluster;
    gw_redis t 127.0.0.1:$TEST_NGINX_RAND_PORT_1 tls;
    gw_ratelimit_zone z1 key=$remote_addr rate=10r/s redis=a;
    gw_ratelimit_zone z2 key=$remote_addr rate=10r/m
                      algorithm=token_bucket burst=5 size=1m redis=s
                      sync=100ms on_redis_error=allow;
    gw_ratelimit_zone z6 key=$remote_addr rate=10r/m window=2m
                      algorithm=sliding_window redis=a;
    gw_ratelimit_zone z3 key=$remote_addr rate=100r/h redis=c
                      on_redis_error=deny;
    gw_ratelimit_zone z4 key=$remote_addr rate=1000r/d redis=u
                      on_redis_error=local;
    gw_ratelimit_zone z5 key=$remote_addr rate=1r/s redis=t;
--- config
    location = /t {
        echo ok;
    }
--- request
GET /t
--- response_body
ok



=== TEST 2: redis= naming no gw_redis
--- http_config
    gw_ratelimit_zone z key=$remote_addr rate=1r/s redis=nothere;
--- config
    location = /t { gw_ratelimit z; echo ok; }
--- must_die
--- error_log eval
qr/\[emerg\] .*nothere/



=== TEST 3: on_redis_error= with an unknown policy
--- http_config
    gw_redis r 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    gw_ratelimit_zone z key=$remote_addr rate=1r/s redis=r
                      on_redis_error=maybe;
--- config
    location = /t { gw_ratelimit z; echo ok; }
--- must_die
--- error_log eval
qr/\[emerg\] .*on_redis_error/



=== TEST 4: gw_redis with an unknown parameter
--- http_config
    gw_redis r 127.0.0.1:$TEST_NGINX_RAND_PORT_1 colour=blue;
--- config
    location = /t { echo ok; }
--- must_die
--- error_log eval
qr/\[emerg\] .*colour=blue.*gw_redis|\[emerg\] .*gw_redis.*colour=blue/



=== TEST 5: gw_redis without an address
--- http_config
    gw_redis r password=x;
--- config
    location = /t { echo ok; }
--- must_die
--- error_log eval
qr/\[emerg\] .*gw_redis/



=== TEST 6: gw_redis timeout=0 is invalid
--- http_config
    gw_redis r 127.0.0.1:$TEST_NGINX_RAND_PORT_1 timeout=0;
--- config
    location = /t { echo ok; }
--- must_die
--- error_log eval
qr/\[emerg\] .*timeout=0/



=== TEST 7: sentinel= and cluster together
--- http_config
    gw_redis r 127.0.0.1:$TEST_NGINX_RAND_PORT_1 sentinel=m cluster;
--- config
    location = /t { echo ok; }
--- must_die
--- error_log eval
qr/\[emerg\] .*sentinel.*cluster/



=== TEST 8: db= in a cluster
--- http_config
    gw_redis r 127.0.0.1:$TEST_NGINX_RAND_PORT_1 cluster db=2;
--- config
    location = /t { echo ok; }
--- must_die
--- error_log eval
qr/\[emerg\] .*db=/



=== TEST 9: username= without password=
--- http_config
    gw_redis r 127.0.0.1:$TEST_NGINX_RAND_PORT_1 username=gw;
--- config
    location = /t { echo ok; }
--- must_die
--- error_log eval
qr/\[emerg\] .*username=/



=== TEST 10: two gw_redis with one name
--- http_config
    gw_redis r 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    gw_redis r 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
--- config
    location = /t { echo ok; }
--- must_die
--- error_log eval
qr/\[emerg\] .*"r"/



=== TEST 11: sync= without redis=
--- http_config
    gw_ratelimit_zone z key=$remote_addr rate=1r/s sync=100ms;
--- config
    location = /t { gw_ratelimit z; echo ok; }
--- must_die
--- error_log eval
qr/\[emerg\] .*sync/



=== TEST 12: the password is not in the messages of a failed configuration
--- http_config
    gw_redis r 127.0.0.1:$TEST_NGINX_RAND_PORT_1 password=Sup3rS3cretPw
               bogus=1;
--- config
    location = /t { echo ok; }
--- must_die
--- no_error_log
Sup3rS3cretPw
