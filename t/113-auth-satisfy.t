# The module in nginx's access phase: "satisfy any|all" with allow/deny and
# auth_request combine with it as with auth_basic; internal redirects
# (error_page, try_files, named locations, rewrite ... last) keep the
# identity, established once per request, while each location's own
# requirements are checked again.  A refused request never reaches /_backend.

use Test::Nginx::Socket 'no_plan';
use NginxGw::Auth;

our $secret = Crypt::PRNG::random_bytes(32);
our $keys = jwks(oct_jwk($secret, kid => 'k'));

sub tok {
    my (%c) = @_;
    return 'Authorization: Bearer '
           . jwt('HS256', $secret, { sub => 'alice', exp => time + 3600, %c },
                 { kid => 'k' });
}

our $idp = <<'_EOC_';
    map $request_body $idp_reply {
        "token=tok-alice"  '{"active":true,"sub":"alice","scope":"read"}';
        default            '{"active":false}';
    }
_EOC_

no_shuffle();
run_tests();

__DATA__

=== TEST 1: satisfy any with "allow 127.0.0.1": the address is enough, with no or a bad token, and the 200 has no WWW-Authenticate
--- user_files eval
[["jwks.json", $::keys]]
--- config
    location = /t {
        satisfy any;
        allow 127.0.0.1;
        deny all;
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/jwks.json;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_backend;
    }
    location = /_backend {
        echo backend;
    }
--- request eval
[("GET /t") x 3]
--- more_headers eval
["", "Authorization: Bearer bad", ::tok()]
--- response_body eval
[("backend\n") x 3]
--- response_headers eval
[("!WWW-Authenticate") x 3]



=== TEST 2: satisfy any with "deny all": a valid token passes; no token is 401 (not 403) with the challenge; a missing scope 403
--- user_files eval
[["jwks.json", $::keys]]
--- config
    location = /t {
        satisfy any;
        deny all;
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/jwks.json;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_backend;
    }
    location = /scoped {
        satisfy any;
        deny all;
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/jwks.json;
        gw_auth_require_scope admin;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_backend;
    }
    location = /_backend {
        echo backend;
    }
--- request eval
["GET /t", "GET /t", "GET /scoped"]
--- more_headers eval
[::tok(), "", ::tok()]
--- error_code eval
[200, 401, 403]
--- response_headers eval
["!WWW-Authenticate", qq{WWW-Authenticate: Bearer realm="api"},
 ""]
--- hits eval
{ '"GET /_backend ' => [1, 1, 1] }



=== TEST 3: satisfy all (the default): the address and the token are both needed
--- user_files eval
[["jwks.json", $::keys]]
--- config
    location = /allowed {
        allow 127.0.0.1;
        deny all;
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/jwks.json;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_backend;
    }
    location = /denied {
        deny all;
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/jwks.json;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_backend;
    }
    location = /_backend {
        echo backend;
    }
--- request eval
["GET /allowed", "GET /allowed", "GET /denied", "GET /denied"]
--- more_headers eval
[::tok(), "", ::tok(), ""]
--- error_code eval
[200, 401, 403, 401]
--- hits eval
{ '"GET /_backend ' => [1, 1, 1, 1] }



=== TEST 4: with auth_request (satisfy all): both must accept
--- user_files eval
[["jwks.json", $::keys]]
--- config
    location = /t {
        auth_request /_check;
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/jwks.json;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_backend;
    }
    location = /_check {
        internal;
        if ($http_x_check = ok) {
            return 204;
        }
        return 403;
    }
    location = /_backend {
        echo backend;
    }
--- request eval
[("GET /t") x 3]
--- more_headers eval
[::tok() . "\nX-Check: ok", ::tok() . "\nX-Check: no", "X-Check: ok"]
--- error_code eval
[200, 403, 401]
--- hits eval
{ '"GET /_backend ' => [1, 1, 1] }



