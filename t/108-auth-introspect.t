# gw_auth_introspect: OAuth 2.0 token introspection (RFC 7662) through a
# subrequest to a location of the configuration, as README shows it:
#
#     location = /_introspect {
#         internal;
#         proxy_pass_request_headers off;
#         proxy_method POST;
#         proxy_set_header Content-Type application/x-www-form-urlencoded;
#         proxy_set_body "token=$gw_auth_token";
#         proxy_pass http://127.0.0.1:PORT/_idp;
#     }
#
# The identity provider is faked in the same nginx: "location = /_idp" reads
# the request body and answers from a map of "METHOD:body" (so only a POST
# with exactly "token=<token>" gets an active answer); its requests show in
# the access log as "POST /_idp HTTP/1.0".  Slow and dead providers are an
# echo_sleep past proxy_read_timeout and a port where nothing listens.

use Test::Nginx::Socket 'no_plan';
use NginxGw::Auth;

our $exp = time + 3600;

our $idp = <<"_EOC_";
    map "\$request_method:\$request_body" \$idp_reply {
        "POST:token=tok-alice"    '{"active":true,"sub":"alice","scope":"read write","client_id":"app-1","exp":$exp}';
        "POST:token=tok-user"     '{"active":true,"username":"bob","client_id":"app-2"}';
        "POST:token=tok-client"   '{"active":true,"client_id":"svc-3"}';
        "POST:token=tok-expired"  '{"active":true,"sub":"carol","exp":1300000000}';
        "POST:token=tok-string"   '{"active":"true","sub":"mallory"}';
        default                   '{"active":false}';
    }
_EOC_

our $secret = Crypt::PRNG::random_bytes(32);
our $jwt = jwt('HS256', $secret, { sub => 'jwt-user', exp => time + 3600 },
               { kid => 'k' });

sub bearer { 'Authorization: Bearer ' . $_[0] }

no_shuffle();
run_tests();

__DATA__

=== TEST 1: an active token: 200, the identity from the answer, one IdP request, the backend reached
--- http_config eval
$::idp
--- config
    location = /t {
        gw_auth_introspect /_introspect;
        add_header X-Auth-Status $gw_auth_status always;
        proxy_set_header X-Identity "$gw_auth_method $gw_auth_subject $gw_auth_consumer [$gw_auth_scope] $gw_jwt_claim_client_id $gw_jwt_claim_exp";
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_backend;
    }
    location = /_introspect {
        internal;
        proxy_pass_request_headers off;
        proxy_method POST;
        proxy_set_header Content-Type application/x-www-form-urlencoded;
        proxy_set_body "token=$gw_auth_token";
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_idp;
    }
    location = /_idp {
        echo_read_request_body;
        echo $idp_reply;
    }
    location = /_backend {
        echo $http_x_identity;
    }
--- request
GET /t
--- more_headers
Authorization: Bearer tok-alice
--- response_body eval
"introspect alice alice [read write] app-1 $::exp\n"
--- response_headers
!X-Auth-Status
!WWW-Authenticate
--- hits eval
{ '"POST /_idp ' => 1, '"GET /_backend ' => 1 }
--- no_error_log
gw_auth:
[error]



=== TEST 2: an inactive token: 401 invalid_token, "token not active" at info, the backend not reached
--- http_config eval
$::idp
--- config
    location = /t {
        gw_auth_introspect /_introspect;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_backend;
    }
    location = /_introspect {
        internal;
        proxy_pass_request_headers off;
        proxy_method POST;
        proxy_set_header Content-Type application/x-www-form-urlencoded;
        proxy_set_body "token=$gw_auth_token";
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_idp;
    }
    location = /_idp {
        echo_read_request_body;
        echo $idp_reply;
    }
    location = /_backend {
        echo backend;
    }
--- request
GET /t
--- more_headers
Authorization: Bearer tok-revoked
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="api", error="invalid_token"
--- error_log eval
qr/\[info\] .*gw_auth: token not active/
--- hits eval
{ '"POST /_idp ' => 1, '"GET /_backend ' => 0 }



