# gw_auth_jwt_key_request: the JWKS comes from a subrequest to a location of
# the configuration, here "location = /jwks" proxying to "/_jwks", a static
# file of the html directory that the test rewrites between requests (---
# between, t/lib/NginxGw/Auth.pm): the identity provider rotating its keys.
# Every fetch shows in the access log as "GET /_jwks HTTP/1.0", counted after
# each response with --- hits.
#
# What is checked: a fetched JWKS is kept (gw_auth_jwt_key_cache) and used
# by later requests; after it expires it is fetched again; a token whose kid
# is unknown makes one early refetch, at most every 10 seconds, and is
# refused when the kid is still unknown; a failed fetch keeps the old keys;
# a failing or unusable endpoint is not hammered; several key URIs.
#
# Two blocks wait 11 seconds for the refetch interval.

use Test::Nginx::Socket 'no_plan';
use NginxGw::Auth;

our %s = map { $_ => Crypt::PRNG::random_bytes(32) } qw(k1 k2 k3 b1 b2);

sub keyset { jwks(map { oct_jwk($s{$_}, kid => $_) } @_) }

sub bearer {
    my ($kid, $key) = @_;
    return 'Authorization: Bearer '
           . jwt('HS256', $s{$key // $kid}, { sub => "user-$kid", exp => time + 3600 },
                 { kid => $kid });
}

# an unknown kid: signed with k1's secret, named k9
our $k9 = bearer('k9', 'k1');

# a JWKS larger than one memory page (about 9 KB): 60 P-256 keys and k1
our $big = jwks((map { jwk(ec_key('P-256'), kid => "ec-$_") } 1 .. 60),
                oct_jwk($s{k1}, kid => 'k1'));
length $big > 8192 or die "the big JWKS is too small\n";

no_shuffle();
run_tests();

__DATA__

=== TEST 1: the JWKS is fetched once, on the first request, and kept for the following ones
--- user_files eval
[["jwks.json", ::keyset('k1', 'k2')]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_request /jwks;
        add_header X-Auth-Status $gw_auth_status always;
        echo "$gw_auth_subject";
    }
    location = /jwks {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_jwks;
    }
    location = /_jwks {
        alias $TEST_NGINX_HTML_DIR/jwks.json;
    }
--- request eval
[("GET /t") x 4]
--- more_headers eval
[::bearer('k1'), ::bearer('k2'), ::bearer('k1'), ""]
--- error_code eval
[200, 200, 200, 401]
--- response_body_like eval
["^user-k1\$", "^user-k2\$", "^user-k1\$", "401"]
--- hits eval
{ '"GET /_jwks ' => [1, 1, 1, 1] }



=== TEST 2: gw_auth_jwt_key_cache 2s: after it the JWKS is fetched again, and a rotated key set applies (k1 out, k2 in)
--- user_files eval
[["jwks.json", ::keyset('k1')]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_request /jwks;
        gw_auth_jwt_key_cache 2s;
        add_header X-Auth-Status $gw_auth_status always;
        echo "$gw_auth_subject";
    }
    location = /jwks {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_jwks;
    }
    location = /_jwks {
        alias $TEST_NGINX_HTML_DIR/jwks.json;
    }
--- request eval
[("GET /t") x 3]
--- more_headers eval
[::bearer('k1'), ::bearer('k1'), ::bearer('k2')]
--- between eval
[sub { ::html_write('jwks.json', ::keyset('k2')); sleep 3.2 }]
--- error_code eval
[200, 401, 200]
--- response_headers eval
["X-Auth-Status: ", "X-Auth-Status: no key for kid", "X-Auth-Status: "]
--- hits eval
{ '"GET /_jwks ' => [1, 2, 2] }



=== TEST 3: rotation: a token with a new kid makes one early refetch (10 s after the last) and passes in the same request; right after, unknown kids cause no fetch
--- user_files eval
[["jwks.json", ::keyset('k1')]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_request /jwks;
        add_header X-Auth-Status $gw_auth_status always;
        proxy_set_header X-Sub $gw_auth_subject;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_backend;
    }
    location = /jwks {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_jwks;
    }
    location = /_jwks {
        alias $TEST_NGINX_HTML_DIR/jwks.json;
    }
    location = /_backend {
        echo "$http_x_sub";
    }
--- request eval
[("GET /t") x 4]
--- more_headers eval
[::bearer('k1'), ::bearer('k2'), ::bearer('k1'), ::bearer('k3')]
--- between eval
[sub { ::html_write('jwks.json', ::keyset('k2')); sleep 11 }]
--- timeout: 5
--- error_code eval
[200, 200, 401, 401]
--- response_headers eval
["X-Auth-Status: ", "X-Auth-Status: ", "X-Auth-Status: no key for kid",
 "X-Auth-Status: no key for kid"]
--- response_body_like eval
["^user-k1\$", "^user-k2\$", "401", "401"]
--- hits eval
{ '"GET /_jwks ' => [1, 2, 2, 2], '"GET /_backend ' => [1, 2, 2, 2] }



=== TEST 4: an unknown kid refetches every key document (two here); a kid still unknown after that is refused (401 "no key for kid"); the refetched documents serve the next requests
--- user_files eval
[["a.json", ::keyset('k1')], ["b.json", ::keyset('b1')]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_request /jwks-a;
        gw_auth_jwt_key_request /jwks-b;
        add_header X-Auth-Status $gw_auth_status always;
        echo "$gw_auth_subject";
    }
    location = /jwks-a {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_jwks/a.json;
    }
    location = /jwks-b {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_jwks/b.json;
    }
    location /_jwks/ {
        alias $TEST_NGINX_HTML_DIR/;
    }
--- request eval
[("GET /t") x 4]
--- more_headers eval
[::bearer('k1'), $::k9, $::k9, ::bearer('b2')]
--- between eval
[sub { ::html_write('b.json', ::keyset('b1', 'b2')); sleep 11 }]
--- timeout: 5
--- error_code eval
[200, 401, 401, 200]
--- response_headers eval
["X-Auth-Status: ", qq{X-Auth-Status: no key for kid\nWWW-Authenticate: Bearer realm="api", error="invalid_token"},
 "X-Auth-Status: no key for kid", "X-Auth-Status: "]
--- hits eval
{ '"GET /_jwks/a.json ' => [1, 2, 2, 2], '"GET /_jwks/b.json ' => [1, 2, 2, 2] }



=== TEST 5: a failed refetch keeps the keys there were: the JWKS file is gone (404) after the cache time, k1 still verifies
--- user_files eval
[["jwks.json", ::keyset('k1')]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_request /jwks;
        gw_auth_jwt_key_cache 2s;
        add_header X-Auth-Status $gw_auth_status always;
        echo "$gw_auth_subject";
    }
    location = /jwks {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_jwks;
    }
    location = /_jwks {
        alias $TEST_NGINX_HTML_DIR/jwks.json;
    }
--- request eval
[("GET /t") x 3]
--- more_headers eval
[::bearer('k1'), ::bearer('k1'), ::bearer('k1')]
--- between eval
[sub { unlink "$ENV{TEST_NGINX_HTML_DIR}/jwks.json"; sleep 3.2 }]
--- error_code eval
[200, 200, 200]
--- response_body eval
["user-k1\n", "user-k1\n", "user-k1\n"]
--- hits eval
{ '"GET /_jwks ' => [1, 2, 2] }



=== TEST 6: an endpoint that fails from the start: 401, the failure logged at error, and not fetched again on every request (one try per 10 s)
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_request /jwks;
        add_header X-Auth-Status $gw_auth_status always;
        echo ok;
    }
    location = /jwks {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_jwks;
    }
    location = /_jwks {
        return 500;
    }
