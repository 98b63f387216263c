# gw_auth_jwt with HMAC keys (HS256, HS384, HS512): oct JWKs in a JWKS or
# alone, the bearer token from Authorization or from a variable, and the
# RFC 6750 answers.  Secrets are random for each run; tokens are made here
# with Crypt::JWT (t/lib/NginxGw/Auth.pm).
#
# The protected location proxies to /_backend, which echoes the identity it
# was given; a refused request must not get there, so its access log line
# "GET /_backend HTTP/1.0" is absent (or counted with --- hits).

use Test::Nginx::Socket 'no_plan';
use NginxGw::Auth;

our $s32 = Crypt::PRNG::random_bytes(32);
our $s48 = Crypt::PRNG::random_bytes(48);
our $s64 = Crypt::PRNG::random_bytes(64);
our $other = Crypt::PRNG::random_bytes(32);

our $keys = jwks(oct_jwk($s32, kid => 'hs-32'),
                 oct_jwk($s64, kid => 'hs-64'),
                 oct_jwk($s64, kid => 'hs-64-only-256', alg => 'HS256'));

our %claims = (sub => 'alice', iss => 'https://idp.test', exp => time + 3600);

sub bearer { 'Authorization: Bearer ' . $_[0] }

sub hs {
    my ($alg, $key, $kid, %c) = @_;
    return jwt($alg, $key, { %claims, %c }, defined $kid ? { kid => $kid } : {});
}

our $hs256 = hs('HS256', $s32, 'hs-32');

no_shuffle();
run_tests();

__DATA__

=== TEST 1: HS256 with a 32-byte oct key of a JWKS, chosen by kid: 200, the backend gets the identity
--- user_files eval
[["keys.json", $::keys]]
--- config
    location = /t {
        gw_auth_jwt api-hs;
        gw_auth_jwt_key_file ../html/keys.json;
        add_header X-Auth-Status $gw_auth_status always;
        proxy_set_header X-Sub $gw_auth_subject;
        proxy_set_header X-Method $gw_auth_method;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_backend;
    }
    location = /_backend {
        echo "sub=$http_x_sub method=$http_x_method";
    }
--- request
GET /t
--- more_headers eval
::bearer($::hs256)
--- response_body
sub=alice method=jwt
--- response_headers
!WWW-Authenticate
!X-Auth-Status
--- access_log
"GET /_backend HTTP/1.0"
--- no_error_log
gw_auth:
[error]



=== TEST 2: HS384 and HS512 with a 64-byte key; HS256 with the 48-byte key of a single JWK
--- user_files eval
[["keys.json", $::keys], ["k48.jwk", ::oct_jwk($::s48)]]
--- config
    location = /t {
        gw_auth_jwt api-hs;
        gw_auth_jwt_key_file ../html/keys.json;
        gw_auth_jwt_key_file ../html/k48.jwk;
        proxy_set_header X-Sub $gw_auth_subject;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_backend;
    }
    location = /_backend {
        echo "sub=$http_x_sub";
    }
--- request eval
["GET /t", "GET /t", "GET /t", "GET /t"]
--- more_headers eval
[::bearer(::hs('HS384', $::s64, 'hs-64', sub => 'u384')),
 ::bearer(::hs('HS512', $::s64, 'hs-64', sub => 'u512')),
 ::bearer(::hs('HS256', $::s48, undef, sub => 'u48')),
 ::bearer(::hs('HS384', $::s48, undef, sub => 'u48-384'))]
--- response_body eval
["sub=u384\n", "sub=u512\n", "sub=u48\n", "sub=u48-384\n"]
--- hits eval
{ '"GET /_backend ' => [1, 2, 3, 4] }



=== TEST 3: a key shorter than the hash is never used for it: HS384 and HS512 signed with the 32-byte key are refused
--- user_files eval
[["keys.json", $::keys]]
--- config
    location = /t {
        gw_auth_jwt api-hs;
        gw_auth_jwt_key_file ../html/keys.json;
        add_header X-Auth-Status $gw_auth_status always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_backend;
    }
    location = /_backend {
        echo backend;
    }
--- request eval
["GET /t", "GET /t", "GET /t"]
--- more_headers eval
[::bearer(::hs('HS384', $::s32, 'hs-32')),
 ::bearer(::hs('HS512', $::s32, 'hs-32')),
 ::bearer(::hs('HS512', $::s32))]