=== TEST 3: the subject is "sub", else "username", else "client_id"; "active" must be the JSON true, an expired "exp" is refused
--- http_config eval
$::idp
--- config
    location = /t {
        gw_auth_introspect /_introspect;
        add_header X-Auth-Status $gw_auth_status always;
        echo "$gw_auth_subject $gw_auth_consumer";
    }
    location = /_introspect {
        internal;
        proxy_pass_request_headers off;
        proxy_method POST;
        proxy_set_header Content-Type application/x-www-form-urlencoded;
        proxy_set_body "token=$gw_auth_token";
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_idp;
    }
    location = /_idp {
        echo_read_request_body;
        echo $idp_reply;
    }
--- request eval
[("GET /t") x 4]
--- more_headers eval
[map { ::bearer($_) } qw(tok-user tok-client tok-string tok-expired)]
--- error_code eval
[200, 200, 401, 401]
--- response_body_like eval
["^bob bob\$", "^svc-3 svc-3\$", "401", "401"]
--- response_headers eval
["X-Auth-Status: ", "X-Auth-Status: ", "X-Auth-Status: token not active",
 "X-Auth-Status: token expired"]
--- hits eval
{ '"POST /_idp ' => [1, 2, 3, 4] }



=== TEST 4: the IdP answers 500: 503, logged at error with the status, the backend not reached
--- config
    location = /t {
        gw_auth_introspect /_introspect;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_backend;
    }
    location = /_introspect {
        internal;
        proxy_pass_request_headers off;
        proxy_method POST;
        proxy_set_body "token=$gw_auth_token";
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_idp;
    }
    location = /_idp {
        return 500;
    }
    location = /_backend {
        echo backend;
    }
--- request
GET /t
--- more_headers
Authorization: Bearer tok-alice
--- error_code: 503
--- response_headers
!WWW-Authenticate
--- error_log eval
qr/\[error\] .*gw_auth: introspection failed with status 500/
--- no_access_log
"GET /_backend



=== TEST 5: the IdP answers 200 with something that is no JSON object: 503, logged at error
--- config
    location = /t {
        gw_auth_introspect /_introspect;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_backend;
    }
    location = /_introspect {
        internal;
        proxy_pass_request_headers off;
        proxy_method POST;
        proxy_set_body "token=$gw_auth_token";
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_idp;
    }
    location = /_idp {
        echo "<html>login</html>";
    }
    location = /_backend {
        echo backend;
    }
--- request
GET /t
--- more_headers
Authorization: Bearer tok-alice
--- error_code: 503
--- error_log eval
qr/\[error\] .*gw_auth: introspection response is not a JSON object/
--- no_access_log
"GET /_backend



=== TEST 6: a slow IdP (answers after 2 s, proxy_read_timeout 300ms): 503 within a second, never hung
--- config
    location = /t {
        gw_auth_introspect /_introspect;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_backend;
    }
    location = /_introspect {
        internal;
        proxy_pass_request_headers off;
        proxy_method POST;
        proxy_set_body "token=$gw_auth_token";
        proxy_read_timeout 300ms;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_idp;
    }
    location = /_idp {
        echo_sleep 2;
        echo '{"active":true,"sub":"late"}';
    }
    location = /_backend {
        echo backend;
    }
--- request
GET /t
--- more_headers
Authorization: Bearer tok-alice
--- timeout: 1
--- error_code: 503
--- error_log eval
[qr/\[error\] .*upstream timed out/,
 qr/\[error\] .*gw_auth: introspection failed with status 504/]
--- no_access_log
"GET /_backend



=== TEST 7: a dead IdP (nothing listens): 503, logged at error
--- config
    location = /t {
        gw_auth_introspect /_introspect;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_backend;
    }
    location = /_introspect {
        internal;
        proxy_pass_request_headers off;
        proxy_method POST;
        proxy_set_body "token=$gw_auth_token";
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/introspect;
    }
    location = /_backend {
        echo backend;
    }
--- request
GET /t
--- more_headers
Authorization: Bearer tok-alice
--- timeout: 2
--- error_code: 503
--- error_log eval
qr/\[error\] .*gw_auth: introspection failed with status 502/
--- no_access_log
"GET /_backend



=== TEST 8: no token: 401 without an error attribute and no IdP request; a token over 16384 bytes is refused without one
--- http_config eval
"large_client_header_buffers 4 64k;\n$::idp"
--- config
    location = /t {
        gw_auth_introspect /_introspect;
        add_header X-Auth-Status $gw_auth_status always;
        echo ok;
    }
    location = /_introspect {
        internal;
        proxy_pass_request_headers off;
        proxy_method POST;
        proxy_set_body "token=$gw_auth_token";
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_idp;
    }
    location = /_idp {
        echo_read_request_body;
        echo $idp_reply;
    }