--- request eval
[("GET /t") x 3]
--- more_headers eval
[::bearer('k1'), ::bearer('k1'), ::bearer('k1')]
--- error_code eval
[401, 401, 401]
--- hits eval
{ '"GET /_jwks ' => [1, 1, 1] }



=== TEST 7: the failure of a JWKS request is logged at error with its status; the client gets 401 invalid_token
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_request /jwks;
        echo ok;
    }
    location = /jwks {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_jwks;
    }
    location = /_jwks {
        return 500;
    }
--- request
GET /t
--- more_headers eval
::bearer('k1')
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="api", error="invalid_token"
--- error_log eval
qr/\[error\] .*gw_auth: JWKS request "\/jwks" failed with status 500/



=== TEST 8: an endpoint answering something that is no JWKS: 401, "unusable" logged, and not fetched on every request either
--- user_files eval
[["jwks.json", "<html>maintenance</html>"]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_request /jwks;
        echo ok;
    }
    location = /jwks {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_jwks;
    }
    location = /_jwks {
        alias $TEST_NGINX_HTML_DIR/jwks.json;
    }
--- request eval
[("GET /t") x 2]
--- more_headers eval
[::bearer('k1'), ::bearer('k1')]
--- error_code eval
[401, 401]
--- hits eval
{ '"GET /_jwks ' => [1, 1] }