=== TEST 5: try_files to a named location keeps the identity
--- user_files eval
[["jwks.json", $::keys]]
--- config
    location /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/jwks.json;
        try_files /no-such-file @app;
    }
    location @app {
        echo "app: $gw_auth_subject $gw_auth_method";
    }
--- request
GET /t
--- more_headers eval
::tok()
--- response_body
app: alice jwt



=== TEST 6: error_page to another location after a backend 404: the identity from introspection is kept, and the IdP asked only once
--- http_config eval
$::idp
--- config
    location = /t {
        gw_auth_introspect /_introspect;
        proxy_intercept_errors on;
        error_page 404 = /not-found;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_missing;
    }
    location = /not-found {
        internal;
        gw_auth_introspect /_introspect;
        return 404 "not found for $gw_auth_subject ($gw_auth_method)\n";
    }
    location = /_introspect {
        internal;
        proxy_method POST;
        proxy_set_body "token=$gw_auth_token";
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_idp;
    }
    location = /_idp {
        echo_read_request_body;
        echo $idp_reply;
    }
    location = /_missing {
        return 404;
    }
--- request
GET /t
--- more_headers
Authorization: Bearer tok-alice
--- error_code: 404
--- response_body
not found for alice (introspect)
--- hits eval
{ '"POST /_idp ' => 1, '"GET /_missing ' => 1 }



=== TEST 7: after a redirect the new location's requirements apply: a token without "admin" gets 403 there
--- user_files eval
[["jwks.json", $::keys]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/jwks.json;
        proxy_intercept_errors on;
        error_page 404 = /admin-404;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_missing;
    }
    location = /admin-404 {
        internal;
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/jwks.json;
        gw_auth_require_scope admin;
        add_header X-Auth-Status $gw_auth_status always;
        echo "admin only";
    }
    location = /_missing {
        return 404;
    }
--- request eval
["GET /t", "GET /t"]
--- more_headers eval
[::tok(scope => 'admin'), ::tok(scope => 'read')]
--- error_code eval
[200, 403]
--- response_body_like eval
["^admin only\$", "403"]
--- response_headers eval
["", "X-Auth-Status: insufficient scope"]



=== TEST 8: "rewrite ... last" from a public location into a protected one does not skip the check
--- user_files eval
[["jwks.json", $::keys]]
--- config
    location /public/ {
        rewrite ^/public/(.*)$ /private/$1 last;
    }
    location /private/ {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/jwks.json;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_backend/;
    }
    location /_backend/ {
        echo "backend $uri";
    }
--- request eval
["GET /public/x", "GET /public/x"]
--- more_headers eval
["", ::tok()]
--- error_code eval
[401, 200]
--- response_body_like eval
["401", "^backend /_backend/x\$"]
--- hits eval
{ '"GET /_backend/' => [0, 1] }



=== TEST 9: error_page 401 to a named location: the refusal's reason is still known there, for a JSON answer
--- user_files eval
[["jwks.json", $::keys]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/jwks.json;
        error_page 401 = @unauthorized;
        echo ok;
    }
    location @unauthorized {
        default_type application/json;
        return 401 '{"error":"unauthorized","reason":"$gw_auth_status"}\n';
    }
--- request eval
[("GET /t") x 2]
--- more_headers eval
["", ::tok(exp => time - 600)]
--- error_code eval
[401, 401]
--- response_body eval
[qq{{"error":"unauthorized","reason":"no credentials"}\n},
 qq{{"error":"unauthorized","reason":"token expired"}\n}]



=== TEST 10: satisfy any and an IdP that fails: the failure (503) wins over the allowed address, as with auth_request
--- config
    location = /t {
        satisfy any;
        allow 127.0.0.1;
        gw_auth_introspect /_introspect;
        echo ok;
    }
    location = /_introspect {
        internal;
        return 500;
    }
--- request
GET /t
--- more_headers
Authorization: Bearer tok-alice
--- error_code: 503
--- error_log
gw_auth: introspection failed with status 500
