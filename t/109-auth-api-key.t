# gw_auth_api_key: keys presented in a header (default X-API-Key) or a query
# argument, looked up by their SHA-256 in a file of "<sha256 hex> <consumer>
# [role,role]" lines; the consumer becomes $gw_auth_consumer, the roles serve
# gw_auth_require_role.  Keys are random for each run; the key file holds
# only their digests.  A refused request must not reach /_backend.

use Test::Nginx::Socket 'no_plan';
use NginxGw::Auth;

our %key = map { $_ => 'key-' . rand_hex(16) } qw(acme globex initech hooli);

our $keyfile = "# consumers of the API\n"
    . api_key_line($key{acme}, 'acme', 'admin,ops')
    . "\n"
    . "   # indented comment\n"
    . api_key_line($key{globex}, 'globex', 'ops')
    . "\t" . api_key_line($key{initech}, 'initech')
    . (api_key_line($key{hooli}, 'hooli', 'reader') =~ s/\n/\r\n/r);

our $secret = Crypt::PRNG::random_bytes(32);
our $jwt = jwt('HS256', $secret, { sub => 'jwt-user', exp => time + 3600 },
               { kid => 'k' });

sub bearer { 'Authorization: Bearer ' . $_[0] }

no_shuffle();
run_tests();

__DATA__

=== TEST 1: a good key in X-API-Key: 200, the consumer and the method reach the backend
--- user_files eval
[["api-keys", $::keyfile]]
--- config
    location = /t {
        gw_auth_api_key ../html/api-keys;
        add_header X-Auth-Status $gw_auth_status always;
        proxy_set_header X-Consumer $gw_auth_consumer;
        proxy_set_header X-Method $gw_auth_method;
        proxy_set_header X-Subject $gw_auth_subject;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_backend;
    }
    location = /_backend {
        echo "consumer=$http_x_consumer method=$http_x_method subject=[$http_x_subject]";
    }
--- request
GET /t
--- more_headers eval
"X-API-Key: $::key{acme}"
--- response_body
consumer=acme method=api_key subject=[]
--- response_headers
!X-Auth-Status
--- access_log
"GET /_backend HTTP/1.0"



=== TEST 2: an unknown key: 401 with realm "api" and no error attribute (no bearer token), "unknown API key" at info, the backend not reached
--- user_files eval
[["api-keys", $::keyfile]]
--- config
    location = /t {
        gw_auth_api_key ../html/api-keys;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_backend;
    }
    location = /_backend {
        echo backend;
    }
--- request
GET /t
--- more_headers eval
"X-API-Key: $::key{acme}x"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="api"
--- error_log eval
qr/\[info\] .*gw_auth: unknown API key/
--- no_access_log
"GET /_backend



=== TEST 3: every line form of the file: comments, blank lines, a leading tab, no roles, CRLF; the header name in any case
--- user_files eval
[["api-keys", $::keyfile]]
--- config
    location = /t {
        gw_auth_api_key ../html/api-keys;
        echo "$gw_auth_consumer";
    }
--- request eval
[("GET /t") x 4]
--- more_headers eval
["X-API-Key: $::key{globex}", "x-api-key: $::key{initech}",
 "X-Api-Key: $::key{hooli}", "X-API-KEY: $::key{acme}"]
--- response_body eval
["globex\n", "initech\n", "hooli\n", "acme\n"]



=== TEST 4: no key, an empty key, a key of 1025 bytes: 401 with their reasons
--- user_files eval
[["api-keys", $::keyfile]]
--- config
    location = /t {
        gw_auth_api_key ../html/api-keys;
        add_header X-Auth-Status $gw_auth_status always;
        echo ok;
    }
--- request eval
[("GET /t") x 3]
--- more_headers eval
["", "X-API-Key: ", "X-API-Key: " . ('k' x 1025)]
--- error_code eval
[401, 401, 401]
--- response_headers eval
["X-Auth-Status: no credentials", "X-Auth-Status: no credentials",
 "X-Auth-Status: API key too long"]



=== TEST 5: header=X-Client-Key: only that header is read
--- user_files eval
[["api-keys", $::keyfile]]
--- config
    location = /t {
        gw_auth_api_key ../html/api-keys header=X-Client-Key;
        add_header X-Auth-Status $gw_auth_status always;
        echo "$gw_auth_consumer";
    }