=== TEST 9: an unusable JWKS is reported at error level
--- user_files eval
[["jwks.json", "<html>maintenance</html>"]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_request /jwks;
        echo ok;
    }
    location = /jwks {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_jwks;
    }
    location = /_jwks {
        alias $TEST_NGINX_HTML_DIR/jwks.json;
    }
--- request
GET /t
--- more_headers eval
::bearer('k1')
--- error_code: 401
--- error_log eval
qr/\[error\] .*gw_auth: JWKS from "\/jwks" unusable: /



=== TEST 10: two failing key URIs: the request ends at once with 401, after at most one fetch of each (no endless refetching)
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_request /jwks-a;
        gw_auth_jwt_key_request /jwks-b;
        echo ok;
    }
    location = /jwks-a {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_jwks-a;
    }
    location = /jwks-b {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_jwks-b;
    }
    location = /_jwks-a {
        return 503;
    }
    location = /_jwks-b {
        return 503;
    }
--- request
GET /t
--- more_headers eval
::bearer('k1')
--- timeout: 3
--- error_code: 401
--- hits eval
{ '"GET /_jwks-a ' => 1, '"GET /_jwks-b ' => 1 }



=== TEST 11: two key URIs: the keys of both are used, each document fetched once
--- user_files eval
[["a.json", ::keyset('k1')], ["b.json", ::keyset('b1')]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_request /jwks-a;
        gw_auth_jwt_key_request /jwks-b;
        echo "$gw_auth_subject";
    }
    location = /jwks-a {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_jwks/a.json;
    }
    location = /jwks-b {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_jwks/b.json;
    }
    location /_jwks/ {
        alias $TEST_NGINX_HTML_DIR/;
    }
--- request eval
[("GET /t") x 3]
--- more_headers eval
[::bearer('b1'), ::bearer('k1'), ::bearer('b1')]
--- response_body eval
["user-b1\n", "user-k1\n", "user-b1\n"]
--- hits eval
{ '"GET /_jwks/a.json ' => [1, 1, 1], '"GET /_jwks/b.json ' => [1, 1, 1] }



=== TEST 12: two key URIs expiring together: the rotated second document applies (b1 removed, b2 added)
--- user_files eval
[["a.json", ::keyset('k1')], ["b.json", ::keyset('b1')]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_request /jwks-a;
        gw_auth_jwt_key_request /jwks-b;
        gw_auth_jwt_key_cache 2s;
        add_header X-Auth-Status $gw_auth_status always;
        echo "$gw_auth_subject";
    }
    location = /jwks-a {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_jwks/a.json;
    }
    location = /jwks-b {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_jwks/b.json;
    }
    location /_jwks/ {
        alias $TEST_NGINX_HTML_DIR/;
    }
--- request eval
[("GET /t") x 3]
--- more_headers eval
[::bearer('b1'), ::bearer('b1'), ::bearer('b2')]
--- between eval
[sub { ::html_write('b.json', ::keyset('b2')); sleep 3.2 }]
--- error_code eval
[200, 401, 200]
--- response_headers eval
["X-Auth-Status: ", "X-Auth-Status: no key for kid", "X-Auth-Status: "]
--- hits eval
{ '"GET /_jwks/b.json ' => [1, 2, 2] }



=== TEST 13: an expired JWKS is not trusted when the identity is first needed in preaccess (limit_req keyed on a claim): rotation applies
--- user_files eval
[["jwks.json", ::keyset('k1')]]
--- http_config
    limit_req_zone $gw_jwt_claim_sub zone=per_sub:1m rate=100r/s;