--- error_code eval
[401, 401, 401]
--- response_headers eval
["X-Auth-Status: no key for alg", "X-Auth-Status: no key for alg",
 "X-Auth-Status: signature mismatch"]
--- no_access_log
"GET /_backend



=== TEST 4: a JWK's own "alg" narrows it: the 64-byte key marked HS256 verifies HS256 only
--- user_files eval
[["keys.json", $::keys]]
--- config
    location = /t {
        gw_auth_jwt api-hs;
        gw_auth_jwt_key_file ../html/keys.json;
        add_header X-Auth-Status $gw_auth_status always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_backend;
    }
    location = /_backend {
        echo backend;
    }
--- request eval
["GET /t", "GET /t"]
--- more_headers eval
[::bearer(::hs('HS256', $::s64, 'hs-64-only-256')),
 ::bearer(::hs('HS512', $::s64, 'hs-64-only-256'))]
--- error_code eval
[200, 401]
--- response_headers eval
["X-Auth-Status: ", "X-Auth-Status: no key for alg"]
--- hits eval
{ '"GET /_backend ' => [1, 1] }



=== TEST 5: a wrong secret: 401 with the RFC 6750 header, the reason in the log at info, the backend not reached
--- user_files eval
[["keys.json", $::keys]]
--- config
    location = /t {
        gw_auth_jwt api-hs;
        gw_auth_jwt_key_file ../html/keys.json;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_backend;
    }
    location = /_backend {
        echo backend;
    }
--- request
GET /t
--- more_headers eval
::bearer(::hs('HS256', $::other, 'hs-32'))
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="api-hs", error="invalid_token"
--- response_body_like: 401 Authorization Required
--- error_log eval
qr/\[info\] .*gw_auth: signature mismatch/
--- no_access_log
"GET /_backend



=== TEST 6: a payload changed after signing (sub alice -> admin, same signature) is refused
--- user_files eval
[["keys.json", $::keys]]
--- config
    location = /t {
        gw_auth_jwt api-hs;
        gw_auth_jwt_key_file ../html/keys.json;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_backend;
    }
    location = /_backend {
        echo backend;
    }
--- request
GET /t
--- more_headers eval
my ($h, $p, $s) = split /\./, $::hs256;
my $forged = ::b64u(::json({ %::claims, sub => 'admin' }));
::bearer("$h.$forged.$s")
--- error_code: 401
--- error_log
gw_auth: signature mismatch
--- no_access_log
"GET /_backend



=== TEST 7: no credentials, Basic credentials, an empty Bearer: 401 with the realm and no error attribute
--- user_files eval
[["keys.json", $::keys]]
--- config
    location = /t {
        gw_auth_jwt "api hs";
        gw_auth_jwt_key_file ../html/keys.json;
        add_header X-Auth-Status $gw_auth_status always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_backend;
    }
    location = /_backend {
        echo backend;
    }
--- request eval
["GET /t", "GET /t", "GET /t"]
--- more_headers eval
["", "Authorization: Basic YWxpY2U6c2VjcmV0", "Authorization: Bearer    "]
--- error_code eval
[401, 401, 401]
--- response_headers eval
[qq{WWW-Authenticate: Bearer realm="api hs"\nX-Auth-Status: no credentials},
 qq{WWW-Authenticate: Bearer realm="api hs"\nX-Auth-Status: no credentials},
 qq{WWW-Authenticate: Bearer realm="api hs"\nX-Auth-Status: no credentials}]
--- error_log
gw_auth: no credentials
--- no_access_log
"GET /_backend



=== TEST 8: the scheme name is case-insensitive and spaces around the token are ignored
--- user_files eval
[["keys.json", $::keys]]
--- config
    location = /t {
        gw_auth_jwt api-hs;
        gw_auth_jwt_key_file ../html/keys.json;
        proxy_set_header X-Sub $gw_auth_subject;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_backend;
    }
    location = /_backend {
        echo "sub=$http_x_sub";
    }
--- request eval
["GET /t", "GET /t"]
--- more_headers eval
["Authorization: bearer $::hs256", "Authorization: BEARER    $::hs256   "]
--- response_body eval
["sub=alice\n", "sub=alice\n"]