--- request eval
[("GET /t") x 2]
--- more_headers eval
["", ::bearer('t' x 16385)]
--- error_code eval
[401, 401]
--- response_headers eval
[qq{WWW-Authenticate: Bearer realm="api"\nX-Auth-Status: no credentials},
 qq{WWW-Authenticate: Bearer realm="api", error="invalid_token"\nX-Auth-Status: token too long}]
--- no_access_log
"POST /_idp



=== TEST 9: JWT first, then introspection: a valid JWT needs no IdP request; an opaque token and a JWT with a bad signature go to the IdP
--- user_files eval
[["jwks.json", ::jwks(::oct_jwk($::secret, kid => 'k'))]]
--- http_config eval
$::idp
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/jwks.json;
        gw_auth_introspect /_introspect;
        add_header X-Auth-Status $gw_auth_status always;
        echo "$gw_auth_method $gw_auth_subject";
    }
    location = /_introspect {
        internal;
        proxy_pass_request_headers off;
        proxy_method POST;
        proxy_set_body "token=$gw_auth_token";
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_idp;
    }
    location = /_idp {
        echo_read_request_body;
        echo $idp_reply;
    }
--- request eval
[("GET /t") x 3]
--- more_headers eval
[::bearer($::jwt), ::bearer('tok-alice'), ::bearer($::jwt . 'A')]
--- error_code eval
[200, 200, 401]
--- response_body_like eval
["^jwt jwt-user\$", "^introspect alice\$", "401"]
--- response_headers eval
["X-Auth-Status: ", "", "X-Auth-Status: token not active"]
--- hits eval
{ '"POST /_idp ' => [0, 1, 2] }



=== TEST 10: a POST with a body: the IdP gets only "token=...", never the client's body; the backend still gets it
--- http_config eval
$::idp
--- config
    location = /t {
        gw_auth_introspect /_introspect;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_backend;
    }
    location = /_introspect {
        internal;
        proxy_pass_request_headers off;
        proxy_method POST;
        proxy_set_header Content-Type application/x-www-form-urlencoded;
        proxy_set_body "token=$gw_auth_token";
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_idp;
    }
    location = /_idp {
        echo_read_request_body;
        echo $idp_reply;
    }
    location = /_backend {
        echo_read_request_body;
        echo_request_body;
    }
--- request eval
["POST /t\ntoken=tok-alice", "POST /t\norder=42"]
--- more_headers eval
[::bearer('tok-nobody'), ::bearer('tok-alice')]
--- error_code eval
[401, 200]
--- response_body_like eval
["401", "^order=42\$"]
--- hits eval
{ '"POST /_idp ' => [1, 2], '"POST /_backend ' => [0, 1] }



=== TEST 11: log level info: the token is not in the log, accepted or refused
--- log_level: info
--- http_config eval
$::idp
--- config
    location = /t {
        gw_auth_introspect /_introspect;
        echo ok;
    }
    location = /_introspect {
        internal;
        proxy_pass_request_headers off;
        proxy_method POST;
        proxy_set_body "token=$gw_auth_token";
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_idp;
    }
    location = /_idp {
        echo_read_request_body;
        echo $idp_reply;
    }
--- request eval
[("GET /t") x 2]
--- more_headers eval
[::bearer('tok-alice'), ::bearer('tok-secret-revoked')]
--- error_code eval
[200, 401]
--- no_error_log
tok-alice
tok-secret-revoked



=== TEST 12: the client goes away while the IdP is asked: no crash, no alert, the next request is served
--- http_config eval
$::idp
--- config
    location = /t {
        gw_auth_introspect /_introspect;
        echo "$gw_auth_subject";
    }
    location = /_introspect {
        internal;
        proxy_pass_request_headers off;
        proxy_method POST;
        proxy_set_body "token=$gw_auth_token";
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_idp;
    }
    location = /_idp {
        echo_read_request_body;
        echo_sleep 0.5;
        echo $idp_reply;
    }
--- request eval
["GET /t", "GET /t"]
--- more_headers eval
[("Authorization: Bearer tok-alice") x 2]
--- timeout: 0.2
--- abort
--- ignore_response
--- wait: 0.8
--- no_error_log
[alert]
[crit]