--- config
    location = /t {
        limit_req zone=per_sub burst=100;
        gw_auth_jwt api;
        gw_auth_jwt_key_request /jwks;
        gw_auth_jwt_key_cache 2s;
        add_header X-Auth-Status $gw_auth_status always;
        echo "$gw_auth_subject";
    }
    location = /jwks {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_jwks;
    }
    location = /_jwks {
        alias $TEST_NGINX_HTML_DIR/jwks.json;
    }
--- request eval
[("GET /t") x 3]
--- more_headers eval
[::bearer('k1'), ::bearer('k1'), ::bearer('k2')]
--- between eval
[sub { ::html_write('jwks.json', ::keyset('k2')); sleep 3.2 }]
--- error_code eval
[200, 401, 200]
--- response_headers eval
["", "X-Auth-Status: no key for kid", "X-Auth-Status: "]
--- hits eval
{ '"GET /_jwks ' => [1, 2, 2] }



=== TEST 14: the JWKS response is kept in memory: one bigger than subrequest_output_buffer_size (default one page) fails, logged at error, and the request is not served
--- user_files eval
[["jwks.json", $::big]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_request /jwks;
        echo "$gw_auth_subject";
    }
    location = /jwks {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_jwks;
    }
    location = /_jwks {
        alias $TEST_NGINX_HTML_DIR/jwks.json;
    }
--- request
GET /t
--- more_headers eval
::bearer('k1')
--- abort
--- ignore_response
--- no_access_log eval
qr{"GET /t HTTP/1.1" 200 }
--- error_log eval
qr/\[error\] .*too big subrequest response/



=== TEST 15: the same JWKS with subrequest_output_buffer_size 64k in the JWKS location: verified
--- user_files eval
[["jwks.json", $::big]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_request /jwks;
        echo "$gw_auth_subject";
    }
    location = /jwks {
        internal;
        subrequest_output_buffer_size 64k;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_jwks;
    }
    location = /_jwks {
        alias $TEST_NGINX_HTML_DIR/jwks.json;
    }
--- request
GET /t
--- more_headers eval
::bearer('k1')
--- response_body
user-k1
--- no_error_log
[error]



=== TEST 16: the JWKS is fetched with GET whatever the client's method (HEAD, POST with a body, DELETE)
--- user_files eval
[["jwks.json", ::keyset('k1')]]
--- config
    location = /t/a {
        gw_auth_jwt api;
        gw_auth_jwt_key_request /jwks/a;
        add_header X-Sub $gw_auth_subject;
        echo_read_request_body;
        echo "$request_method $gw_auth_subject";
    }
    location = /t/b {
        gw_auth_jwt api;
        gw_auth_jwt_key_request /jwks/b;
        add_header X-Sub $gw_auth_subject;
        echo_read_request_body;
        echo "$request_method $gw_auth_subject";
    }
    location = /t/c {
        gw_auth_jwt api;
        gw_auth_jwt_key_request /jwks/c;
        add_header X-Sub $gw_auth_subject;
        echo_read_request_body;
        echo "$request_method $gw_auth_subject";
    }
    location /jwks/ {
        internal;
        rewrite ^ /_jwks break;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT;
    }
    location = /_jwks {
        alias $TEST_NGINX_HTML_DIR/jwks.json;
    }
--- request eval
["HEAD /t/a", "POST /t/b\nsome=body", "DELETE /t/c"]
--- more_headers eval
[(::bearer('k1')) x 3]
--- error_code eval
[200, 200, 200]
--- response_headers eval
[("X-Sub: user-k1") x 3]
--- response_body eval
["", "POST user-k1\n", "DELETE user-k1\n"]
--- hits eval
{ '"GET /_jwks ' => [1, 2, 3] }



=== TEST 17: the client goes away while the JWKS is fetched: no crash, no alert
--- user_files eval
[["jwks.json", ::keyset('k1')]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_request /jwks;
        echo "$gw_auth_subject";
    }
    location = /jwks {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_slow_jwks;
    }
    location = /_slow_jwks {
        echo_sleep 0.5;
        echo_exec /_jwks;
    }
    location = /_jwks {
        alias $TEST_NGINX_HTML_DIR/jwks.json;
    }
--- request eval
["GET /t", "GET /t"]
--- more_headers eval
[(::bearer('k1')) x 2]
--- timeout: 0.2
--- abort
--- ignore_response
--- wait: 0.8
--- no_error_log
[alert]
[crit]
