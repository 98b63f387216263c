# gw_auth_cache hits: a JWT found in the cache by a digest of its bytes is
# neither parsed nor verified again, and an introspection answer is not
# parsed again; what the request needs still holds.  The entry ends with
# the token's exp (or max_ttl); a token cached at one location is taken as
# verified only at locations with the same keys, algorithms, leeway,
# issuers and audiences; scope, role and require checks are each
# location's own; the variables hold the token's claims.  That a request
# was a hit is seen in the access log: a JWKS that expired is not fetched
# again for a cached token ("GET /_jwks" lines), an IdP is not asked again
# ("POST /_idp" lines), counted after each response with --- hits.

use Test::Nginx::Socket 'no_plan';
use NginxGw::Auth;

our %s = map { $_ => Crypt::PRNG::random_bytes(32) } qw(k1);

sub token {
    my ($kid, %c) = @_;
    return jwt('HS256', $s{$kid}, { sub => 'alice', exp => time + 3600, %c },
               { kid => $kid });
}

sub tok { 'Authorization: Bearer ' . token(@_) }

# TEST 1's token expires a few seconds after the file is read: the block
# runs first, and waits for that moment between its requests
our $exp = time + 5;

no_shuffle();
run_tests();

__DATA__

=== TEST 1: a cached JWT is never served beyond its exp: cached with exp a few seconds ahead (max_ttl 1h), the same token after exp is refused as expired
--- user_files eval
[["k1.json", ::jwks(::oct_jwk($::s{k1}, kid => 'k1'))]]
--- http_config
    gw_auth_cache zone=auth:1m max_ttl=1h;
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/k1.json;
        add_header X-Auth-Status $gw_auth_status always;
        echo "$gw_auth_subject";
    }
--- request eval
[("GET /t") x 3]
--- more_headers eval
[(::tok('k1', exp => $::exp)) x 3]
--- between eval
[undef, sub { sleep $::exp - time + 1.2 }]
--- error_code eval
[200, 200, 401]
--- response_headers eval
["X-Auth-Status: ", "X-Auth-Status: ", "X-Auth-Status: token expired"]



=== TEST 2: a cached JWT without exp lives max_ttl (3s): within it no JWKS is needed after the JWKS expired, after it the token is verified again
--- user_files eval
[["jwks.json", ::jwks(::oct_jwk($::s{k1}, kid => 'k1'))]]
--- http_config
    gw_auth_cache zone=auth:1m max_ttl=3s;
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_request /jwks;
        gw_auth_jwt_key_cache 1s;
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
[("Authorization: Bearer " . ::jwt('HS256', $::s{k1}, { sub => 'erin' }, { kid => 'k1' })) x 3]
--- between eval
# times are whole seconds: an entry of max_ttl=3s lasts 2 to 3 s, so the
# second request (1.3 s) is always within it, the third (3.8 s) never
[sub { sleep 1.3 }, sub { sleep 2.5 }]
--- response_body eval
[("erin\n") x 3]
--- hits eval
{ '"GET /_jwks ' => [1, 1, 2] }



=== TEST 3: a JWT cached where any audience goes is refused at a location that wants another audience, accepted where its own is wanted
--- user_files eval
[["k1.json", ::jwks(::oct_jwk($::s{k1}, kid => 'k1'))]]
--- http_config
    gw_auth_cache zone=auth:1m;
--- config
    location = /a {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/k1.json;
        add_header X-Auth-Status $gw_auth_status always;
        echo a;
    }
    location = /b {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/k1.json;
        gw_auth_jwt_audience billing-api;
        add_header X-Auth-Status $gw_auth_status always;
        echo b;
    }
    location = /c {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/k1.json;
        gw_auth_jwt_audience orders-api;
        add_header X-Auth-Status $gw_auth_status always;
        echo c;
    }
--- request eval
["GET /a", "GET /a", "GET /b", "GET /c", "GET /c"]
--- more_headers eval
[(::tok('k1', aud => 'orders-api')) x 5]
--- error_code eval
[200, 200, 401, 200, 200]
--- response_headers eval
["X-Auth-Status: ", "X-Auth-Status: ", "X-Auth-Status: audience not allowed",
 "X-Auth-Status: ", "X-Auth-Status: "]



=== TEST 4: a JWT cached under a leeway that covers its nbf is refused where there is no leeway
--- user_files eval
[["k1.json", ::jwks(::oct_jwk($::s{k1}, kid => 'k1'))]]
--- http_config
    gw_auth_cache zone=auth:1m;
--- config
    location = /a {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/k1.json;
        gw_auth_jwt_leeway 10m;
        add_header X-Auth-Status $gw_auth_status always;
        echo a;
    }
    location = /b {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/k1.json;
        add_header X-Auth-Status $gw_auth_status always;
        echo b;
    }
--- request eval
["GET /a", "GET /a", "GET /b"]
--- more_headers eval
[(::tok('k1', nbf => time + 300)) x 3]
--- error_code eval
[200, 200, 401]
--- response_headers eval
["X-Auth-Status: ", "X-Auth-Status: ", "X-Auth-Status: token not yet valid"]