=== TEST 9: gw_auth_jwt_algorithms HS512: a correctly signed HS256 token is refused before any key is tried
--- user_files eval
[["keys.json", $::keys]]
--- config
    location = /t {
        gw_auth_jwt api-hs;
        gw_auth_jwt_key_file ../html/keys.json;
        gw_auth_jwt_algorithms HS512;
        add_header X-Auth-Status $gw_auth_status always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_backend;
    }
    location = /_backend {
        echo backend;
    }
--- request eval
["GET /t", "GET /t"]
--- more_headers eval
[::bearer($::hs256), ::bearer(::hs('HS512', $::s64, 'hs-64'))]
--- error_code eval
[401, 200]
--- response_headers eval
["X-Auth-Status: unsupported or disallowed alg", "X-Auth-Status: "]
--- hits eval
{ '"GET /_backend ' => [0, 1] }



=== TEST 10: token=$arg_access_token and token=$cookie_jwt: the token comes from there, Authorization is then ignored
--- user_files eval
[["keys.json", $::keys]]
--- config
    location = /arg {
        gw_auth_jwt api-hs token=$arg_access_token;
        gw_auth_jwt_key_file ../html/keys.json;
        add_header X-Auth-Status $gw_auth_status always;
        echo "sub=$gw_auth_subject";
    }
    location = /cookie {
        gw_auth_jwt api-hs token=$cookie_jwt;
        gw_auth_jwt_key_file ../html/keys.json;
        add_header X-Auth-Status $gw_auth_status always;
        echo "sub=$gw_auth_subject";
    }
--- request eval
["GET /arg?access_token=$::hs256", "GET /arg",
 "GET /cookie", "GET /cookie"]
--- more_headers eval
["", ::bearer($::hs256), "Cookie: a=b; jwt=$::hs256", ::bearer($::hs256)]
--- error_code eval
[200, 401, 200, 401]
--- response_headers eval
["X-Auth-Status: ", "X-Auth-Status: no credentials",
 "X-Auth-Status: ", "X-Auth-Status: no credentials"]
--- response_body_like eval
["sub=alice", "401", "sub=alice", "401"]



=== TEST 11: a single oct JWK without kid verifies tokens with and without a kid; absolute key file path
--- user_files eval
[["one.jwk", ::oct_jwk($::s32)]]
--- config
    location = /t {
        gw_auth_jwt api-hs;
        gw_auth_jwt_key_file $TEST_NGINX_HTML_DIR/one.jwk;
        echo "sub=$gw_auth_subject kid=$gw_jwt_header_kid";
    }
--- request eval
["GET /t", "GET /t"]
--- more_headers eval
[::bearer(::hs('HS256', $::s32)), ::bearer(::hs('HS256', $::s32, 'any-kid'))]
--- response_body eval
["sub=alice kid=\n", "sub=alice kid=any-kid\n"]



=== TEST 12: set on the server, inherited by locations; "gw_auth_jwt off" makes one public, a nested location inherits again
--- user_files eval
[["keys.json", $::keys]]
--- config
    gw_auth_jwt api-srv;
    gw_auth_jwt_key_file ../html/keys.json;

    location /api/ {
        location /api/public/ {
            gw_auth_jwt off;
            echo "public [$gw_auth_subject]";
        }
        echo "api $gw_auth_subject";
    }
--- request eval
["GET /api/x", "GET /api/x", "GET /api/public/x", "GET /api/public/x"]
--- more_headers eval
[::bearer($::hs256), "", "", ::bearer($::hs256)]
--- error_code eval
[200, 401, 200, 200]
--- response_body_like eval
["^api alice\$", "401", "^public \\[\\]\$", "^public \\[\\]\$"]
--- response_headers eval
["", qq{WWW-Authenticate: Bearer realm="api-srv"}, "!WWW-Authenticate",
 "!WWW-Authenticate"]



=== TEST 13: log level info: neither the token nor the secret is logged, for accepted and refused tokens
--- log_level: info
--- user_files eval
[["keys.json", $::keys]]
--- config
    location = /t {
        gw_auth_jwt api-hs;
        gw_auth_jwt_key_file ../html/keys.json;
        echo ok;
    }
--- request eval
["GET /t", "GET /t"]
--- more_headers eval
[::bearer($::hs256), ::bearer(::hs('HS256', $::other, 'hs-32'))]
--- error_code eval
[200, 401]
--- no_error_log eval
[(split /\./, $::hs256)[2], (split /\./, ::hs('HS256', $::other, 'hs-32'))[1],
 ::b64u($::s32), unpack('H*', $::s32)]