--- request eval
[("GET /t") x 2]
--- more_headers eval
["X-Client-Key: $::key{globex}", "X-API-Key: $::key{globex}"]
--- error_code eval
[200, 401]
--- response_headers eval
["X-Auth-Status: ", "X-Auth-Status: no credentials"]



=== TEST 6: arg=api_key: the key from the query string; the header, when present, comes first
--- user_files eval
[["api-keys", $::keyfile]]
--- config
    location = /t {
        gw_auth_api_key ../html/api-keys arg=api_key;
        add_header X-Auth-Status $gw_auth_status always;
        echo "$gw_auth_consumer";
    }
--- request eval
["GET /t?x=1&api_key=$::key{initech}", "GET /t?api_key=nope",
 "GET /t?api_key=$::key{initech}", "GET /t?apikey=$::key{initech}"]
--- more_headers eval
["", "", "X-API-Key: $::key{globex}", ""]
--- error_code eval
[200, 401, 200, 401]
--- response_body_like eval
["^initech\$", "401", "^globex\$", "401"]
--- response_headers eval
["X-Auth-Status: ", "X-Auth-Status: unknown API key", "X-Auth-Status: ",
 "X-Auth-Status: no credentials"]



=== TEST 7: API key with JWT: a bad key and a good JWT pass by JWT; a good key passes with a bad bearer token; both bad: 401 invalid_token
--- user_files eval
[["api-keys", $::keyfile], ["jwks.json", ::jwks(::oct_jwk($::secret, kid => 'k'))]]
--- config
    location = /t {
        gw_auth_api_key ../html/api-keys;
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/jwks.json;
        add_header X-Auth-Status $gw_auth_status always;
        echo "$gw_auth_method $gw_auth_consumer";
    }
--- request eval
[("GET /t") x 3]
--- more_headers eval
["X-API-Key: bad\n" . ::bearer($::jwt),
 "X-API-Key: $::key{acme}\n" . ::bearer('not-a-jwt'),
 "X-API-Key: bad\n" . ::bearer('not-a-jwt')]
--- error_code eval
[200, 200, 401]
--- response_body_like eval
["^jwt jwt-user\$", "^api_key acme\$", "401"]
--- response_headers eval
["", "", qq{WWW-Authenticate: Bearer realm="api", error="invalid_token"}]



=== TEST 8: roles from the key file serve gw_auth_require_role: "admin,ops" and "ops" pass for ops, no roles never
--- user_files eval
[["api-keys", $::keyfile]]
--- config
    location = /ops {
        gw_auth_api_key ../html/api-keys;
        gw_auth_require_role ops;
        add_header X-Auth-Status $gw_auth_status always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_backend;
    }
    location = /_backend {
        echo "$http_host";
    }
--- request eval
[("GET /ops") x 4]
--- more_headers eval
["X-API-Key: $::key{acme}", "X-API-Key: $::key{globex}",
 "X-API-Key: $::key{initech}", "X-API-Key: $::key{hooli}"]
--- error_code eval
[200, 200, 403, 403]
--- response_headers eval
["X-Auth-Status: ", "X-Auth-Status: ",
 qq{X-Auth-Status: no required role\nWWW-Authenticate: Bearer realm="api", error="insufficient_scope"},
 "X-Auth-Status: no required role"]
--- hits eval
{ '"GET /_backend ' => [1, 2, 2, 2] }



=== TEST 9: gw_auth_api_key off in a nested location; inherited elsewhere
--- user_files eval
[["api-keys", $::keyfile]]
--- config
    gw_auth_api_key ../html/api-keys;

    location /api/ {
        location /api/health {
            gw_auth_api_key off;
            echo "health [$gw_auth_consumer]";
        }
        echo "api $gw_auth_consumer";
    }
--- request eval
["GET /api/x", "GET /api/x", "GET /api/health"]
--- more_headers eval
["X-API-Key: $::key{hooli}", "", ""]
--- error_code eval
[200, 401, 200]
--- response_body_like eval
["^api hooli\$", "401", "^health \\[\\]\$"]



=== TEST 10: log level info: neither the key nor its digest is logged, for good and bad keys
--- log_level: info
--- user_files eval
[["api-keys", $::keyfile]]
--- config
    location = /t {
        gw_auth_api_key ../html/api-keys;
        echo ok;
    }
--- request eval
[("GET /t") x 2]
--- more_headers eval
["X-API-Key: $::key{acme}", "X-API-Key: $::key{acme}-wrong"]
--- error_code eval
[200, 401]
--- no_error_log eval
[$::key{acme}, Digest::SHA::sha256_hex($::key{acme})]