=== TEST 5: claims on a cache hit: cached at /a, which uses none, then at /v (the JWKS expired, so no verification is possible) every variable is what the token holds
--- user_files eval
[["jwks.json", ::jwks(::oct_jwk($::s{k1}, kid => 'k1'))]]
--- http_config
    gw_auth_cache zone=auth:1m;
    gw_auth_jwt_claim_set $tenant_id org id;
--- config
    location = /a {
        gw_auth_jwt api;
        gw_auth_jwt_key_request /jwks;
        gw_auth_jwt_key_cache 1s;
        echo a;
    }
    location = /v {
        gw_auth_jwt api;
        gw_auth_jwt_key_request /jwks;
        gw_auth_jwt_key_cache 1s;
        echo "$gw_auth_method $gw_auth_subject $gw_auth_consumer [$gw_auth_scope]";
        echo "$gw_jwt_claim_email $gw_jwt_claim_groups $gw_jwt_claim_org $tenant_id";
        echo "$gw_jwt_header_alg $gw_jwt_header_kid $gw_jwt_header_typ [$gw_jwt_claim_absent]";
    }
    location = /jwks {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_jwks;
    }
    location = /_jwks {
        alias $TEST_NGINX_HTML_DIR/jwks.json;
    }
--- request eval
["GET /a", "GET /v", "GET /v"]
--- more_headers eval
[("Authorization: Bearer " . ::jwt('HS256', $::s{k1},
     { sub => 'carol', exp => time + 3600, scope => 'read write',
       email => 'carol@example.com', groups => ['dev', 'ops'],
       org => { id => 7 } },
     { kid => 'k1', typ => 'at+jwt' })) x 3]
--- between eval
[sub { sleep 2.2 }]
--- response_body eval
["a\n",
 ("jwt carol carol [read write]\n"
  . "carol\@example.com dev ops {\"id\":7} 7\n"
  . "HS256 k1 at+jwt []\n") x 2]
--- hits eval
{ '"GET /_jwks ' => [1, 1, 1] }



=== TEST 6: scope, role and require checks on a cache hit: each location's own, from the cached token
--- user_files eval
[["k1.json", ::jwks(::oct_jwk($::s{k1}, kid => 'k1'))]]
--- http_config
    gw_auth_cache zone=auth:1m;
--- config
    gw_auth_jwt api;
    gw_auth_jwt_key_file ../html/k1.json;
    add_header X-Auth-Status $gw_auth_status always;

    location = /a {
        echo a;
    }
    location = /read {
        gw_auth_require_scope read;
        echo read;
    }
    location = /write {
        gw_auth_require_scope write;
        echo write;
    }
    location = /editor {
        gw_auth_require_role editor;
        echo editor;
    }
    location = /admin {
        gw_auth_require_role admin;
        echo admin;
    }
    location = /tenant {
        gw_auth_jwt_require $gw_jwt_claim_tenant error=403;
        echo tenant;
    }
    location = /billing {
        gw_auth_jwt_require $gw_jwt_claim_billing error=403;
        echo billing;
    }
--- request eval
["GET /a", "GET /read", "GET /write", "GET /editor", "GET /admin",
 "GET /tenant", "GET /billing"]
--- more_headers eval
[(::tok('k1', scope => 'read', roles => ['viewer', 'editor'],
        tenant => 'acme')) x 7]
--- error_code eval
[200, 200, 403, 200, 403, 200, 403]
--- response_headers eval
["X-Auth-Status: ", "X-Auth-Status: ", "X-Auth-Status: insufficient scope",
 "X-Auth-Status: ", "X-Auth-Status: no required role", "X-Auth-Status: ",
 "X-Auth-Status: requirement not met"]



=== TEST 7: claims of a cached introspection answer: the subject falls back to username, the fields and roles are the IdP's (one IdP request)
--- http_config
    gw_auth_cache zone=auth:1m;
--- config
    location = /t {
        gw_auth_introspect /_introspect;
        gw_auth_require_role support;
        echo "$gw_auth_subject [$gw_auth_scope] $gw_jwt_claim_client_id $gw_jwt_claim_roles";
    }
    location = /_introspect {
        internal;
        proxy_method POST;
        proxy_set_body "token=$gw_auth_token";
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/_idp;
    }
    location = /_idp {
        return 200 '{"active":true,"username":"dave","client_id":"app-7","scope":["read","write"],"roles":["support"]}';
    }
--- request eval
[("GET /t") x 3]
--- more_headers eval
[("Authorization: Bearer tok-dave") x 3]
--- response_body eval
[("dave [read write] app-7 support\n") x 3]
--- hits eval
{ '"POST /_idp ' => [1, 1, 1] }



=== TEST 8: a cached subject with a control character is still never a variable's value
--- user_files eval
[["k1.json", ::jwks(::oct_jwk($::s{k1}, kid => 'k1'))]]
--- http_config
    gw_auth_cache zone=auth:1m;
--- config
    location = /t {
        gw_auth_jwt api;
        gw_auth_jwt_key_file ../html/k1.json;
        echo "[$gw_auth_subject]";
    }
--- request eval
[("GET /t") x 2]
--- more_headers eval
[(::tok('k1', sub => "eve\nX-Admin: 1")) x 2]
--- response_body eval
[("[]\n") x 2]
