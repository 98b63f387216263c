# gw_auth_require_scope (every listed scope needed; "scope" as OAuth's
# space-separated string or "scp" as an array) and gw_auth_require_role (any
# one of the listed roles; from gw_auth_roles_claim, default "roles", a
# dotted path such as Keycloak's realm_access.roles, or from the API key
# file).  A failure is 403 with error="insufficient_scope" (and scope="..."
# for scopes), its reason at info, and the backend is not reached.

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
        "token=tok-rw"  '{"active":true,"sub":"svc","scope":"orders:read orders:write"}';
        "token=tok-r"   '{"active":true,"sub":"svc","scope":"orders:read"}';
        default         '{"active":false}';
    }
_EOC_

no_shuffle();
run_tests();

__DATA__

=== TEST 1: gw_auth_require_scope read write: a token with both (and more) passes, one with "read" only gets 403 with the needed scopes
--- user_files eval
[["jwks.json", $::keys]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/jwks.json;
        gw_auth_require_scope read write;
        add_header X-Auth-Status $gw_auth_status always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_backend;
    }
    location = /_backend {
        echo backend;
    }
--- request eval
[("GET /t") x 3]
--- more_headers eval
[::tok(scope => 'admin write read'), ::tok(scope => 'read'),
 ::tok(scope => 'write')]
--- error_code eval
[200, 403, 403]
--- response_headers eval
["X-Auth-Status: ",
 qq{X-Auth-Status: insufficient scope\nWWW-Authenticate: Bearer realm="api", error="insufficient_scope", scope="read write"},
 qq{X-Auth-Status: insufficient scope\nWWW-Authenticate: Bearer realm="api", error="insufficient_scope", scope="read write"}]
--- hits eval
{ '"GET /_backend ' => [1, 1, 1] }



=== TEST 2: one scope per line, several lines: all of them are needed
--- user_files eval
[["jwks.json", $::keys]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/jwks.json;
        gw_auth_require_scope read;
        gw_auth_require_scope write;
        add_header X-Auth-Status $gw_auth_status always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_backend;
    }
    location = /_backend {
        echo backend;
    }
--- request eval
[("GET /t") x 2]
--- more_headers eval
[::tok(scope => 'write read'), ::tok(scope => 'read')]
--- error_code eval
[200, 403]
--- response_headers eval
["X-Auth-Status: ",
 qq{X-Auth-Status: insufficient scope\nWWW-Authenticate: Bearer realm="api", error="insufficient_scope", scope="read write"}]
--- hits eval
{ '"GET /_backend ' => [1, 1] }



=== TEST 3: scopes are whole words: "readwrite", "read:all", "xread" and a missing claim do not give "read"; "scp" as an array does
--- user_files eval
[["jwks.json", $::keys]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/jwks.json;
        gw_auth_require_scope read;
        add_header X-Auth-Status $gw_auth_status always;
        echo "[$gw_auth_scope]";
    }
--- request eval
[("GET /t") x 6]
--- more_headers eval
[::tok(scope => 'readwrite'), ::tok(scope => 'read:all'),
 ::tok(scope => 'xread write'), ::tok(),
 ::tok(scp => ['write', 'read']), ::tok(scope => 'Read')]
--- error_code eval
[403, 403, 403, 403, 200, 403]
--- response_body_like eval
["403", "403", "403", "403", "^\\[write read\\]\$", "403"]
--- response_headers eval
[("X-Auth-Status: insufficient scope") x 4, "X-Auth-Status: ",
 "X-Auth-Status: insufficient scope"]



=== TEST 4: gw_auth_require_role admin editor: any one of them passes (default claim "roles", an array)
--- user_files eval
[["jwks.json", $::keys]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/jwks.json;
        gw_auth_require_role admin editor;
        add_header X-Auth-Status $gw_auth_status always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_backend;
    }
    location = /_backend {
        echo backend;
    }
--- request eval
[("GET /t") x 4]
--- more_headers eval
[::tok(roles => ['viewer', 'admin']), ::tok(roles => ['editor']),
 ::tok(roles => ['viewer']), ::tok()]
--- error_code eval
[200, 200, 403, 403]
--- response_headers eval
["X-Auth-Status: ", "X-Auth-Status: ",
 qq{X-Auth-Status: no required role\nWWW-Authenticate: Bearer realm="api", error="insufficient_scope"},
 "X-Auth-Status: no required role"]
--- hits eval
{ '"GET /_backend ' => [1, 2, 2, 2] }



=== TEST 5: one role per line, several lines: any of them passes
--- user_files eval
[["jwks.json", $::keys]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/jwks.json;
        gw_auth_require_role admin;
        gw_auth_require_role editor;
        echo ok;
    }
--- request eval
[("GET /t") x 3]
--- more_headers eval
[::tok(roles => ['admin']), ::tok(roles => ['editor']), ::tok(roles => ['viewer'])]
--- error_code eval
[200, 200, 403]



=== TEST 6: roles as a space-separated string; exact and case-sensitive matches; non-string members ignored
--- user_files eval
[["jwks.json", $::keys]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/jwks.json;
        gw_auth_require_role admin;
        echo ok;
    }
--- request eval
[("GET /t") x 5]
--- more_headers eval
[::tok(roles => 'viewer admin'), ::tok(roles => 'administrator'),
 ::tok(roles => ['Admin']), ::tok(roles => [['admin'], { admin => 1 }]),
 ::tok(roles => [1, 'admin'])]
--- error_code eval
[200, 403, 403, 403, 200]



=== TEST 7: gw_auth_roles_claim realm_access.roles (Keycloak): the nested path is used, a top-level "roles" is not
--- user_files eval
[["jwks.json", $::keys]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/jwks.json;
        gw_auth_roles_claim realm_access.roles;
        gw_auth_require_role admin;
        add_header X-Auth-Status $gw_auth_status always;
        echo ok;
    }
--- request eval
[("GET /t") x 3]
--- more_headers eval
[::tok(realm_access => { roles => ['offline_access', 'admin'] }),
 ::tok(roles => ['admin'], realm_access => { roles => ['user'] }),
 ::tok(realm_access => 'admin')]
--- error_code eval
[200, 403, 403]
--- response_headers eval
["X-Auth-Status: ", "X-Auth-Status: no required role",
 "X-Auth-Status: no required role"]



=== TEST 8: gw_auth_roles_claim with a claim named like a URL (dots in the name, Auth0 style)
--- user_files eval
[["jwks.json", $::keys]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/jwks.json;
        gw_auth_roles_claim https://example.com/roles;
        gw_auth_require_role admin;
        echo ok;
    }
--- request eval
[("GET /t") x 2]
--- more_headers eval
[::tok('https://example.com/roles' => ['admin']),
 ::tok('https://example.com/roles' => ['user'])]
--- error_code eval
[200, 403]



=== TEST 9: scope and role together: the scope is checked first, both must hold
--- user_files eval
[["jwks.json", $::keys]]
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/jwks.json;
        gw_auth_require_scope orders;
        gw_auth_require_role admin;
        add_header X-Auth-Status $gw_auth_status always;
        echo ok;
    }
--- request eval
[("GET /t") x 3]
--- more_headers eval
[::tok(scope => 'orders', roles => ['admin']), ::tok(scope => 'orders'),
 ::tok(roles => ['admin'])]
--- error_code eval
[200, 403, 403]
--- response_headers eval
["X-Auth-Status: ", "X-Auth-Status: no required role",
 "X-Auth-Status: insufficient scope"]



=== TEST 10: introspection: the IdP's "scope" serves gw_auth_require_scope
--- http_config eval
$::idp
--- config
    location = /t {
        gw_auth_introspect /_introspect;
        gw_auth_require_scope orders:write;
        add_header X-Auth-Status $gw_auth_status always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_backend;
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
    location = /_backend {
        echo backend;
    }
--- request eval
[("GET /t") x 2]
--- more_headers eval
["Authorization: Bearer tok-rw", "Authorization: Bearer tok-r"]
--- error_code eval
[200, 403]
--- response_headers eval
["X-Auth-Status: ",
 qq{X-Auth-Status: insufficient scope\nWWW-Authenticate: Bearer realm="api", error="insufficient_scope", scope="orders:write"}]
--- hits eval
{ '"GET /_backend ' => [1, 1] }



=== TEST 11: an API key has roles but no scope: gw_auth_require_scope refuses it with 403
--- user_files eval
[["api-keys", ::api_key_line('key-one', 'acme', 'admin')]]
--- config
    location = /t {
        gw_auth_api_key ../html/api-keys;
        gw_auth_require_scope read;
        add_header X-Auth-Status $gw_auth_status always;
        echo ok;
    }
--- request
GET /t
--- more_headers
X-API-Key: key-one
--- error_code: 403
--- response_headers
X-Auth-Status: insufficient scope
WWW-Authenticate: Bearer realm="api", error="insufficient_scope", scope="read"
